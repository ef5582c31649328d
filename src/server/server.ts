/**
 * The server core: accepts sockets from an adapter, runs handlers inside the error boundary,
 * drains with 1012 on planned restarts, and keeps peers honest with heartbeats.
 * @packageDocumentation
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import pino, { type Logger } from 'pino';
import { SUBPROTOCOL, type Json } from '../protocol/index.js';
import { createMemoryStore } from '../store/memory.js';
import type { AppendResult, Store } from '../store/types.js';
import { Emitter } from '../util/emitter.js';
import { createWsAdapter, type WsAdapter } from './adapters/ws.js';
import { Connection, type ClosedBy, type OutputMeter } from './connection.js';
import { drainOffsets } from './drain-schedule.js';
import { CloseError, HandlerFailure } from './errors.js';
import { pathOf, refuseUpgrade, sendJson } from './http.js';
import { newConnectionId, newIncidentId } from './ids.js';
import { resolveServerOptions, type ResolvedServerOptions, type ServerOptions, type ShutdownCode } from './options.js';
import type { TransportEvents, TransportSocket, UpgradeInfo } from './transport.js';
import { ProtocolSession, type ProtocolContext } from './protocol-session.js';
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
  };
  /** The store holding history, sessions and dedupe records. */
  readonly store: Store;
  private readonly ownsStore: boolean;
  private readonly hub = new ChannelHub();
  private readonly protocolContext: ProtocolContext;
  private readonly unwatch: (() => void) | undefined;
  private readonly meter: OutputMeter;
  private readonly routes: ((req: IncomingMessage, res: ServerResponse) => boolean)[] = [];
  private readonly offAvailability: (() => void) | undefined;
  /** Operator views (see the block at the end of the class). */
  private readonly protocolSessions = new WeakMap<Connection, ProtocolSession>();

  /** @param options - see {@link ServerOptions} */
  constructor(options: ServerOptions = {}) {
    this.options = resolveServerOptions(options);
    this.logger = options.logger ?? pino({ level: 'info' });
    this.adapter = createWsAdapter({ maxPayload: this.options.maxPayload, subprotocols: this.options.subprotocols });
    this.ownsStore = options.store === undefined;
    this.store = options.store ?? createMemoryStore();
    const server = this;
    this.protocolContext = {
      store: this.store,
      hub: this.hub,
      logger: this.logger,
      claimWaitMs: 2000,
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
      publish: (channel, data, key) => this.publish(channel, data, key === undefined ? {} : { idempotencyKey: key }),
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
      slowConsumer: (connection) => {
        this.counters.slowConsumers += 1;
        this.logger.warn({ connection: connection.id, buffered: connection.bufferedAmount }, 'slow consumer; closing with 1013');
        this.emitter.emit('slow-consumer', connection);
      },
    };
    // A shared store tells every process about every append; each delivers to its own subscribers.
    this.unwatch = this.store.watch?.((message) => this.hub.deliver(message));
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
  async publish(channel: string, data: Json, options: { idempotencyKey?: string } = {}): Promise<AppendResult> {
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
   * Add an HTTP route to the server `listen()` creates (metrics, a dashboard, ...). Routes are tried in
   * the order added, after the built-in ones; a route returns true when it answered the request.
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
      if (this.handleRequest(req, res)) return;
      for (const route of this.routes) if (route(req, res)) return;
      sendJson(res, 404, { error: 'not found' });
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
    const address = server.address() as AddressInfo;
    return { port: address.port, host: address.address };
  }

  /** Handle WebSocket upgrades of an existing `http.Server`. Health routes are available through {@link handleRequest}. */
  attach(server: HttpServer): void {
    if (this.httpServer) throw new Error('already attached to an HTTP server');
    this.httpServer = server;
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.handleUpgrade(req, socket, head));
  }

  /**
   * Serve `GET /healthz` (200 while the process is alive) and `GET /readyz` (200 when accepting
   * connections, 503 while draining). Returns false for other requests so the caller can route them.
   */
  handleRequest(req: IncomingMessage, res: ServerResponse): boolean {
    const path = pathOf(req);
    if (path === '/publish' && req.method === 'POST') {
      void handlePublishRequest(req, res, {
        key: this.options.publishKey,
        maxBytes: this.options.maxPayload,
        publish: (channel, data, key) => this.publish(channel, data, key === undefined ? {} : { idempotencyKey: key }),
        onStoreError: (error) => this.storeFailed('append', error),
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
      this.counters.refusedUpgrades += 1;
      refuseUpgrade(socket, 503, { 'Retry-After': this.retryAfterSeconds() }, 'server is restarting; retry shortly\n');
      return;
    }
    const { allowedOrigins, maxConnections } = this.options;
    const origin = req.headers.origin;
    if (allowedOrigins !== undefined && origin !== undefined && !allowedOrigins.includes(origin)) {
      this.counters.refusedUpgrades += 1;
      refuseUpgrade(socket, 403, {}, 'origin not allowed\n');
      return;
    }
    if (maxConnections > 0 && this.live.size >= maxConnections) {
      this.counters.refusedUpgrades += 1;
      refuseUpgrade(socket, 503, { 'Retry-After': this.retryAfterSeconds() }, 'server is at its connection limit; retry shortly\n');
      return;
    }
    const { authenticate } = this.options;
    if (!authenticate) {
      this.adapter.upgrade(req, socket, head, (transport, info) => this.accept(transport, info, undefined));
      return;
    }
    const info: UpgradeInfo = { remoteAddress: req.socket.remoteAddress ?? '', url: req.url ?? '/', headers: req.headers };
    Promise.resolve()
      .then(() => authenticate(info))
      .then(
        (identity) => {
          if (identity === false || identity === null || identity === undefined || typeof identity === 'object') {
            const status = typeof identity === 'object' && identity !== null && identity.reject === 403 ? 403 : 401;
            this.counters.refusedUpgrades += 1;
            refuseUpgrade(socket, status, status === 401 ? { 'WWW-Authenticate': 'Bearer' } : {}, status === 401 ? 'authentication required\n' : 'forbidden\n');
            return;
          }
          this.adapter.upgrade(req, socket, head, (transport, accepted) => this.accept(transport, accepted, identity === true ? undefined : identity));
        },
        (error: unknown) => {
          // A hook that throws is our failure, not the client's: 500, logged, never the details.
          this.logger.error({ err: error }, 'authenticate hook failed');
          refuseUpgrade(socket, 500, {}, 'authentication failed\n');
        },
      );
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
        // Both carry the hint: 1001 here still means "come back", just in words old clients accept.
        connection.closeWith(sent, { text: sent === 1012 ? 'service restart' : 'server going away', ...(code === 1012 ? { retry } : {}) });
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

  private accept(transport: TransportSocket, info: UpgradeInfo, user: string | undefined): TransportEvents {
    const connection = new Connection(newConnectionId(), info, transport, user, this.meter);
    this.live.add(connection);
    this.counters.open += 1;
    this.counters.opened += 1;
    this.emitter.emit('connection', connection);
    const { onConnection } = this.options;
    if (onConnection) this.enqueue(connection, 'connection', () => onConnection(connection, info));
    const bucket = this.options.rateLimit ? new TokenBucket(this.options.rateLimit.messagesPerSecond, this.options.rateLimit.burst, Date.now()) : undefined;
    const session = transport.protocol === SUBPROTOCOL ? new ProtocolSession(connection, this.protocolContext, user) : undefined;
    if (session) this.protocolSessions.set(connection, session);
    // A protocol client that never says hello holds a socket for nothing.
    const helloTimer = session
      ? setTimeout(() => {
          if (!session.received) connection.close(1008, 'hello expected');
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
        if (session) {
          session.received = true;
          this.enqueue(connection, 'message', () => session.handle(data));
          return;
        }
        const { onMessage } = this.options;
        if (onMessage) this.enqueue(connection, 'message', () => onMessage(connection, data, isBinary));
      },
      pong: () => {
        connection.awaitingPong = false;
      },
      protocolError: (error, closeCode) => {
        // The peer's mistake, answered by the transport with its own code; never an incident.
        connection.closedBy ??= 'server';
        this.counters.protocolErrors[closeCode] = (this.counters.protocolErrors[closeCode] ?? 0) + 1;
        this.logger.warn({ connection: connection.id, closeCode, code: (error as { code?: string }).code, msg: error.message }, 'peer protocol error');
      },
      closed: (code, reason) => {
        const closedBy = connection.closedBy ?? (code === 1006 ? 'transport' : 'client');
        connection.closedBy = closedBy;
        connection.state = 'closed';
        this.live.delete(connection);
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

  /** Run a handler after the connection's previous ones, inside the error boundary. */
  private enqueue(connection: Connection, handler: Incident['handler'], run: () => void | Promise<void>): void {
    connection.pending += 1;
    connection.chain = connection.chain.then(async () => {
      try {
        // Messages queued behind a handler that closed the connection are not processed.
        if (handler !== 'close' && connection.state !== 'open') return;
        await run();
      } catch (error) {
        this.onHandlerError(connection, handler, error);
      } finally {
        connection.pending -= 1;
      }
    });
  }

  /** The error boundary: the peer's mistakes get their own code; anything else is our bug, 1011 with an incident id. */
  private onHandlerError(connection: Connection, handler: Incident['handler'], error: unknown): void {
    if (error instanceof CloseError) {
      this.logger.info({ connection: connection.id, closeCode: error.closeCode, reason: error.reason }, 'closing on client error');
      connection.close(error.closeCode, error.reason);
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
    return this.protocolSessions.get(connection)?.channels ?? [];
  }

  /** The `lifeline.v1` session id of a connection of this process, once its `hello` was answered. */
  sessionOf(connection: Connection): string | undefined {
    return this.protocolSessions.get(connection)?.sessionId;
  }

  /** Every channel with subscribers on this process, and how many. */
  subscriberCounts(): IterableIterator<[channel: string, subscribers: number]> {
    return this.hub.counts();
  }
}

/** Create a lifeline server. Call `listen()` or `attach()` on it next. */
export function createServer(options: ServerOptions = {}): LifelineServer {
  return new LifelineServer(options);
}
