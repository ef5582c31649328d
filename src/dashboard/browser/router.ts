/**
 * The console's views live in the address's fragment, so every view is a link an operator can send:
 * `#/connections/c_…`, `#/channels/news`, `#/incidents/inc_…` (an incident's permalink).
 * @packageDocumentation
 */

/** The views, in the order of the navigation. */
export const VIEWS = ['overview', 'connections', 'channels', 'incidents', 'restart', 'reference'] as const;

/** One of {@link VIEWS}. */
export type ViewName = (typeof VIEWS)[number];

/** Where the fragment points: a view and, for some, one item of it. */
export interface Route {
  readonly view: ViewName;
  /** A connection id, channel name or incident id. */
  readonly item?: string;
}

/** Read a fragment such as `#/channels/news` (anything unknown is the overview). */
export function parseRoute(hash: string): Route {
  const [, view, ...rest] = hash.replace(/^#/, '').split('/');
  const name = (VIEWS as readonly string[]).includes(view ?? '') ? (view as ViewName) : 'overview';
  let item: string | undefined;
  if (rest.length > 0 && rest.join('/') !== '') {
    try {
      item = decodeURIComponent(rest.join('/'));
    } catch {
      item = undefined;
    }
  }
  return item === undefined ? { view: name } : { view: name, item };
}

/** The fragment of a route. */
export function routeHash(route: Route): string {
  return `#/${route.view}${route.item === undefined ? '' : `/${encodeURIComponent(route.item)}`}`;
}
