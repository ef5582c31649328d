/**
 * The server core: accepts sockets from an adapter, runs handlers inside the error boundary,
 * drains with 1012 on planned restarts, and keeps peers honest with heartbeats.
 * @packageDocumentation
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { requireOptional } from '../optional-dependency.js';
import { decodeClientFrame, SUBPROTOCOL, type Json } from '../protocol/index.js';
import { createMemoryStore } from '../store/memory.js';
import type { AppendOptions, AppendResult, Store } from '../store/types.js';
import { ByteBudget } from './byte-budget.js';
import { Emitter } from '../util/emitter.js';
import { createWsAdapter, type WsAdapter } from './adapters/ws.js';
import { Connection, type ClosedBy, type OutputMeter } from './connection.js';
import { drainOffsets } from './drain-schedule.js';
import { watchDescriptors } from './fd-watch.js';
import { CloseError, HandlerFailure } from './errors.js';
import { pathOf, refuseUpgrade, sendJson } from './http.js';
import { newConnectionId, newIncidentId } from './ids.js';
import { resolveServerOptions, type ResolvedServerOptions, type ServerOptions, type ShutdownCode } from './options.js';
import type { TransportEvents, TransportSocket, UpgradeInfo } from './transport.js';
import { admissionOf } from './credentials.js';
import { ProtocolSession, type ProtocolContext, type ProtocolCount } from './protocol-session.js';
import { SessionHolders, TAKEOVER_CHANNEL } from './takeover.js';
import { handlePublishRequest } from './publish-http.js';
import { ChannelHub } from './subscription.js';
import { TokenBucket } from './token-bucket.js';

/** Lifecycle of a server. `restarting`: cycling connections with 1012 while still accepting new ones. */
export type ServerState = 'running' | 'restarting' | 'draining' | 'stopped';

/** A handler failure, as recorded for operators. The client only ever sees `id`. */
export interface Incident {
  /** Incident id, also in the 1011 close reason and the log entry. */
  readonly id: string;
  /** When it happened, ms since the epoch. */
  readonly at: number;
  /** The connection it closed. */
  readonly connection: string;
  /** Which handler threw. */
  readonly handler: 'connection' | 'message' | 'close';
  /** First line of the error, for operators' eyes only. */
  readonly summary: string;
}

/** Counters since the server started. */
export interface ServerStats {
  /** Connections currently open. */
  open: number;
  /** Connections accepted in total. */
  opened: number;
  /** Closes by code. */
  closesByCode: Record<number, number>;
  /** Closes by which side started them. */
  closesBy: Record<ClosedBy, number>;
  /** Handler failures (each closed a connection with 1011). */
  incidents: number;
  /** Peers terminated for not answering heartbeats. */
  deadPeers: number;
  /** Protocol errors by the close code they caused (1002, 1007, 1009). */
  protocolErrors: Record<number, number>;
  /** Upgrades refused with 503 while draining. */
  refusedUpgrades: number;
  /** Drains started (restarts and shutdowns). */
  drains: number;
  /** Messages received. */
  messagesIn: number;
  /** Messages sent. */
  messagesOut: number;
  /** Channel messages sent from history (replays and catch-ups). */
  replayed: number;
  /** `lifeline.v1` hellos answered: new sessions, resumed ones, and resumes that could not recover everything. */
  sessions: { created: number; resumed: number; notRecovered: number };
  /** Peers closed (1013) for not reading their output. */
  slowConsumers: number;
  /** Connections closed (1008) for sending faster than `rateLimit`. */
  rateLimited: number;
  /** Channel messages published (appended to the store) by this process. */
  published: number;
  /** Store operations that failed, by operation. */
  storeErrors: Record<string, number>;
  /** Messages a handler or the server tried to send that could not go out, by why (`closing`, `slow-consumer`). */
  unsent: Record<string, number>;
  /** Inbound backpressure: times a socket was paused, connections paused now, and closes (1008) over the hard bound. */
  inbound: { pauses: number; paused: number; overflows: number };
  /** Upgrades in admission now (`authenticate` running). */
  admitting: number;
  /** Upgrades refused, by reason (`draining`, `origin`, `connections`, `admission`, `auth`). */
  refusedByReason: Record<string, number>;
  /** History replay: bytes held for sending now and at most, replays that waited for room. */
  replay: { bytesInFlight: number; peakBytes: number; waits: number; budgetBytes: number };
  /** The `lifeline.v1` layer's refusals and honest unknowns (see `ProtocolCount`). */
  protocol: Record<ProtocolCount, number>;
  /**
   * Times the process was found out of file descriptors (new connections dropped: EMFILE/ENFILE), by
   * the listener's `error` or by the once-a-second look at the descriptor limit.
   */
  acceptErrors: number;
  /** `lifeline.v1` connections closed (1008) for not sending `hello` in time. */
  helloTimeouts: number;
}

/** Events of a {@link LifelineServer}. */
export interface ServerEvents extends Record<string, unknown> {
  connection: Connection;
  close: { connection: Connection; code: number; reason: string; closedBy: ClosedBy };
  incident: Incident;
  'dead-peer': Connection;
  'drain-start': { kind: 'restart' | 'shutdown'; code: number; connections: number };
  'drain-end': { kind: 'restart' | 'shutdown'; durationMs: number };
  /** A `lifeline.v1` session started or resumed. */
  session: { connection: Connection; session: string; resumed: boolean; recovered: boolean; lost: readonly string[] };
  /** A peer was closed as a slow consumer. */
  'slow-consumer': Connection;
  state: ServerState;
}

/** Options of {@link LifelineServer.attach}. */
export interface AttachOptions {
  /**
   * Take only the upgrades to this path (`/live`; the query does not count) and leave every other
   * upgrade to the server's other `upgrade` listeners, such as graphql-ws or Vite's HMR. The dashboard's
   * own connection uses `/`. @default every upgrade
   */
  path?: string;
}

/** Options of {@link LifelineServer.shutdown}. */
export interface ShutdownOptions {
  /** Overrides `shutdownCode`: 1012 (restart follows) or 1001 (going away for good). */
  code?: ShutdownCode;
  /**
   * Stop listening as the drain starts, so new connections go elsewhere (set behind a cluster primary or a
   * load balancer that retries); by default the server keeps answering upgrades with 503 while it drains.
   */
  stopListening?: boolean;
}

const RECENT_INCIDENTS = 50;
/** Bytes a queued message costs beside its payload (the closure and promise that hold it), for the inbound bounds. */
const QUEUED_MESSAGE_OVERHEAD = 256;

/** The 'error' listener of every upgrading socket; shared, since a closure would keep each request alive. */
function destroySocket(this: Duplex): void {
  this.destroy();
}

/** A lifeline WebSocket server. Create it with {@link createServer}. */
export class LifelineServer {
  private options: ResolvedServerOptions;
  private readonly logger: Logger;
  private readonly adapter: WsAdapter;
  private readonly emitter = new Emitter<ServerEvents>((error) => this.logger.error({ err: error }, 'server event listener threw'));
  private readonly live = new Set<Connection>();
  private readonly incidents: Incident[] = [];
  private heartbeat: NodeJS.Timeout | undefined;
  private httpServer: HttpServer | undefined;
  private ownsHttpServer = false;
  private currentState: ServerState = 'running';
  private shutdownPromise: Promise<void> | undefined;
  private restartPromise: Promise<void> | undefined;
  private readonly counters: ServerStats = {
    open: 0,
    opened: 0,
    closesByCode: {},
    closesBy: { server: 0, client: 0, transport: 0 },
    incidents: 0,
    deadPeers: 0,
    protocolErrors: {},
    refusedUpgrades: 0,
    drains: 0,
    messagesIn: 0,
    messagesOut: 0,
    replayed: 0,
    sessions: { created: 0, resumed: 0, notRecovered: 0 },
    slowConsumers: 0,
    rateLimited: 0,
    published: 0,
    storeErrors: {},
    unsent: {},
    inbound: { pauses: 0, paused: 0, overflows: 0 },
    admitting: 0,
    refusedByReason: {},
    replay: { bytesInFlight: 0, peakBytes: 0, waits: 0, budgetBytes: 0 },
    protocol: { conflicts: 0, forgottenIds: 0, outcomeUnknown: 0, subscriptionLimit: 0, channelLimit: 0, reservedRefused: 0, takeovers: 0, authRefused: 0, credentialsExpired: 0 },
    acceptErrors: 0,
    helloTimeouts: 0,
  };
  private readonly replayBudget: ByteBudget;
  private lastAcceptErrorLog = 0;
  private stopFdWatch: (() => void) | undefined;
  /** The store holding history, sessions and dedupe records. */
  readonly store: Store;
  private readonly ownsStore: boolean;
  private readonly hub = new ChannelHub();
  private readonly protocolContext: ProtocolContext;
  private readonly unwatch: (() => void) | undefined;
  private readonly meter: OutputMeter;
  private readonly routes: ((req: IncomingMessage, res: ServerResponse) => boolean)[] = [];
  private readonly offAvailability: (() => void) | undefined;
  /** The `lifeline.v1` state of each protocol connection. */
  private readonly sessions = new WeakMap<Connection, ProtocolSession>();
  /** Which connection holds each session (one live connection per session). */
  private readonly holders: SessionHolders;

  /** @param options - see {@link ServerOptions} */
  constructor(options: ServerOptions = {}) {
    this.options = resolveServerOptions(options);
    this.logger = options.logger ?? requireOptional<typeof import('pino')>('pino', 'createServer (its default logger; or pass the logger option)').default({ level: 'info' });
    this.adapter = createWsAdapter({ maxPayload: this.options.maxPayload, maxFragments: this.options.maxFragments, subprotocols: this.options.subprotocols });
    this.replayBudget = new ByteBudget(this.options.maxReplayBytes);
    this.ownsStore = options.store === undefined;
    this.store = options.store ?? createMemoryStore();
    // A store shared by several processes carries resumes to all of them, so a takeover reaches every node.
    this.holders = new SessionHolders(
      this.store.watch ? async (session, connection) => (await this.publish(TAKEOVER_CHANNEL, { session, connection })).message : undefined,
    );
    const server = this;
    this.protocolContext = {
      store: this.store,
      hub: this.hub,
      logger: this.logger,
      claimWaitMs: 2000,
      replay: {
        get pageBytes() {
          return server.options.replayPageBytes;
        },
        budget: this.replayBudget,
      },
      get maxChannelsCreated() {
        return server.options.maxChannelsCreated;
      },
      get maxReplayBytesPerConnection() {
        return server.options.maxReplayBytesPerConnection;
      },
      get claimLeaseMs() {
        return server.options.claimLeaseMs;
      },
      get authorizeReserved() {
        return server.options.authorizeReserved;
      },
      count: (what) => {
        this.counters.protocol[what] += 1;
      },
      get sessionTtlMs() {
        return server.options.sessionTtlMs;
      },
      get heartbeatMs() {
        return server.options.heartbeatMs;
      },
      get maxSubscriptions() {
        return server.options.maxSubscriptions;
      },
      get onSessionMessage() {
        return server.options.onSessionMessage;
      },
      get authorizeSubscribe() {
        return server.options.authorizeSubscribe;
      },
      get authorizePublish() {
        return server.options.authorizePublish;
      },
      get authenticate() {
        return server.options.authenticate;
      },
      holders: this.holders,
      publish: (channel, data, options) => this.publish(channel, data, options),
      storeFailed: (operation, error) => this.storeFailed(operation, error),
      replayed: (count) => {
        this.counters.replayed += count;
      },
      welcomed: (event) => {
        const { sessions } = this.counters;
        if (event.resumed) sessions.resumed += 1;
        else sessions.created += 1;
        // A resume attempt (a token or positions were presented) that could not restore everything.
        if (!event.recovered && (event.resumed || event.lost.length > 0)) sessions.notRecovered += 1;
        this.emitter.emit('session', event);
      },
    };
    this.meter = {
      get maxBufferedBytes() {
        return server.options.maxBufferedBytes;
      },
      sent: () => {
        this.counters.messagesOut += 1;
      },
      unsent: (_connection, reason) => {
        this.counters.unsent[reason] = (this.counters.unsent[reason] ?? 0) + 1;
      },
      slowConsumer: (connection) => {
        this.counters.slowConsumers += 1;
        this.logger.warn({ connection: connection.id, buffered: connection.bufferedAmount }, 'slow consumer; closing with 1013');
        this.emitter.emit('slow-consumer', connection);
      },
    };
    // A shared store tells every process about every append; each delivers to its own subscribers, and
    // closes its connection of a session resumed elsewhere.
    this.unwatch = this.store.watch?.((message) => {
      this.holders.received(message);
      this.hub.deliver(message);
    });
    this.offAvailability = this.store.onAvailability?.((available, reason) => {
      if (available) this.logger.info({ store: this.store.kind }, 'store available again');
      else this.logger.error({ store: this.store.kind, reason }, 'store unavailable; not ready, publishes refused until it is back');
    });
    this.startHeartbeat();
  }

  /**
   * Publish to a channel: stored first (resolves once durable), then delivered to subscribers.
   * With an idempotency key already used, nothing new is stored and the first message is returned.
   */
  async publish(channel: string, data: Json, options: AppendOptions = {}): Promise<AppendResult> {
    const result = await this.store.append(channel, data, options);
    if (!result.duplicate) this.counters.published += 1;
    // A duplicate is offered too: if the first attempt died before fan-out, this delivers it; subscribers skip repeats.
    this.hub.deliver(result.message);
    return result;
  }

  private storeFailed(operation: string, error: unknown): void {
    this.counters.storeErrors[operation] = (this.counters.storeErrors[operation] ?? 0) + 1;
    this.logger.error({ operation, err: error }, 'store operation failed');
  }

  /** Current lifecycle state. */
  get state(): ServerState {
    return this.currentState;
  }

  /** Whether the server wants new connections (what `/readyz` reports): running, and its store available. */
  get ready(): boolean {
    return (this.currentState === 'running' || this.currentState === 'restarting') && this.store.available !== false;
  }

  /** Open connections. */
  get connections(): ReadonlySet<Connection> {
    return this.live;
  }

  /** A snapshot of the counters. */
  stats(): ServerStats {
    const budget = this.replayBudget;
    this.counters.replay = { bytesInFlight: budget.inUse, peakBytes: budget.peak, waits: budget.waits, budgetBytes: budget.limit };
    return structuredClone(this.counters);
  }

  /** The most recent incidents, newest last (at most 50). */
  recentIncidents(): readonly Incident[] {
    return [...this.incidents];
  }

  /** The options in force. */
  get settings(): Readonly<ResolvedServerOptions> {
    return this.options;
  }

  /** Listen to a server event; returns the unsubscribe function. */
  on<K extends keyof ServerEvents>(event: K, listener: (payload: ServerEvents[K]) => void): () => void {
    return this.emitter.on(event, listener);
  }

  /**
   * Change settings at run time (a configuration reload). Handlers and timing options may change;
   * `maxPayload` and `subprotocols` apply to new connections only after a process restart.
   */
  reconfigure(options: Partial<ServerOptions>): void {
    const { logger: _ignored, ...rest } = options;
    this.options = resolveServerOptions({ ...this.options, ...rest });
    this.startHeartbeat();
  }

  /**
   * Add an HTTP route (metrics, a dashboard, ...) to {@link handleRequest}, and so to the server
   * `listen()` creates. Routes are tried in the order added, after the built-in ones; a route returns
   * true when it answered the request.
   */
  addRoute(route: (req: IncomingMessage, res: ServerResponse) => boolean): void {
    this.routes.push(route);
  }

  /**
   * Run `work` for `connection` inside its error boundary, after the handlers already queued for it:
   * a throw closes that connection with 1011 and an incident id, exactly as a handler's would.
   */
  run(connection: Connection, work: () => void | Promise<void>): void {
    this.enqueue(connection, 'message', work);
  }

  /** Create an HTTP server with the health routes, attach to it and listen. Resolves with the bound address. */
  async listen(port = 0, host = '127.0.0.1'): Promise<{ port: number; host: string }> {
    const server = createHttpServer((req, res) => {
      if (!this.handleRequest(req, res)) sendJson(res, 404, { error: 'not found' });
    });
    this.ownsHttpServer = true;
    this.attach(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    // Out of file descriptors, `accept` fails and Node reports it here: without a listener the process
    // would die; with one, new clients wait in the backlog until descriptors return. Logged, rate-limited.
    server.on('error', (error: NodeJS.ErrnoException) => this.acceptFailed(error));
    // Most EMFILE drops never reach that listener (libuv closes the waiting connections itself): look.
    this.stopFdWatch = watchDescriptors({
      connections: () => this.live.size + this.counters.admitting,
      exhausted: (open, limit) => this.acceptFailed(Object.assign(new Error(`${open} of ${limit} file descriptors in use`), { code: 'EMFILE' })),
    });
    const address = server.address() as AddressInfo;
    return { port: address.port, host: address.address };
  }

  private acceptFailed(error: NodeJS.ErrnoException): void {
    this.counters.acceptErrors += 1;
    const now = Date.now();
    if (now - this.lastAcceptErrorLog < 10_000) return;
    this.lastAcceptErrorLog = now;
    const hint = error.code === 'EMFILE' || error.code === 'ENFILE' ? 'out of file descriptors: raise the limit (ulimit -n) or lower maxConnections' : 'accept failed';
    this.logger.error({ code: error.code, err: error, count: this.counters.acceptErrors }, `listening socket: ${hint}`);
  }

  /**
   * Handle WebSocket upgrades of an existing `http.Server` (all of them, or those to `options.path`).
   * Its HTTP routes are served by {@link handleRequest}, which the application calls from its own
   * request handler or framework.
   */
  attach(server: HttpServer, options: AttachOptions = {}): void {
    if (this.httpServer) throw new Error('already attached to an HTTP server');
    this.httpServer = server;
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
    if (this.handleBuiltInRequest(req, res)) return true;
    for (const route of this.routes) if (route(req, res)) return true;
    return false;
  }

  private handleBuiltInRequest(req: IncomingMessage, res: ServerResponse): boolean {
    const path = pathOf(req);
    if (path === '/publish' && req.method === 'POST') {
      void handlePublishRequest(req, res, {
        key: this.options.publishKey,
        maxBytes: this.options.maxPayload,
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
      sendJson(res, 200, { status: 'alive', state: this.currentState });
      return true;
    }
    if (path === '/readyz') {
      if (this.ready) sendJson(res, 200, { status: 'ready', state: this.currentState });
      else {
        const status = this.store.available === false ? 'store-unavailable' : 'draining';
        sendJson(res, 503, { status, state: this.currentState }, { 'retry-after': this.retryAfterSeconds() });
      }
      return true;
    }
    return false;
  }

  /** Accept or refuse one upgrade request. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', destroySocket);
    if (this.currentState === 'draining' || this.currentState === 'stopped') {
      this.refuse(socket, 'draining', 503, { 'Retry-After': this.retryAfterSeconds() }, 'server is restarting; retry shortly\n');
      return;
    }
    const { allowedOrigins, maxConnections, maxPendingUpgrades } = this.options;
    const origin = req.headers.origin;
    if (allowedOrigins !== undefined && origin !== undefined && !allowedOrigins.includes(origin)) {
      this.refuse(socket, 'origin', 403, {}, 'origin not allowed\n');
      return;
    }
    // Upgrades still in admission count: a slow `authenticate` must not let more in than the limit.
    if (maxConnections > 0 && this.live.size + this.counters.admitting >= maxConnections) {
      this.refuse(socket, 'connections', 503, { 'Retry-After': this.retryAfterSeconds() }, 'server is at its connection limit; retry shortly\n');
      return;
    }
    if (this.counters.admitting >= maxPendingUpgrades) {
      this.refuse(socket, 'admission', 503, { 'Retry-After': this.retryAfterSeconds() }, 'too many connections being admitted; retry shortly\n');
      return;
    }
    const { authenticate } = this.options;
    if (!authenticate) {
      this.adapter.upgrade(req, socket, head, (transport, info) => this.accept(transport, info, undefined));
      return;
    }
    const info: UpgradeInfo = { remoteAddress: req.socket.remoteAddress ?? '', url: req.url ?? '/', headers: req.headers };
    this.counters.admitting += 1;
    let admitted = true;
    const leave = (): void => {
      if (!admitted) return;
      admitted = false;
      this.counters.admitting -= 1;
    };
    // A peer that hangs up while its authentication runs leaves admission at once.
    socket.once('close', leave);
    Promise.resolve()
      .then(() => authenticate(info))
      .then(
        (result) => {
          leave();
          socket.off('close', leave);
          if (socket.destroyed) return;
          const admission = admissionOf(result);
          if (!admission.admitted) {
            const { status } = admission;
            this.refuse(socket, 'auth', status, status === 401 ? { 'WWW-Authenticate': 'Bearer' } : {}, status === 401 ? 'authentication required\n' : 'forbidden\n');
            return;
          }
          if (this.currentState === 'draining' || this.currentState === 'stopped') {
            this.refuse(socket, 'draining', 503, { 'Retry-After': this.retryAfterSeconds() }, 'server is restarting; retry shortly\n');
            return;
          }
          this.adapter.upgrade(req, socket, head, (transport, accepted) => this.accept(transport, accepted, admission.user, admission.expiresAt));
        },
        (error: unknown) => {
          leave();
          socket.off('close', leave);
          // A hook that throws is our failure, not the client's: 500, logged, never the details.
          this.logger.error({ err: error }, 'authenticate hook failed');
          refuseUpgrade(socket, 500, {}, 'authentication failed\n');
        },
      );
  }

  private refuse(socket: Duplex, reason: string, status: number, headers: Record<string, string>, body: string): void {
    this.counters.refusedUpgrades += 1;
    this.counters.refusedByReason[reason] = (this.counters.refusedByReason[reason] ?? 0) + 1;
    refuseUpgrade(socket, status, headers, body);
  }

  /**
   * Publish nothing, close nobody: cycle every current connection with 1012 across the drain window
   * while the server keeps accepting new connections (SIGHUP semantics). Resolves when the cycle is done.
   */
  restart(): Promise<void> {
    if (this.currentState !== 'running') return this.restartPromise ?? this.shutdownPromise ?? Promise.resolve();
    this.setState('restarting');
    this.restartPromise = this.drain('restart', [...this.live], 1012).finally(() => {
      this.restartPromise = undefined;
      if (this.currentState === 'restarting') this.setState('running');
    });
    return this.restartPromise;
  }

  /**
   * Drain and stop: readiness turns false, new upgrades get 503, in-flight handlers get `graceMs`,
   * connections close with 1012 (or 1001) paced across the drain window, stragglers are terminated,
   * and the HTTP server this instance created is closed.
   */
  shutdown(options: ShutdownOptions = {}): Promise<void> {
    if (this.shutdownPromise) return this.shutdownPromise;
    const code = options.code ?? this.options.shutdownCode;
    this.setState('draining');
    this.shutdownPromise = (async () => {
      // Behind a cluster primary, closing the listener at once makes it route new connections to the
      // other workers instead of to one that would only answer 503.
      if (options.stopListening && this.httpServer) this.httpServer.close();
      await this.drain('shutdown', [...this.live], code, options.stopListening === true);
      this.unwatch?.();
      this.offAvailability?.();
      this.stopFdWatch?.();
      if (this.heartbeat) clearInterval(this.heartbeat);
      this.adapter.close();
      if (this.ownsHttpServer && this.httpServer) {
        const server = this.httpServer;
        await new Promise<void>((resolve) => {
          if (!server.listening) resolve();
          else server.close(() => resolve());
          server.closeAllConnections();
        });
      }
      if (this.ownsStore) await this.store.close();
      this.setState('stopped');
    })();
    return this.shutdownPromise;
  }

  private setState(state: ServerState): void {
    if (this.currentState === state) return;
    this.currentState = state;
    this.logger.info({ state }, 'server state');
    this.emitter.emit('state', state);
  }

  private retryAfterSeconds(): string {
    return String(Math.max(1, Math.ceil(this.options.retryHint.maxMs / 1000)));
  }

  private async drain(kind: 'restart' | 'shutdown', targets: Connection[], code: number, stopListening = false): Promise<void> {
    const started = Date.now();
    const { drainWindowMs, graceMs, closeTimeoutMs, retryHint, random } = this.options;
    this.counters.drains += 1;
    this.logger.info({ kind, code, connections: targets.length, drainWindowMs }, 'drain started');
    this.emitter.emit('drain-start', { kind, code, connections: targets.length });

    // Let work in progress finish, but never wait longer than the grace period.
    await Promise.race([Promise.all(targets.map((c) => c.chain)), sleep(graceMs)]);

    const offsets = drainOffsets(targets.length, drainWindowMs, random);
    const windowStart = Date.now();
    await Promise.all(
      targets.map(async (connection, i) => {
        await sleep(offsets[i] ?? 0);
        const sent = code === 1012 && connection.protocol === '' ? this.options.plainRestartCode : code;
        // A shutdown that keeps listening refuses upgrades (503) until the window ends, and then the process
        // is gone: a client told to come back sooner only collects failures and backs off exponentially.
        // So the hint starts when the window ends. (A restart keeps serving; stopListening hands clients to
        // other processes at once: neither shifts.)
        const shift = kind === 'shutdown' && !stopListening ? Math.max(0, drainWindowMs - (Date.now() - windowStart)) : 0;
        const retry = { minMs: retryHint.minMs + shift, maxMs: retryHint.maxMs + shift };
        // The text says what happened, whichever code carries it: a restart sent as 1001 (for clients that
        // reject 1012) still reads "service restart" and has the hint; 1001 itself still means "come back".
        connection.closeWith(sent, { text: code === 1012 ? 'service restart' : 'server going away', ...(code === 1012 ? { retry } : {}) });
      }),
    );
    // Peers that do not complete the closing handshake are cut off at the deadline.
    const stragglers = targets.filter((c) => c.state !== 'closed');
    if (stragglers.length > 0) {
      const deadline = sleep(closeTimeoutMs).then(() => 'timeout' as const);
      const done = Promise.all(stragglers.map((c) => c.closed)).then(() => 'done' as const);
      if ((await Promise.race([deadline, done])) === 'timeout') {
        const left = stragglers.filter((c) => c.state !== 'closed');
        this.logger.warn({ count: left.length }, 'terminating connections that did not finish closing');
        for (const c of left) c.terminate();
        await Promise.race([Promise.all(left.map((c) => c.closed)), sleep(1000)]);
      }
    }
    const durationMs = Date.now() - started;
    this.logger.info({ kind, durationMs }, 'drain finished');
    this.emitter.emit('drain-end', { kind, durationMs });
  }

  private accept(transport: TransportSocket, info: UpgradeInfo, user: string | undefined, expiresAt?: number): TransportEvents {
    const connection = new Connection(newConnectionId(), info, transport, user, this.meter);
    this.live.add(connection);
    this.counters.open += 1;
    this.counters.opened += 1;
    this.emitter.emit('connection', connection);
    const { onConnection } = this.options;
    if (onConnection) this.enqueue(connection, 'connection', () => onConnection(connection, info));
    const bucket = this.options.rateLimit ? new TokenBucket(this.options.rateLimit.messagesPerSecond, this.options.rateLimit.burst, Date.now()) : undefined;
    const session = transport.protocol === SUBPROTOCOL ? new ProtocolSession(connection, this.protocolContext, expiresAt) : undefined;
    if (session) this.sessions.set(connection, session);
    // A protocol client that never says hello holds a socket for nothing; only a `hello` stops the clock.
    const helloTimer = session
      ? setTimeout(() => {
          if (session.helloArrived || connection.state !== 'open') return;
          this.counters.helloTimeouts += 1;
          connection.close(1008, 'hello expected');
        }, this.options.helloTimeoutMs).unref()
      : undefined;

    return {
      message: (data, isBinary) => {
        connection.awaitingPong = false;
        if (connection.state !== 'open') return;
        this.counters.messagesIn += 1;
        if (bucket && !bucket.take(Date.now())) {
          this.counters.rateLimited += 1;
          this.logger.warn({ connection: connection.id }, 'rate limit exceeded; closing with 1008');
          connection.close(1008, 'rate limit exceeded');
          return;
        }
        const size = typeof data === 'string' ? data.length : data.byteLength;
        if (!this.admitInbound(connection, size)) return;
        if (session) {
          if (!session.helloArrived && isHello(data)) session.helloArrived = true;
          this.enqueue(connection, 'message', () => session.handle(data), size);
          return;
        }
        const { onMessage } = this.options;
        if (onMessage) this.enqueue(connection, 'message', () => onMessage(connection, data, isBinary), size);
      },
      pong: () => {
        connection.awaitingPong = false;
      },
      peerClosing: () => {
        connection.peerClosing();
        // Replies to what the peer sent before its Close go out first, within the grace period.
        const settled = connection.inbound.count === 0 ? undefined : Promise.race([connection.chain, sleep(this.options.graceMs)]);
        if (settled === undefined) {
          connection.peerCloseAnswered();
          return undefined;
        }
        return settled.then(() => connection.peerCloseAnswered());
      },
      protocolError: (error, closeCode) => {
        // The peer's mistake, answered by the transport with its own code; never an incident.
        connection.closedBy ??= 'server';
        connection.protocolClosing();
        this.counters.protocolErrors[closeCode] = (this.counters.protocolErrors[closeCode] ?? 0) + 1;
        this.logger.warn({ connection: connection.id, closeCode, code: (error as { code?: string }).code, msg: error.message }, 'peer protocol error');
      },
      closed: (code, reason) => {
        const closedBy = connection.closedBy ?? (code === 1006 ? 'transport' : 'client');
        connection.closedBy = closedBy;
        connection.setClosed();
        if (connection.inbound.paused) this.counters.inbound.paused -= 1;
        this.live.delete(connection);
        this.sessions.delete(connection);
        this.counters.open -= 1;
        this.counters.closesByCode[code] = (this.counters.closesByCode[code] ?? 0) + 1;
        this.counters.closesBy[closedBy] += 1;
        connection.markClosed();
        if (helloTimer) clearTimeout(helloTimer);
        session?.close();
        this.emitter.emit('close', { connection, code, reason, closedBy });
        const { onClose } = this.options;
        if (onClose) this.enqueue(connection, 'close', () => onClose(connection, code, reason));
      },
    };
  }

  /**
   * Inbound backpressure: count a message in the connection's queue; above the soft bound stop reading
   * from its socket (TCP pushes back on the sender). The transport still delivers what it had already
   * read (up to one socket read, however many small frames that holds), so the hard bound is in bytes,
   * each message counted with its overhead: far above the soft bound, only a peer the transport could
   * not stop gets there, and it is closed with 1008. Returns false when the message is refused.
   */
  private admitInbound(connection: Connection, size: number): boolean {
    const { maxQueuedMessages, maxQueuedBytes } = this.options;
    const inbound = connection.inbound;
    if (inbound.bytes + size + QUEUED_MESSAGE_OVERHEAD > 4 * maxQueuedBytes) {
      this.counters.inbound.overflows += 1;
      this.logger.warn({ connection: connection.id, queued: inbound.count, bytes: inbound.bytes }, 'inbound queue over its hard bound; closing with 1008');
      connection.close(1008, 'too many messages queued');
      return false;
    }
    if (!inbound.paused && (inbound.count + 1 > maxQueuedMessages || inbound.bytes + size > maxQueuedBytes)) {
      this.counters.inbound.pauses += 1;
      this.counters.inbound.paused += 1;
      connection.setReading(false);
    }
    return true;
  }

  /** A queued message was handled: resume reading once the queue is down to half its bound. */
  private inboundDone(connection: Connection, size: number): void {
    const inbound = connection.inbound;
    inbound.count -= 1;
    inbound.bytes -= size + QUEUED_MESSAGE_OVERHEAD;
    if (inbound.paused && inbound.count <= this.options.maxQueuedMessages / 2 && inbound.bytes <= this.options.maxQueuedBytes / 2) {
      this.counters.inbound.paused -= 1;
      if (connection.state !== 'closed') connection.setReading(true);
      else inbound.paused = false;
    }
  }

  /**
   * Run a handler after the connection's previous ones, inside the error boundary. With nothing queued
   * it starts at once, in the same turn as the message arrived: a synchronous handler's reply is then
   * written before the transport reads on (and, say, answers a Close that followed in the same read).
   * @param size - the bytes of the message it handles, counted in the inbound queue until it is done
   */
  private enqueue(connection: Connection, handler: Incident["handler"], run: () => unknown, size = 0): void {
    const inbound = connection.inbound;
    // Work the server itself queues (server.run, onConnection, onClose) counts too, without bytes.
    inbound.count += 1;
    inbound.bytes += size + QUEUED_MESSAGE_OVERHEAD;
    const step = async (): Promise<void> => {
      try {
        // Messages queued behind a handler that closed the connection are not processed; those that
        // arrived before the peer's Close are, so their replies can go out before ours.
        if (handler !== 'close' && !connection.writable) return;
        await run();
      } catch (error) {
        this.onHandlerError(connection, handler, error);
      } finally {
        this.inboundDone(connection, size);
      }
    };
    if (inbound.count === 1) {
      connection.chain = step();
      return;
    }
    connection.chain = connection.chain.then(step);
  }

  /** The error boundary: the peer's mistakes get their own code; anything else is our bug, 1011 with an incident id. */
  private onHandlerError(connection: Connection, handler: Incident['handler'], error: unknown): void {
    if (error instanceof CloseError) {
      this.logger.info({ connection: connection.id, closeCode: error.closeCode, reason: error.reason }, 'closing on client error');
      connection.closeWith(error.closeCode, { text: error.reason, ...(error.retry ? { retry: error.retry } : {}) });
      return;
    }
    const preassigned = error instanceof HandlerFailure;
    const id = preassigned ? error.incident : newIncidentId();
    const cause = preassigned ? error.cause : error;
    const err = cause instanceof Error ? cause : new Error(String(cause));
    this.logger.error({ incident: id, connection: connection.id, handler, err }, 'handler failed; closing connection with 1011');
    const incident: Incident = { id, at: Date.now(), connection: connection.id, handler, summary: (err.message.split('\n')[0] ?? '').slice(0, 200) };
    this.incidents.push(incident);
    if (this.incidents.length > RECENT_INCIDENTS) this.incidents.shift();
    this.counters.incidents += 1;
    this.emitter.emit('incident', incident);
    // The reason names the incident and nothing from the error: no message, stack or path reaches the client.
    connection.closeWith(1011, { text: 'internal error', incident: id });
  }

  private startHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    if (this.options.heartbeatMs === 0 || this.currentState === 'stopped') return;
    this.heartbeat = setInterval(() => this.beat(), this.options.heartbeatMs);
    this.heartbeat.unref();
  }

  private beat(): void {
    for (const connection of this.live) {
      if (connection.state !== 'open') continue;
      // A socket the server stopped reading cannot show its pongs: the silence is ours, not the peer's.
      if (connection.inbound.paused) {
        connection.awaitingPong = false;
        continue;
      }
      if (connection.awaitingPong) {
        this.counters.deadPeers += 1;
        this.logger.warn({ connection: connection.id }, 'peer missed a heartbeat; terminating');
        this.emitter.emit('dead-peer', connection);
        connection.terminate();
        continue;
      }
      connection.awaitingPong = true;
      connection.ping();
    }
  }

  // ---- Read-only views for operator tools (the dashboard console). Nothing here changes state. ----

  /** The channels a `lifeline.v1` connection of this process is subscribed to (empty for a plain WebSocket). */
  channelsOf(connection: Connection): readonly string[] {
    return this.sessions.get(connection)?.channels ?? [];
  }

  /** The `lifeline.v1` session id of a connection of this process, once its `hello` was answered. */
  sessionOf(connection: Connection): string | undefined {
    return this.sessions.get(connection)?.sessionId;
  }

  /** Every channel with subscribers on this process, and how many. */
  subscriberCounts(): IterableIterator<[channel: string, subscribers: number]> {
    return this.hub.counts();
  }
}

/** Whether a message of a protocol client is its `hello` (decoded only for the first frames of a connection). */
function isHello(data: string | Uint8Array): boolean {
  try {
    return decodeClientFrame(data).t === 'hello';
  } catch {
    return false;
  }
}

/** Create a lifeline server. Call `listen()` or `attach()` on it next. */
export function createServer(options: ServerOptions = {}): LifelineServer {
  return new LifelineServer(options);
}
