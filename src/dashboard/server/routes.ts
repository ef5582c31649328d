/**
 * The dashboard's HTTP routes on a `lifeline serve` server:
 *
 * | route | who |
 * |---|---|
 * | `GET /` | the dashboard page (admin); `GET /?token=…` exchanges the token for a cookie and redirects to `/` |
 * | `GET /demo` | the client demo page (`--demo` only) |
 * | `GET /_lifeline/*.js, *.css` | static files built by `scripts/build-browser.mjs` (no data in them) |
 * | `GET /_lifeline/info` | `{demo, access, statsChannel, demoChannel}` (admin) |
 * | `POST /admin/restart` | a planned restart: SIGHUP to this process, the same reload-and-cycle path (admin, CSRF-checked) |
 * | `POST /admin/crash` | `--demo` only: one non-dashboard connection's handler throws: 1011 with an incident (admin, CSRF-checked) |
 * | `/_lifeline/api/*`, `POST /admin/{disconnect,publish,logout}` | the operator console (`console-routes.ts`) |
 *
 * Without an admin token and without `--demo`, every one of them answers 403 and says how to turn it on.
 * @packageDocumentation
 */
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Connection, Incident, LifelineServer } from '../../server/index.js';
import { ASSET_PREFIX, DEMO_CHANNEL, STATS_CHANNEL, type DashboardInfo } from '../snapshot.js';
import { refuseAdminPost, type DashboardAccess } from './access.js';
import type { DashboardHooks } from './hooks.js';
import { createConsoleRoute } from './console-routes.js';
import { sourceName } from './feed.js';
import { parseUrl, readSmallBody, sendJson } from './http.js';

/** Where the built files are. */
export interface AssetDirs {
  /** `dist/dashboard/`: index.html, demo.html, app.js, demo.js, app.css. */
  readonly dashboard: URL;
  /** `dist/browser/`: lifeline-client.js. */
  readonly browser: URL;
}

/** Defaults relative to this module's compiled location (`dist/dashboard/server/routes.js`). */
export const DEFAULT_ASSET_DIRS: AssetDirs = {
  dashboard: new URL('../', import.meta.url),
  browser: new URL('../../browser/', import.meta.url),
};

/** Options of {@link createDashboardRoute}. */
export interface RouteOptions {
  readonly server: LifelineServer;
  readonly logger: Logger;
  readonly access: DashboardAccess;
  readonly hooks: DashboardHooks;
  readonly demo: boolean;
  readonly assets?: AssetDirs;
  /** Start the planned restart. @default SIGHUP to this process (to the primary, in a cluster worker) */
  readonly requestRestart?: () => void;
  /** How long `POST /admin/crash` waits for the incident id, ms. @default 2000 */
  readonly crashWaitMs?: number;
  /** `host:pid` of this process, named in the console's per-process answers. @default {@link sourceName} */
  readonly source?: string;
}

interface Asset {
  readonly dir: keyof AssetDirs;
  readonly file: string;
  readonly type: string;
}

const STATIC: Readonly<Record<string, Asset>> = {
  'app.js': { dir: 'dashboard', file: 'app.js', type: 'text/javascript; charset=utf-8' },
  'app.js.map': { dir: 'dashboard', file: 'app.js.map', type: 'application/json; charset=utf-8' },
  'demo.js': { dir: 'dashboard', file: 'demo.js', type: 'text/javascript; charset=utf-8' },
  'demo.js.map': { dir: 'dashboard', file: 'demo.js.map', type: 'application/json; charset=utf-8' },
  'app.css': { dir: 'dashboard', file: 'app.css', type: 'text/css; charset=utf-8' },
  'lifeline-client.js': { dir: 'browser', file: 'lifeline-client.js', type: 'text/javascript; charset=utf-8' },
  'lifeline-client.js.map': { dir: 'browser', file: 'lifeline-client.js.map', type: 'application/json; charset=utf-8' },
};

const PAGES: Readonly<Record<string, Asset>> = {
  dashboard: { dir: 'dashboard', file: 'index.html', type: 'text/html; charset=utf-8' },
  demo: { dir: 'dashboard', file: 'demo.html', type: 'text/html; charset=utf-8' },
};

/**
 * Scripts and styles from this origin only, no inline code, WebSockets to this origin (`'self'` covers
 * ws:/wss: of the same host), never framed.
 */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const PAGE_HEADERS = {
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A small page for refusals: the message is all it shows. */
function sendPage(res: ServerResponse, status: number, title: string, paragraphs: string[], form = false): void {
  const body = [
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">',
    `<title>${escapeHtml(title)} · lifeline</title><link rel="stylesheet" href="${ASSET_PREFIX}app.css"></head>`,
    `<body class="notice"><main><h1>${escapeHtml(title)}</h1>`,
    ...paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`),
    form
      ? '<form method="get" action="/"><label>Admin token <input type="password" name="token" autocomplete="current-password" required></label> <button type="submit">Open the dashboard</button></form>'
      : '',
    '</main></body></html>',
  ].join('');
  res.writeHead(status, { ...PAGE_HEADERS, 'content-type': 'text/html; charset=utf-8' });
  res.end(body);
}

function defaultRestart(): void {
  // In a cluster worker the primary owns SIGHUP: it restarts the workers one at a time.
  process.kill(cluster.isWorker ? process.ppid : process.pid, 'SIGHUP');
}

/** Create the route to pass to `server.addRoute`. */
export function createDashboardRoute(options: RouteOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const { server, logger, access, hooks, demo } = options;
  const dirs = options.assets ?? DEFAULT_ASSET_DIRS;
  const requestRestart = options.requestRestart ?? defaultRestart;
  const crashWaitMs = options.crashWaitMs ?? 2000;
  const cache = new Map<string, Buffer>();
  const source = options.source ?? sourceName();

  const load = (asset: Asset): Buffer | undefined => {
    const key = `${asset.dir}/${asset.file}`;
    const hit = cache.get(key);
    if (hit) return hit;
    try {
      const data = readFileSync(new URL(asset.file, dirs[asset.dir]));
      cache.set(key, data);
      return data;
    } catch {
      return undefined;
    }
  };

  const serveAsset = (req: IncomingMessage, res: ServerResponse, asset: Asset, headers: Record<string, string>): void => {
    const data = load(asset);
    if (!data) {
      sendPage(res, 503, 'Dashboard not built', [`${asset.file} is missing: build the browser files with npm run build (scripts/build-browser.mjs).`]);
      return;
    }
    res.writeHead(200, { 'content-type': asset.type, 'content-length': String(data.byteLength), 'x-content-type-options': 'nosniff', 'cache-control': 'no-cache', ...headers });
    res.end(req.method === 'HEAD' ? undefined : data);
  };

  const off = (res: ServerResponse): void => {
    sendPage(res, 403, 'Dashboard off', [
      'The dashboard needs an admin token: start lifeline serve with --admin-token <token> (or LIFELINE_ADMIN_TOKEN), then open /?token=<token>.',
      'With --demo it is open to everyone.',
    ]);
  };

  const unauthorized = (res: ServerResponse, wrong: boolean): void => {
    sendPage(
      res,
      401,
      wrong ? 'Wrong admin token' : 'Admin token required',
      [wrong ? 'That is not the admin token of this server.' : 'This dashboard is for operators. Open /?token=<admin token> (set with --admin-token or LIFELINE_ADMIN_TOKEN).'],
      true,
    );
  };

  const dashboardPage = (req: IncomingMessage, res: ServerResponse, url: URL): void => {
    if (access.mode === 'off') return off(res);
    const token = url.searchParams.get('token');
    if (token !== null) {
      // The token leaves the address bar at once: a redirect, with the cookie, to the bare page.
      if (access.mode === 'open') {
        res.writeHead(303, { location: '/', 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' });
        res.end();
        return;
      }
      if (!access.tokenMatches(token)) {
        logger.warn({ remote: req.socket.remoteAddress }, 'dashboard: wrong admin token');
        return unauthorized(res, true);
      }
      res.writeHead(303, { location: '/', 'set-cookie': access.loginCookie(req), 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' });
      res.end();
      return;
    }
    if (!access.isAdmin(req.headers)) return unauthorized(res, false);
    serveAsset(req, res, PAGES.dashboard!, PAGE_HEADERS);
  };

  const info = (req: IncomingMessage, res: ServerResponse): void => {
    if (!access.isAdmin(req.headers)) return sendJson(res, 401, { error: 'unauthorized', message: 'the admin token is required' });
    const body: DashboardInfo = { demo, access: access.mode === 'open' ? 'open' : 'token', statsChannel: STATS_CHANNEL, demoChannel: DEMO_CHANNEL, source };
    sendJson(res, 200, body);
  };

  const restart = (req: IncomingMessage, res: ServerResponse): void => {
    const refusal = refuseAdminPost(req, access);
    if (refusal) return sendJson(res, refusal.status, { error: refusal.error, message: refusal.message });
    if (server.state !== 'running') return sendJson(res, 409, { error: 'busy', message: `the server is ${server.state}`, state: server.state });
    logger.info({ remote: req.socket.remoteAddress, connections: server.connections.size }, 'planned restart requested from the dashboard');
    sendJson(res, 202, { accepted: true, signal: 'SIGHUP', connections: server.connections.size });
    // After the answer is on its way: the restart cycles this very page's WebSocket too.
    setImmediate(requestRestart);
  };

  const crash = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const refusal = refuseAdminPost(req, access);
    if (refusal) return sendJson(res, refusal.status, { error: refusal.error, message: refusal.message });
    const text = await readSmallBody(req, 1024);
    let wanted: string | undefined;
    if (text === undefined) return sendJson(res, 413, { error: 'too_large', message: 'body over 1 KiB' });
    if (text.trim() !== '') {
      try {
        const parsed = JSON.parse(text) as { connection?: unknown };
        if (typeof parsed.connection === 'string') wanted = parsed.connection;
      } catch {
        return sendJson(res, 400, { error: 'bad_json', message: 'body is not valid JSON' });
      }
    }
    const candidates = [...server.connections].filter((c) => c.state === 'open' && !hooks.isDashboardConnection(c));
    const target: Connection | undefined = wanted !== undefined ? candidates.find((c) => c.id === wanted) : candidates[Math.floor(Math.random() * candidates.length)];
    if (!target) {
      return sendJson(res, 409, { error: 'no_connection', message: wanted !== undefined ? `no open demo connection ${wanted}` : 'no open connection to crash (dashboard connections are never picked)' });
    }
    const incident = new Promise<Incident | undefined>((resolve) => {
      const timer = setTimeout(() => {
        off();
        resolve(undefined);
      }, crashWaitMs);
      timer.unref();
      const off = server.on('incident', (i) => {
        if (i.connection !== target.id) return;
        clearTimeout(timer);
        off();
        resolve(i);
      });
    });
    logger.info({ connection: target.id, remote: req.socket.remoteAddress }, 'demo crash requested from the dashboard');
    server.run(target, () => {
      throw new Error('crash requested from the dashboard');
    });
    const happened = await incident;
    if (!happened) return sendJson(res, 409, { error: 'not_crashed', message: 'the connection closed before its handler ran', connection: target.id });
    sendJson(res, 200, { connection: target.id, incident: happened.id });
  };

  const consoleRoute = createConsoleRoute({ server, hooks, logger, source }, access, off);

  return (req, res) => {
    if (consoleRoute(req, res)) return true;
    const url = parseUrl(req);
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const read = method === 'GET' || method === 'HEAD';
    if (path === '/') {
      if (!read) return false;
      dashboardPage(req, res, url);
      return true;
    }
    if (path === '/demo') {
      if (!read) return false;
      if (!demo) sendPage(res, 404, 'No demo here', ['The client demo page exists only in lifeline serve --demo.']);
      else serveAsset(req, res, PAGES.demo!, PAGE_HEADERS);
      return true;
    }
    if (path.startsWith(ASSET_PREFIX)) {
      const name = path.slice(ASSET_PREFIX.length);
      if (!read) sendJson(res, 405, { error: 'method_not_allowed', message: 'use GET' }, { allow: 'GET, HEAD' });
      else if (access.mode === 'off') off(res);
      else if (name === 'info') info(req, res);
      else if (Object.hasOwn(STATIC, name)) serveAsset(req, res, STATIC[name]!, {});
      else sendJson(res, 404, { error: 'not_found', message: `no dashboard file ${name}` });
      return true;
    }
    if (path === '/admin/restart' || path === '/admin/crash') {
      if (access.mode === 'off') off(res);
      else if (method !== 'POST') sendJson(res, 405, { error: 'method_not_allowed', message: 'use POST' }, { allow: 'POST' });
      else if (path === '/admin/restart') restart(req, res);
      else if (!demo) sendJson(res, 404, { error: 'not_found', message: 'the crash button exists only in lifeline serve --demo' });
      else {
        crash(req, res).catch((error: unknown) => {
          logger.error({ err: error }, 'dashboard: crash request failed');
          if (!res.headersSent) sendJson(res, 500, { error: 'internal', message: 'crash request failed' });
        });
      }
      return true;
    }
    return false;
  };
}
