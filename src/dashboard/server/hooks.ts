/**
 * The dashboard's hold on the server's admission and channel hooks, so that `$lifeline.*` channels
 * are read only by admin connections and written by nobody but the server itself.
 *
 * The hooks are one extension (`server.use`): they run before the application's own `authenticate`,
 * `authorizePublish` and `authorizeReserved`, decide only for the dashboard's reserved channels and the
 * admin identity, and hand everything else on with `next()`. A configuration reload replaces the
 * application's hooks and leaves these alone, so nothing has to be put back.
 * @packageDocumentation
 */
import type { Connection, LifelineServer } from '../../server/index.js';
import { DASHBOARD_MARK, RESERVED_PREFIX } from '../snapshot.js';
import { ADMIN_USER, isCrossOrigin, type DashboardAccess } from './access.js';

/** The dashboards' own connections, counted apart so the live counts do not include them. */
export interface DashboardCounts {
  /** Dashboard connections open now. */
  readonly open: number;
  /** Dashboard connections opened since the hooks were installed. */
  readonly opened: number;
  /** Their closes by code. */
  readonly closesByCode: ReadonlyMap<number, number>;
}

/** Installed hooks, and which connections belong to dashboards. */
export interface DashboardHooks {
  /**
   * Whether `connection` is a dashboard page's own: a marked URL, the admin identity, or it subscribed to
   * a `$lifeline.*` channel. Only counts and the crash button's choice depend on this; the console
   * lists every connection, these included, so a client cannot hide by adding the mark.
   */
  isDashboardConnection(connection: Connection): boolean;
  /** See {@link DashboardCounts}. */
  counts(): DashboardCounts;
  /** Remove the hooks and stop tracking. */
  dispose(): void;
}

const isReserved = (channel: string): boolean => channel.startsWith(RESERVED_PREFIX);

/** Whether a connection says it is a dashboard as it opens: the URL mark, or the admin identity. */
function looksLikeDashboard(connection: Connection): boolean {
  return connection.user === ADMIN_USER || hasDashboardMark(connection.info.url);
}

/** Whether the upgrade URL carries the dashboard mark (`?lifeline-dashboard=1`). */
export function hasDashboardMark(url: string): boolean {
  const q = url.indexOf('?');
  return q !== -1 && new URLSearchParams(url.slice(q + 1)).has(DASHBOARD_MARK);
}

/** Wrap the server's hooks for the dashboard. */
export function installHooks(server: LifelineServer, access: DashboardAccess): DashboardHooks {
  const mine = new WeakSet<object>();
  const dashboards = new WeakSet<Connection>();
  const live = new Set<Connection>();
  const closesByCode = new Map<number, number>();
  let opened = 0;
  const track = (connection: Connection): void => {
    dashboards.add(connection);
    if (connection.state !== 'open' || live.has(connection)) return;
    live.add(connection);
    opened += 1;
  };
  const offConnection = server.on('connection', (connection) => {
    if (looksLikeDashboard(connection)) track(connection);
  });
  const offClose = server.on('close', ({ connection, code }) => {
    if (live.delete(connection)) closesByCode.set(code, (closesByCode.get(code) ?? 0) + 1);
  });

  // One extension, added once: its hooks run before the application's (read live, so a configuration
  // reload replaces the application's hooks and leaves these in place).
  const remove = server.use({
    name: 'lifeline-dashboard',
    // Only token mode needs an identity; without it, admission stays exactly as the application set it.
    ...(access.mode === 'token'
      ? {
          authenticate: async (info, _credentials, next) => {
            // The browser sends the HttpOnly cookie with the page's WebSocket handshake: that is the admin credential,
            // but only from the dashboard's own origin: a page on another port of the same host gets the SameSite cookie too.
            if (!isCrossOrigin(info.headers) && access.isAdmin(info.headers)) return ADMIN_USER;
            // Nobody else may take the admin identity, whatever the application's own hook returns.
            const result = await next();
            return result === ADMIN_USER ? { reject: 403 as const } : result;
          },
        }
      : {}),
    // Nobody publishes on the server's own channels: a spoofed snapshot would lie to operators. (The core
    // refuses them too; this keeps the rule where the channels are defined.)
    authorizePublish: (connection, channel, next) => (isReserved(channel) ? false : next()),
    // The server core keeps `$lifeline.*` unreadable unless this says otherwise, and unwritable by clients always.
    authorizeReserved: (connection, channel, next) => {
      if (!isReserved(channel)) return next();
      const allowed = access.mode === 'open' || (access.mode === 'token' && connection.user === ADMIN_USER);
      if (allowed) track(connection);
      return allowed;
    },
  });

  return {
    isDashboardConnection: (connection) => dashboards.has(connection) || looksLikeDashboard(connection),
    counts: () => ({ open: live.size, opened, closesByCode }),
    dispose: () => {
      remove();
      offConnection();
      offClose();
    },
  };
}
