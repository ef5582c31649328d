/**
 * The operator console's routes, next to the dashboard's own (see `routes.ts`):
 *
 * | route | what |
 * |---|---|
 * | `GET /_lifeline/api/connections` | open connections of this process, filtered and paged |
 * | `GET /_lifeline/api/connection?id=` | one connection: user, channels, buffered bytes, age |
 * | `GET /_lifeline/api/channels` | channels with subscribers here, filtered and paged |
 * | `GET /_lifeline/api/channel?name=` | one channel: subscribers, presence, recent history (paged) |
 * | `GET /_lifeline/api/incidents` | stored incidents, searched (`q`) or one by `id`, paged |
 * | `GET /_lifeline/api/series?window=` | connections, messages and closes over a window |
 * | `POST /admin/disconnect` | close one connection with a chosen code |
 * | `POST /admin/publish` | publish to a channel (never `$lifeline.*`) |
 * | `POST /admin/logout` | delete the admin cookie |
 *
 * Every read needs the admin credential (401 otherwise; 403 when the dashboard is off); every POST
 * also needs the `x-lifeline-admin: 1` header and this server's origin. Bad input is a 4xx with
 * `{error, message}`; a store failure is a 503; nothing a request carries can throw out of here.
 * @packageDocumentation
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { API_PREFIX } from '../console-api.js';
import { refuseAdminPost, type DashboardAccess } from './access.js';
import { channelDetail, listChannels, publishFromConsole } from './console/channels.js';
import { disconnect, inspectConnection, listConnections, OpenOrder } from './console/connections.js';
import type { ConsoleContext } from './console/context.js';
import { searchIncidents } from './console/incidents.js';
import { buildSeries } from './console/series.js';
import { ConsoleRequestError, parseUrl, readJsonObject, sendJson, sendRefusal } from './http.js';

/** Admin POST paths of the console. */
export const CONSOLE_POSTS = ['/admin/disconnect', '/admin/publish', '/admin/logout'] as const;

/** Largest body of a console POST other than a publish (whose limit is the server's `maxPayload`). */
const SMALL_BODY = 4096;

type Read = (ctx: ConsoleContext, url: URL) => unknown;

/** Create the console's route: returns true when it answered. `off` answers a dashboard that is turned off. */
export function createConsoleRoute(ctx: ConsoleContext, access: DashboardAccess, off: (res: ServerResponse) => void): (req: IncomingMessage, res: ServerResponse) => boolean {
  const order = new OpenOrder();
  for (const c of ctx.server.connections) order.add(c);
  ctx.server.on('connection', (c) => order.add(c));

  const reads: Readonly<Record<string, Read>> = {
    connections: (c, url) => listConnections(c, order, url),
    connection: inspectConnection,
    channels: listChannels,
    channel: channelDetail,
    incidents: searchIncidents,
    series: buildSeries,
  };

  const fail = (res: ServerResponse, error: unknown): void => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (error instanceof ConsoleRequestError) return sendRefusal(res, error);
    // Not the request's fault: the store (or something under it) failed. Logged, never detailed to the page.
    ctx.logger.warn({ err: error }, 'dashboard console request failed');
    sendJson(res, 503, { error: 'unavailable', message: 'the store did not answer; retry shortly' }, { 'retry-after': '1' });
  };

  const answer = (res: ServerResponse, status: number, work: () => unknown): void => {
    Promise.resolve()
      .then(work)
      .then((body) => sendJson(res, status, body))
      .catch((error: unknown) => fail(res, error));
  };

  const post = (req: IncomingMessage, res: ServerResponse, path: string): void => {
    const refusal = refuseAdminPost(req, access);
    if (refusal) return sendJson(res, refusal.status, { error: refusal.error, message: refusal.message });
    const remote = req.socket.remoteAddress;
    if (path === '/admin/logout') {
      res.writeHead(204, { 'set-cookie': access.logoutCookie(req), 'cache-control': 'no-store' });
      res.end();
      return;
    }
    if (path === '/admin/disconnect') return answer(res, 200, async () => disconnect(ctx, await readJsonObject(req, SMALL_BODY), remote));
    // The publish body holds the message: the same limit as a client's frame.
    answer(res, 200, async () => publishFromConsole(ctx, await readJsonObject(req, ctx.server.settings.maxPayload), remote));
  };

  return (req, res) => {
    const url = parseUrl(req);
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (path.startsWith(API_PREFIX)) {
      const read = reads[path.slice(API_PREFIX.length)];
      if (access.mode === 'off') off(res);
      else if (method !== 'GET' && method !== 'HEAD') sendJson(res, 405, { error: 'method_not_allowed', message: 'use GET' }, { allow: 'GET, HEAD' });
      else if (!access.isAdmin(req.headers)) sendJson(res, 401, { error: 'unauthorized', message: 'the admin token is required' });
      else if (!read || !Object.hasOwn(reads, path.slice(API_PREFIX.length))) sendJson(res, 404, { error: 'not_found', message: `no console API ${path}` });
      else answer(res, 200, () => read(ctx, url));
      return true;
    }
    if ((CONSOLE_POSTS as readonly string[]).includes(path)) {
      if (access.mode === 'off') off(res);
      else if (method !== 'POST') sendJson(res, 405, { error: 'method_not_allowed', message: 'use POST' }, { allow: 'POST' });
      else post(req, res, path);
      return true;
    }
    return false;
  };
}
