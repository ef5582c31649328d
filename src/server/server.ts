/**
 * The Node server: the transport-free core (`core/`) with Node's HTTP server and `ws` around it. It
 * listens or attaches to an `http.Server`, hands upgrades to the `ws` adapter (which takes them through
 * the core's admission), serves the HTTP routes (`/healthz`, `/readyz`, `POST /publish`, routes added
 * with `addRoute`), and watches the listener for running out of file descriptors.
 * @packageDocumentation
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { requireOptional } from '../optional-dependency.js';
import { createWsAdapter, type WsAdapter } from './adapters/ws.js';
import { retryAfterSeconds } from './core/admission.js';
import { resolveServerOptions, type ServerOptions } from './core/options.js';
import { ServerCore } from './core/server-core.js';
import { watchDescriptors } from './node/fd-watch.js';
import { HandoverTracker } from './node/handover.js';
import { pathOf, sendJson } from './node/http.js';
import { handlePublishRequest } from './node/publish-route.js';

/** Options of {@link LifelineServer.attach}. */
export interface AttachOptions {
  /**
   * Take only the upgrades to this path (`/live`; the query does not count) and leave every other
   * upgrade to the server's other `upgrade` listeners, such as graphql-ws or Vite's HMR. The dashboard's
   * own connection uses `/`. @default every upgrade
   */
  path?: string;
}

/**
 * A listening socket the process already holds, by file descriptor: one inherited from a service
 * manager (systemd socket activation passes it as fd 3), or from a supervising process.
 */
export interface InheritedSocket {
  /** The file descriptor of a socket already bound and listening. */
  readonly fd: number;
}

/**
 * How often Node looks for connections past `headersTimeout`/`requestTimeout`: a timeout is enforced up
 * to this much late. Node's default (30 s) would turn a 10 s headers timeout into 40; a quarter of the
 * shortest timeout, at most a second, keeps it close for a cost of one walk over the connections still
 * sending a request.
 */
function checkingIntervalOf(headersTimeoutMs: number, requestTimeoutMs: number): number {
  const shortest = Math.min(...[headersTimeoutMs, requestTimeoutMs].filter((ms) => ms > 0), Infinity);
  return Math.max(10, Math.min(1000, Math.floor(shortest / 4)));
}

/** Least time between two log lines about failed accepts. */
const ACCEPT_ERROR_LOG_MS = 10_000;

/**
 * A lifeline WebSocket server on Node's HTTP server and `ws`. Create it with {@link createServer}.
 *
 * It *is* a {@link ServerCore} (publish, restart, shutdown, events, stats, the operator views) with the
 * Node plumbing added, so tools written against the core (metrics, the dashboard) take either.
 */
export class LifelineServer extends ServerCore {
  readonly #adapter: WsAdapter;
  #httpServer: HttpServer | undefined;
  #ownsHttpServer = false;
  readonly #routes: ((req: IncomingMessage, res: ServerResponse) => boolean)[] = [];
  #lastAcceptErrorLog = 0;
  #stopFdWatch: (() => void) | undefined;
  /** Stopped listening for a drain: answers close their HTTP connection, so keep-alive clients move on. */
  #handingOver = false;
  /** The connections of the HTTP server `listen()` created, for a hand-over that drops none. */
  #handover: HandoverTracker | undefined;

  /** @param options - see {@link ServerOptions} */
  constructor(options: ServerOptions = {}) {
    // In this order, before anything starts: a bad option, then a missing pino, then a missing ws.
    const resolved = resolveServerOptions(options);
    const logger = options.logger ?? requireOptional<typeof import('pino')>('pino', 'createServer (its default logger; or pass the logger option)').default({ level: 'info' });
    const adapter = createWsAdapter({ maxPayload: resolved.maxPayload, maxFragments: resolved.maxFragments, subprotocols: resolved.subprotocols });
    super({ ...options, logger });
    this.#adapter = adapter;
    this.addSource({
      stopListening: () => {
        this.#handingOver = true;
        // A client with a kept-alive HTTP connection (a publisher, a health checker) would go on talking
        // to this draining process: the idle ones are ended now, and every answer from now on says
        // `Connection: close`, so the busy ones close after their answer. A connection accepted in the last
        // instant, its request not read yet, is served, not reset (see handover.ts). No sweep of idle
        // connections after that: a sweep can take a connection for idle while a request is on its way in
        // (not read yet) and reset it under the client; each closing happens once, here or after an answer.
        if (this.#handover) this.#handover.stopListening();
        else this.#httpServer?.close();
      },
      close: () => this.#closeNode(),
    });
  }

  /**
   * Add an HTTP route (metrics, a dashboard, ...) to {@link handleRequest}, and so to the server
   * `listen()` creates. Routes are tried in the order added, after the built-in ones; a route returns
   * true when it answered the request.
   */
  addRoute(route: (req: IncomingMessage, res: ServerResponse) => boolean): void {
    this.#routes.push(route);
  }

  /**
   * Change settings at run time (see {@link ServerCore.reconfigure}); new `headersTimeoutMs` and
   * `requestTimeoutMs` apply to the HTTP server `listen()` created from now on.
   */
  override reconfigure(options: Partial<ServerOptions>): void {
    super.reconfigure(options);
    const server = this.#httpServer;
    if (!this.#ownsHttpServer || !server) return;
    server.headersTimeout = this.settings.headersTimeoutMs;
    server.requestTimeout = this.settings.requestTimeoutMs;
  }

  /**
   * Create an HTTP server with the health routes, attach to it and listen. Resolves with the bound address.
   * @param port - a TCP port (0 picks a free one), or a socket the process inherited ({@link InheritedSocket}:
   *   systemd socket activation), on which `host` plays no part
   */
  async listen(port: number | InheritedSocket = 0, host = '127.0.0.1'): Promise<{ port: number; host: string }> {
    const { headersTimeoutMs, requestTimeoutMs } = this.settings;
    const server = createHttpServer(
      {
        // Node's defaults (60 s for headers, 300 s for a request) let a client that trickles bytes hold a
        // socket for minutes; past these the client gets 408 and the connection is closed. They stop
        // counting once a request is received: upgraded WebSockets and slow store answers are not cut.
        headersTimeout: headersTimeoutMs,
        requestTimeout: requestTimeoutMs,
        connectionsCheckingInterval: checkingIntervalOf(headersTimeoutMs, requestTimeoutMs),
      },
      (req, res) => {
        if (!this.handleRequest(req, res)) sendJson(res, 404, { error: 'not found' });
      },
    );
    this.#ownsHttpServer = true;
    this.#handover = new HandoverTracker(server);
    this.attach(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      const done = () => {
        server.off('error', reject);
        resolve();
      };
      if (typeof port === 'number') server.listen(port, host, done);
      else server.listen({ fd: port.fd }, done);
    });
    // Out of file descriptors, `accept` fails and Node reports it here: without a listener the process
    // would die; with one, new clients wait in the backlog until descriptors return. Logged, rate-limited.
    server.on('error', (error: NodeJS.ErrnoException) => this.#acceptFailed(error));
    // Most EMFILE drops never reach that listener (libuv closes the waiting connections itself): look.
    this.#stopFdWatch = watchDescriptors({
      connections: () => this.connections.size + this.counters.admitting,
      exhausted: (open, limit) => this.#acceptFailed(Object.assign(new Error(`${open} of ${limit} file descriptors in use`), { code: 'EMFILE' })),
    });
    const address = server.address() as AddressInfo;
    return { port: address.port, host: address.address };
  }

  #acceptFailed(error: NodeJS.ErrnoException): void {
    this.counters.acceptErrors += 1;
    const now = Date.now();
    if (now - this.#lastAcceptErrorLog < ACCEPT_ERROR_LOG_MS) return;
    this.#lastAcceptErrorLog = now;
    const hint = error.code === 'EMFILE' || error.code === 'ENFILE' ? 'out of file descriptors: raise the limit (ulimit -n) or lower maxConnections' : 'accept failed';
    this.logger.error({ code: error.code, err: error, count: this.counters.acceptErrors }, `listening socket: ${hint}`);
  }

  /**
   * Handle WebSocket upgrades of an existing `http.Server` (all of them, or those to `options.path`).
   * Its HTTP routes are served by {@link handleRequest}, which the application calls from its own
   * request handler or framework.
   */
  attach(server: HttpServer, options: AttachOptions = {}): void {
    if (this.#httpServer) throw new Error('already attached to an HTTP server');
    this.#httpServer = server;
    const { path } = options;
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      // Someone else's endpoint: not ours to answer, refuse or destroy.
      if (path !== undefined && pathOf(req) !== path) return;
      this.handleUpgrade(req, socket, head);
    });
  }

  /**
   * Serve lifeline's HTTP routes: `GET /healthz` (200 while the process is alive), `GET /readyz` (200
   * when accepting connections, 503 while draining), `POST /publish`, then every route added with
   * {@link addRoute} (metrics, the dashboard). Returns false for any other request, so the caller can
   * route it: `(req, res, next) => server.handleRequest(req, res) || next()` in Express or Connect.
   * Paths are read from `req.url`, so a framework that strips a mount prefix mounts these under it.
   */
  handleRequest(req: IncomingMessage, res: ServerResponse): boolean {
    if (this.#handingOver) res.shouldKeepAlive = false;
    if (this.#handleBuiltInRequest(req, res)) return true;
    for (const route of this.#routes) if (route(req, res)) return true;
    return false;
  }

  #handleBuiltInRequest(req: IncomingMessage, res: ServerResponse): boolean {
    const path = pathOf(req);
    if (path === '/publish' && req.method === 'POST') {
      void handlePublishRequest(req, res, {
        key: this.settings.publishKey,
        maxBytes: this.settings.maxPayload,
        publish: (channel, data, key) => this.publish(channel, data, key === undefined ? {} : { idempotencyKey: key }),
        onStoreError: (error) => this.storeFailed('append', error),
        onOutcomeUnknown: () => {
          this.counters.protocol.outcomeUnknown += 1;
        },
      });
      return true;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    if (path === '/healthz') {
      sendJson(res, 200, { status: 'alive', state: this.state });
      return true;
    }
    if (path === '/readyz') {
      if (this.ready) sendJson(res, 200, { status: 'ready', state: this.state });
      else {
        const status = this.store.available === false ? 'store-unavailable' : 'draining';
        sendJson(res, 503, { status, state: this.state }, { 'retry-after': retryAfterSeconds(this.settings.retryHint) });
      }
      return true;
    }
    return false;
  }

  /** Accept or refuse one upgrade request (the `ws` adapter takes it through the core's admission). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.#adapter.upgrade(req, socket, head, this);
  }

  /** After the drain: stop watching descriptors, stop `ws`, and close the HTTP server `listen()` created. */
  async #closeNode(): Promise<void> {
    // Handed over: connections accepted just before the listener closed get their answer first.
    if (this.#handingOver) await this.#handover?.settle();
    this.#stopFdWatch?.();
    this.#adapter.close();
    const server = this.#httpServer;
    if (!this.#ownsHttpServer || !server) return;
    await new Promise<void>((resolve) => {
      if (!server.listening) resolve();
      else server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}

/** Create a lifeline server. Call `listen()` or `attach()` on it next. */
export function createServer(options: ServerOptions = {}): LifelineServer {
  return new LifelineServer(options);
}
