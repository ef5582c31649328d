/**
 * The dashboard's hold on the server's admission and channel hooks, so that `$lifeline.*` channels
 * are read only by admin connections and written by nobody but the server itself.
 *
 * The hooks wrap whatever the server already has (the application's own `authenticate`,
 * `authorizeSubscribe`, `authorizePublish`): the dashboard only decides for its reserved channels and
 * for the admin identity, and defers to the previous hook for everything else. They are installed with
 * the public `server.reconfigure()`, and put back whenever a configuration reload replaced one of them.
 * @packageDocumentation
 */
import type { Authenticate, ChannelAuthorizer, Connection, LifelineServer } from '../../server/index.js';
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
  /** Re-install any hook a reload replaced; cheap when nothing changed. */
  ensure(): void;
  /** Stop tracking (the hooks stay: they only ever narrow access). */
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

  const wrapAuthenticate = (previous: Authenticate | undefined): Authenticate => {
    const hook: Authenticate = (info) => {
      // The browser sends the HttpOnly cookie with the page's WebSocket handshake: that is the admin credential,
      // but only from the dashboard's own origin: a page on another port of the same host gets the SameSite cookie too.
      if (access.mode === 'token' && !isCrossOrigin(info.headers) && access.isAdmin(info.headers)) return ADMIN_USER;
      if (!previous) return true;
      // Nobody else may take the admin identity, whatever the application's own hook returns.
      return Promise.resolve(previous(info)).then((result) => (result === ADMIN_USER ? { reject: 403 as const } : result));
    };
    mine.add(hook);
    return hook;
  };

  const wrapSubscribe = (previous: ChannelAuthorizer | undefined): ChannelAuthorizer => {
    const hook: ChannelAuthorizer = (connection, channel) => {
      if (!isReserved(channel)) return previous ? previous(connection, channel) : true;
      const allowed = access.mode === 'open' || (access.mode === 'token' && connection.user === ADMIN_USER);
      if (allowed) track(connection);
      return allowed;
    };
    mine.add(hook);
    return hook;
  };

  const wrapPublish = (previous: ChannelAuthorizer | undefined): ChannelAuthorizer => {
    // Nobody publishes on the server's own channels: a spoofed snapshot would lie to operators.
    const hook: ChannelAuthorizer = (connection, channel) => (isReserved(channel) ? false : previous ? previous(connection, channel) : false);
    mine.add(hook);
    return hook;
  };

  // The server core keeps `$lifeline.*` unreadable unless this says otherwise, and unwritable by clients always.
  const reserved = wrapSubscribe(undefined);

  const ensure = (): void => {
    const s = server.settings;
    const patch: { authenticate?: Authenticate; authorizeSubscribe?: ChannelAuthorizer; authorizePublish?: ChannelAuthorizer; authorizeReserved?: ChannelAuthorizer } = {};
    if (!(s.authorizeReserved && mine.has(s.authorizeReserved))) patch.authorizeReserved = reserved;
    // Only token mode needs an identity; without it, admission stays exactly as the application set it.
    if (access.mode === 'token' && !(s.authenticate && mine.has(s.authenticate))) patch.authenticate = wrapAuthenticate(s.authenticate);
    if (!(s.authorizeSubscribe && mine.has(s.authorizeSubscribe))) patch.authorizeSubscribe = wrapSubscribe(s.authorizeSubscribe);
    if (!(s.authorizePublish && mine.has(s.authorizePublish))) patch.authorizePublish = wrapPublish(s.authorizePublish);
    if (Object.keys(patch).length > 0) server.reconfigure(patch);
  };

  ensure();
  // A SIGHUP reload reconfigures, then restarts: by the time the state says so, re-wrap what it replaced.
  const offState = server.on('state', () => ensure());

  return {
    isDashboardConnection: (connection) => dashboards.has(connection) || looksLikeDashboard(connection),
    counts: () => ({ open: live.size, opened, closesByCode }),
    ensure,
    dispose: () => {
      offState();
      offConnection();
      offClose();
    },
  };
}
