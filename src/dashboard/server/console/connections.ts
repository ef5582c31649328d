/**
 * The connections view: list (filtered, paged), inspect one, and disconnect one with a chosen code.
 *
 * A page scans the open connections of this process in the order they opened and keeps at most
 * `limit` rows (100 at most), so the answer stays small with 100k connections; the scan itself is a
 * walk over the in-memory set, and a connection's channels are only read when a filter or a row needs
 * them.
 * @packageDocumentation
 */
import { isSendableCode } from '../../../codes/index.js';
import { truncateUtf8 } from '../../../protocol/index.js';
import type { Connection } from '../../../server/index.js';
import {
  DEFAULT_PAGE,
  MAX_CONNECTIONS_PAGE,
  MAX_QUERY_CHARS,
  MAX_REASON_INPUT_CHARS,
  ROW_CHANNELS,
  type ConnectionDetail,
  type ConnectionRow,
  type ConnectionsPage,
  type DisconnectResult,
} from '../../console-api.js';
import { ConsoleRequestError, intParam, textParam } from '../http.js';
import { contains, type ConsoleContext } from './context.js';

/** The reason sent when the operator gives none. */
export const DEFAULT_DISCONNECT_REASON = 'closed by an operator';

/** Numbers connections in the order they open: the cursor of the list's pages. */
export class OpenOrder {
  readonly #seq = new WeakMap<Connection, number>();
  #next = 1;

  /** Number `connection` (call for each as it opens). */
  add(connection: Connection): void {
    if (!this.#seq.has(connection)) this.#seq.set(connection, this.#next++);
  }

  /** Its number (one opened before the console was mounted gets the next number now). */
  of(connection: Connection): number {
    let seq = this.#seq.get(connection);
    if (seq === undefined) this.#seq.set(connection, (seq = this.#next++));
    return seq;
  }
}

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

function rowOf(ctx: ConsoleContext, c: Connection, channels: readonly string[], now: number): ConnectionRow {
  return {
    id: c.id,
    user: c.user ?? null,
    remote: c.info.remoteAddress,
    path: pathOf(c.info.url),
    protocol: c.protocol,
    session: ctx.server.sessionOf(c) ?? null,
    channels: channels.slice(0, ROW_CHANNELS),
    channelCount: channels.length,
    bufferedBytes: c.bufferedAmount,
    openedAt: c.openedAt,
    ageMs: Math.max(0, now - c.openedAt),
    state: c.state,
    dashboard: ctx.hooks.isDashboardConnection(c),
  };
}

function matches(ctx: ConsoleContext, c: Connection, needle: string): boolean {
  if (needle === '') return true;
  if (contains(c.id, needle) || contains(c.user, needle) || contains(c.info.remoteAddress, needle) || contains(pathOf(c.info.url), needle) || contains(c.protocol, needle)) return true;
  if (contains(ctx.server.sessionOf(c), needle)) return true;
  return ctx.server.channelsOf(c).some((ch) => contains(ch, needle));
}

/**
 * `GET /_lifeline/api/connections?q=&limit=&after=&dashboards=0`: `q` matches id, user, address, path,
 * protocol, session and channels; `dashboards=0` leaves the dashboards' own out; `after` is the `next`
 * of the previous page.
 * @throws ConsoleRequestError 400 for a bad parameter
 */
export function listConnections(ctx: ConsoleContext, order: OpenOrder, url: URL): ConnectionsPage {
  const needle = textParam(url, 'q', MAX_QUERY_CHARS).trim().toLowerCase();
  const limit = intParam(url, 'limit', DEFAULT_PAGE, 1, MAX_CONNECTIONS_PAGE);
  const after = intParam(url, 'after', 0, 0, Number.MAX_SAFE_INTEGER);
  const hideDashboards = url.searchParams.get('dashboards') === '0';
  const now = Date.now();
  const rows: ConnectionRow[] = [];
  let matched = 0;
  let more = false;
  let lastSeq = 0;
  for (const c of ctx.server.connections) {
    if (hideDashboards && ctx.hooks.isDashboardConnection(c)) continue;
    if (!matches(ctx, c, needle)) continue;
    matched += 1;
    if (order.of(c) <= after) continue;
    if (rows.length < limit) {
      rows.push(rowOf(ctx, c, ctx.server.channelsOf(c), now));
      lastSeq = order.of(c);
    } else more = true;
  }
  return { total: ctx.server.connections.size, matched, rows, next: more ? String(lastSeq) : null, source: ctx.source };
}

function find(ctx: ConsoleContext, id: string): Connection {
  for (const c of ctx.server.connections) if (c.id === id) return c;
  throw new ConsoleRequestError(404, 'no_connection', `no open connection ${id} on this process (${ctx.source}); connections are listed per process`);
}

/**
 * `GET /_lifeline/api/connection?id=`: one connection with every channel and a few request facts.
 * @throws ConsoleRequestError 400 without an id, 404 when it is not open here
 */
export function inspectConnection(ctx: ConsoleContext, url: URL): ConnectionDetail {
  const id = textParam(url, 'id', 100);
  if (id === '') throw new ConsoleRequestError(400, 'bad_parameter', 'id is required');
  const c = find(ctx, id);
  const header = (name: string): string | null => {
    const v = c.info.headers[name];
    return typeof v === 'string' ? v.slice(0, 300) : null;
  };
  const q = c.info.url.indexOf('?');
  const queryKeys = q === -1 ? [] : [...new Set(new URLSearchParams(c.info.url.slice(q + 1)).keys())].slice(0, 50);
  const channels = ctx.server.channelsOf(c);
  return { ...rowOf(ctx, c, channels, Date.now()), channels, origin: header('origin'), userAgent: header('user-agent'), queryKeys };
}

/**
 * `POST /admin/disconnect` with `{connection, code, reason?}`: close one connection of this process with
 * a code a server may send (1000-1003, 1007-1014, 3000-4999) and the reason cut to 123 bytes of UTF-8.
 * @throws ConsoleRequestError 400 for a bad body or code, 404 for an unknown connection, 409 when it is already closing
 */
export function disconnect(ctx: ConsoleContext, body: Record<string, unknown>, remote: string | undefined): DisconnectResult {
  const { connection, code, reason } = body;
  if (typeof connection !== 'string' || connection === '' || connection.length > 100) throw new ConsoleRequestError(400, 'bad_request', 'connection must be a connection id');
  if (typeof code !== 'number' || !Number.isInteger(code)) throw new ConsoleRequestError(400, 'bad_code', 'code must be an integer close code');
  if (!isSendableCode(code)) throw new ConsoleRequestError(400, 'bad_code', `${code} is not a code a server may send (1000-1003, 1007-1014, 3000-4999)`);
  if (reason !== undefined && typeof reason !== 'string') throw new ConsoleRequestError(400, 'bad_reason', 'reason must be a string');
  if (typeof reason === 'string' && reason.length > MAX_REASON_INPUT_CHARS) throw new ConsoleRequestError(400, 'bad_reason', `reason is longer than ${MAX_REASON_INPUT_CHARS} characters`);
  const target = find(ctx, connection);
  if (target.state !== 'open') throw new ConsoleRequestError(409, 'not_open', `connection ${connection} is already ${target.state}`);
  const wanted = reason === undefined || reason.trim() === '' ? DEFAULT_DISCONNECT_REASON : reason;
  const sent = truncateUtf8(wanted);
  ctx.logger.info({ connection, code, reason: sent, remote }, 'connection closed from the dashboard');
  target.close(code, sent);
  return { connection, code, reason: sent, truncated: sent !== wanted };
}
