/**
 * The few DOM helpers the pages need: build elements (HTML and SVG) without innerHTML, so nothing
 * received over the wire is ever parsed as markup.
 * @packageDocumentation
 */

/** What may go inside an element: nodes, text, or nothing. */
export type Child = Node | string | number | null | undefined | false;

/** Attribute values: `true` sets an empty attribute, `false`/`undefined` leaves it out. */
export type Attrs = Readonly<Record<string, string | number | boolean | undefined>>;

function apply(el: Element, attrs: Attrs | undefined, children: readonly Child[]): void {
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === false) continue;
    el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === 'object' ? child : String(child));
  }
}

/** An HTML element. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  apply(el, attrs, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An SVG element. */
export function s<K extends keyof SVGElementTagNameMap>(tag: K, attrs?: Attrs, ...children: Child[]): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  apply(el, attrs, children);
  return el;
}

/** The element with this id; throws when the page lacks it (a build mistake, not a runtime condition). */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
}

/** Replace an element's content. */
export function fill(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  apply(el, undefined, children);
}

/** `12:03:04` in the viewer's time zone, from ms since the epoch. */
export function clockTime(ms: number): string {
  const d = new Date(ms);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/** The WebSocket URL of this page's server, with an optional query. */
export function sameOriginWsUrl(query = ''): string {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${location.host}/${query === '' ? '' : `?${query}`}`;
}
