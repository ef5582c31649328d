/**
 * The server core: connections over the minimal socket ({@link TransportSocket}), with no HTTP server
 * and no WebSocket library in sight. A transport hands it upgrades to {@link ServerCore.admit} and
 * sockets to {@link ServerCore.accept}, and reports each socket's life through the
 * {@link TransportEvents} `accept` returns; `adapters/ws.ts` is the one that ships, `server.ts` the
 * Node plumbing around it. The rules live one to a file beside this one: `error-boundary.ts` (1011),
 * `drain.ts` (1012), `admission.ts`, `inbound.ts`, `heartbeat.ts`, `stats.ts`.
 * @packageDocumentation
 */
import { checkExtension, withExtensions, type ServerExtension } from './extensions.js';
import { decodeClientFrame, SUBPROTOCOL, type Json, type PresenceQuery } from '../../protocol/index.js';
import { createMemoryStore } from '../../store/memory.js';
import type { AppendOptions, AppendResult, ChannelFollow, ChannelPosition, PresenceMember, PresencePage, Store, StoredMessage } from '../../store/types.js';
import { Emitter } from '../../util/emitter.js';
import { ByteBudget } from '../v1/byte-budget.js';
import { ProtocolSession, type ProtocolContext } from '../v1/protocol-session.js';
import { PRESENCE_PAGE_MAX } from '../v1/connection-presence.js';
import { PresenceService } from '../v1/presence.js';
import { ChannelHub } from '../v1/subscription.js';
import { SessionHolders, TAKEOVER_CHANNEL } from '../v1/takeover.js';
import { Admission, type Admitted, type UpgradePeer, type Verdict } from './admission.js';
import { inBackground, systemClock, within, type Clock } from './clock.js';
import { Connection, type ClosedBy, type OutputMeter } from './connection.js';
import { drain, type DrainKind, type DrainPlan } from './drain.js';
import { ErrorBoundary, type Incident } from './error-boundary.js';
import { Heartbeat } from './heartbeat.js';
import { newConnectionId } from './ids.js';
import { InboundBackpressure } from './inbound.js';
import type { Logger } from './logger.js';
import { presenceGraceOf, resolveServerOptions, type ResolvedServerOptions, type ServerOptions, type ShutdownCode } from './options.js';
import { countIn, emptyStats, type ServerStats } from './stats.js';
import { TokenBucket } from './token-bucket.js';
import type { TransportEvents, TransportSocket, UpgradeInfo } from './transport.js';
import { PresenceUnavailableError } from '../errors.js';

/** Lifecycle of a server. `restarting`: cycling connections with 1012 while still accepting new ones. */
export type ServerState = 'running' | 'restarting' | 'draining' | 'stopped';

/** Events of a server (see {@link ServerCore.on}). */
export interface ServerEvents extends Record<string, unknown> {
  connection: Connection;
  close: { connection: Connection; code: number; reason: string; closedBy: ClosedBy };
  incident: Incident;
  'dead-peer': Connection;
  'drain-start': { kind: DrainKind; code: number; connections: number };
  'drain-end': { kind: DrainKind; durationMs: number };
  /** A `lifeline.v1` session started or resumed. */
  session: { connection: Connection; session: string; resumed: boolean; recovered: boolean; lost: readonly string[] };
  /** A peer was closed as a slow consumer. */
  'slow-consumer': Connection;
  state: ServerState;
  /** A session joined a channel's presence (a new member; a resume that continues a membership is none). */
  join: PresenceEvent;
  /** A member left a channel's presence: its session ended, or was not resumed within the grace period. */
  leave: PresenceEvent;
}

/** A presence change, as the server's `join` and `leave` events carry it. */
export interface PresenceEvent {
  readonly channel: string;
  readonly member: PresenceMember;
}

/** Options of {@link ServerCore.presence}: the protocol's query (`limit` defaults to 100). */
export type { PresenceQuery } from '../../protocol/index.js';

/** Options of {@link ServerCore.shutdown}. */
export interface ShutdownOptions {
  /** Overrides `shutdownCode`: 1012 (restart follows) or 1001 (going away for good). */
  code?: ShutdownCode;
  /**
   * Stop listening as the drain starts, so new connections go elsewhere (set behind a cluster primary or a
   * load balancer that retries); by default the server keeps answering upgrades with 503 while it drains.
   */
  stopListening?: boolean;
  /**
   * Something else already serves these clients, listening and ready: a rolling restart's replacement,
   * the successor of a zero-dark restart. Each close's `retry=` hint then says "now" (0 to a small
   * jitter) instead of the configured window; without it a shutdown that keeps listening tells clients
   * to come back after the drain window (nothing serves until a new process starts). @default false
   */
  successorReady?: boolean;
  /**
   * This drain's window, in ms, instead of `drainWindowMs`: for a restart whose window counts from an
   * earlier moment (a supervisor's signal, before its successor started). @default drainWindowMs
   */
  drainWindowMs?: number;
}

/**
 * Where a core's sockets come from (an HTTP server's upgrades, another transport's listener), as the
 * core's shutdown needs to reach it: register it with {@link ServerCore.addSource}.
 */
export interface SocketSource {
  /** Stop taking new connections at once (a shutdown with `stopListening`). */
  stopListening?(): void;
  /** Release what it holds; called once the drain is over, before the core closes a store it owns. */
  close?(): void | Promise<void>;
}

/** Options of {@link createServerCore}: the server's, with a logger required and the clock injectable. */
export interface ServerCoreOptions extends Omit<ServerOptions, 'logger'> {
  /** Where the core logs (pino's logger fits); the core loads no logging library of its own. */
  logger: Logger;
  /** Time for the drain, the heartbeat, the hello deadline and the rate limit. @default the system clock */
  clock?: Clock;
}

/**
 * A lifeline server without its transport: admission, the error boundary (1011), the drain (1012),
 * inbound backpressure, heartbeats, `lifeline.v1` sessions and channels, counters and events.
 * `LifelineServer` is this plus Node's HTTP server and `ws`.
 */
export class ServerCore {
  #options: ResolvedServerOptions;
  /** Extensions added with {@link ServerCore.use}, in order. */
  readonly #extensions: ServerExtension[] = [];
  /** What the server acts on: {@link ServerCore.settings} with the extensions' hook chains (the same object without extensions). */
  #effective!: ResolvedServerOptions;
  /** @internal where the core and its plumbing log */
  protected readonly logger: Logger;
  /** @internal the time every rule of the core reads */
  protected readonly clock: Clock;
  /** @internal the counters, written by the core's rooms and by the plumbing (accept errors, HTTP publishes) */
  protected readonly counters: ServerStats = emptyStats();
  readonly #emitter: Emitter<ServerEvents>;
  readonly #live = new Set<Connection>();
  #state: ServerState = 'running';
  #shutdownPromise: Promise<void> | undefined;
  #restartPromise: Promise<void> | undefined;
  /** A shutdown that stopped listening with a successor ready is under way (see `accepting`). */
  #handingOver = false;
  /** The hand-over's drain is done: a connection that still arrives is closed as it comes, with this plan. */
  #handedOver: DrainPlan | undefined;
  readonly #sources = new Set<SocketSource>();
  readonly #replayBudget: ByteBudget;
  /** The store holding history, sessions and dedupe records. */
  readonly store: Store;
  readonly #ownsStore: boolean;
  readonly #hub: ChannelHub;
  readonly #protocolContext: ProtocolContext;
  readonly #meter: OutputMeter;
  readonly #unwatch: (() => void) | undefined;
  /** The store's resubscription reports, answered by catch-up reads. */
  readonly #unresubscribe: (() => void) | undefined;
  /** The takeover channel, followed for the server's life (every node must hear every resume); followed again after a failed confirmation. */
  #takeoverFollow: ChannelFollow | undefined;
  /** The newest takeover announcement seen, where a catch-up of the takeover channel reads from. */
  #takeoverSeen: ChannelPosition | undefined;
  readonly #offAvailability: (() => void) | undefined;
  readonly #offRollback: (() => void) | undefined;
  /** The `lifeline.v1` state of each protocol connection. */
  readonly #sessions = new WeakMap<Connection, ProtocolSession>();
  /** Which connection holds each session (one live connection per session). */
  readonly #holders: SessionHolders;
  readonly #inbound: InboundBackpressure;
  readonly #boundary: ErrorBoundary;
  readonly #heartbeat: Heartbeat;
  readonly #admission: Admission;
  /** Presence on this process, when the store keeps it. */
  readonly #presence: PresenceService | undefined;
  readonly #connectionHost: ConnectionHost;

  /** @param options - see {@link ServerCoreOptions} */
  constructor(options: ServerCoreOptions) {
    const { logger, clock, ...rest } = options;
    this.#options = resolveServerOptions(rest);
    this.#effective = this.#options;
    this.logger = logger;
    this.clock = clock ?? systemClock;
    this.#emitter = new Emitter<ServerEvents>((error) => this.logger.error({ err: error }, 'server event listener threw'));
    this.#replayBudget = new ByteBudget(this.#options.maxReplayBytes);
    this.#ownsStore = options.store === undefined;
    this.store = options.store ?? createMemoryStore();
    this.#hub = new ChannelHub({ store: this.store, pageBytes: () => this.#options.replayPageBytes, storeFailed: (operation, error) => this.storeFailed(operation, error) });
    // Every node hears every resume (a store that delivers followed channels only is told so), and a
    // resume is announced only once this node hears announcements: two resumes cannot pass unseen.
    this.#takeoverFollow = this.store.watch ? this.store.follow?.(TAKEOVER_CHANNEL) : undefined;
    this.#takeoverFollow?.ready.catch(() => undefined);
    // A store shared by several processes carries resumes to all of them, so a takeover reaches every node.
    this.#holders = new SessionHolders(
      this.store.watch
        ? async (session, connection) => {
            await this.#takeoversHeard();
            return (await this.publish(TAKEOVER_CHANNEL, { session, connection })).message;
          }
        : undefined,
    );
    this.#presence = this.#presenceOf();
    this.#protocolContext = this.#protocolContextOf();
    this.#meter = this.#outputMeter();
    this.#inbound = new InboundBackpressure(() => this.#options, this.counters.inbound, this.logger);
    this.#boundary = new ErrorBoundary({
      clock: this.clock,
      logger: this.logger,
      inbound: this.#inbound,
      incident: (incident) => {
        this.counters.incidents += 1;
        this.#emitter.emit('incident', incident);
      },
    });
    this.#heartbeat = new Heartbeat({
      clock: this.clock,
      connections: () => this.#live,
      deadPeer: (connection) => {
        this.counters.deadPeers += 1;
        this.logger.warn({ connection: connection.id }, 'peer missed a heartbeat; terminating');
        this.#emitter.emit('dead-peer', connection);
      },
    });
    const core = this;
    this.#admission = new Admission({
      get settings() {
        return core.#effective;
      },
      get accepting() {
        // Handing over to a successor: a connection already on its way here when the listener closed is
        // served (and closed at once with "come back now" after the drain), not refused.
        return core.#state === 'running' || core.#state === 'restarting' || (core.#state === 'draining' && core.#handingOver);
      },
      get open() {
        return core.#live.size;
      },
      stats: this.counters,
      logger: this.logger,
    });
    // A shared store tells every process about every append; each delivers to its own subscribers, and
    // closes its connection of a session resumed elsewhere.
    this.#unwatch = this.store.watch?.((message) => this.#received(message));
    // A delivery that broke and was restored: what was published meanwhile is read from history, once per channel.
    this.#unresubscribe = this.store.onResubscribe?.((channels) => {
      this.counters.fanout.catchUps += this.#hub.catchUp(channels);
      if (channels.includes(TAKEOVER_CHANNEL)) void this.#catchUpTakeovers();
    });
    this.#offAvailability = this.store.onAvailability?.((available, reason) => {
      if (available) this.logger.info({ store: this.store.kind }, 'store available again');
      else this.logger.error({ store: this.store.kind, reason }, 'store unavailable; not ready, publishes refused until it is back');
    });
    // A rotated epoch is data the store lost (a failover): its readers are told, and so are the operators.
    this.#offRollback = this.store.onRollback?.((rollback) => {
      this.counters.storeRollbacks++;
      this.logger.warn(
        { store: this.store.kind, channel: rollback.channel, epoch: rollback.epoch, newEpoch: rollback.newEpoch, seen: rollback.seen, found: rollback.found },
        'store rollback: the store held less of a channel than was given out (a failover to a replica that was behind, a restored backup, commits lost to a power loss); its epoch was rotated, so its readers are told their history is incomplete',
      );
    });
    this.#connectionHost = this.#connectionHostOf();
    this.#heartbeat.start(this.#options.heartbeatMs);
  }

  /**
   * Resolves once this node hears resume announcements. A confirmation that failed (the store was
   * unavailable) is asked for again, so one outage at start does not stop resumes for good.
   * @throws what the store's `follow` rejects with
   */
  async #takeoversHeard(): Promise<void> {
    const follow = this.#takeoverFollow;
    if (follow === undefined) return;
    try {
      await follow.ready;
    } catch (error) {
      if (this.#takeoverFollow === follow && this.store.follow) {
        follow.release();
        this.#takeoverFollow = this.store.follow(TAKEOVER_CHANNEL);
        this.#takeoverFollow.ready.catch(() => undefined);
      }
      throw error;
    }
  }

  /** A message the shared store delivered to this process (from any process, this one's own included). */
  #received(message: StoredMessage): void {
    this.counters.fanout.received += 1;
    if (message.channel === TAKEOVER_CHANNEL) {
      const seen = this.#takeoverSeen;
      if (seen === undefined || seen.epoch !== message.epoch || seen.offset < message.offset) this.#takeoverSeen = { epoch: message.epoch, offset: message.offset };
      this.#holders.received(message);
    }
    if (!this.#hub.deliver(message) && message.channel !== TAKEOVER_CHANNEL) this.counters.fanout.unwanted += 1;
  }

  /** Read the resumes announced while the takeover channel's delivery was broken (from the newest one seen). */
  async #catchUpTakeovers(): Promise<void> {
    let from = this.#takeoverSeen;
    if (from === undefined) return;
    try {
      for (;;) {
        const page = await this.store.read(TAKEOVER_CHANNEL, from, 500);
        for (const m of page.messages) this.#received(m);
        const last = page.messages.at(-1);
        if (!page.more || last === undefined) return;
        from = { epoch: last.epoch, offset: last.offset };
      }
    } catch (error) {
      this.storeFailed('read', error);
    }
  }

  /** Presence, when the store keeps it: its lease and sweeps start now, so a restarted process sweeps what a dead one left. */
  #presenceOf(): PresenceService | undefined {
    const store = this.store.presence;
    if (!store) return undefined;
    const core = this;
    return new PresenceService({
      store,
      // The system clock, not the core's: presence deadlines are read from the store's clock, which the
      // core's (a test's manual one) does not drive; its timers only decide when to look.
      clock: systemClock,
      logger: this.logger,
      settings: () => ({ ...core.#options, presenceGraceMs: presenceGraceOf(core.#options) }),
      counters: this.counters.presence,
      storeFailed: (operation, error) => this.storeFailed(operation, error),
      changed: (change) => this.#emitter.emit(change.kind, { channel: change.channel, member: change.member }),
    });
  }

  /** What the `lifeline.v1` layer reads and reports; the settings are read live, so a reload reaches it. */
  #protocolContextOf(): ProtocolContext {
    const core = this;
    const counters = this.counters;
    return {
      store: this.store,
      hub: this.#hub,
      get settings() {
        return core.#effective;
      },
      claimWaitMs: 2000,
      replayBudget: this.#replayBudget,
      count: (what) => {
        counters.protocol[what] += 1;
      },
      holders: this.#holders,
      presence: this.#presence,
      publish: (channel, data, options) => this.publish(channel, data, options),
      storeFailed: (operation, error) => this.storeFailed(operation, error),
      replayed: (count) => {
        counters.replayed += count;
      },
      welcomed: (event) => {
        const { sessions } = counters;
        if (event.resumed) sessions.resumed += 1;
        else sessions.created += 1;
        // A resume attempt (a token or positions were presented) that could not restore everything.
        if (!event.recovered && (event.resumed || event.lost.length > 0)) sessions.notRecovered += 1;
        this.#emitter.emit('session', event);
      },
    };
  }

  /** What each connection reports about its output. */
  #outputMeter(): OutputMeter {
    const core = this;
    const counters = this.counters;
    return {
      get maxBufferedBytes() {
        return core.#options.maxBufferedBytes;
      },
      sent: () => {
        counters.messagesOut += 1;
      },
      unsent: (_connection, reason) => countIn(counters.unsent, reason),
      slowConsumer: (connection) => {
        counters.slowConsumers += 1;
        this.logger.warn({ connection: connection.id, buffered: connection.bufferedAmount }, 'slow consumer; closing with 1013');
        this.#emitter.emit('slow-consumer', connection);
      },
    };
  }

  /**
   * Publish to a channel: stored first (resolves once durable), then delivered to subscribers.
   * With an idempotency key already used, nothing new is stored and the first message is returned.
   */
  async publish(channel: string, data: Json, options: AppendOptions = {}): Promise<AppendResult> {
    const result = await this.store.append(channel, data, options);
    if (!result.duplicate) this.counters.published += 1;
    // A duplicate is offered too: if the first attempt died before fan-out, this delivers it; subscribers skip repeats.
    this.#hub.deliver(result.message);
    return result;
  }

  /** @internal count and log a failed store operation */
  protected storeFailed(operation: string, error: unknown): void {
    countIn(this.counters.storeErrors, operation);
    this.logger.error({ operation, err: error }, 'store operation failed');
  }

  /** Current lifecycle state. */
  get state(): ServerState {
    return this.#state;
  }

  /** Whether the server wants new connections (what `/readyz` reports): running, and its store available. */
  get ready(): boolean {
    return (this.#state === 'running' || this.#state === 'restarting') && this.store.available !== false;
  }

  /** Open connections. */
  get connections(): ReadonlySet<Connection> {
    return this.#live;
  }

  /** A snapshot of the counters. */
  stats(): ServerStats {
    const budget = this.#replayBudget;
    this.counters.replay = { bytesInFlight: budget.inUse, peakBytes: budget.peak, waits: budget.waits, budgetBytes: budget.limit };
    return structuredClone(this.counters);
  }

  /** The most recent incidents, newest last (at most 50). */
  recentIncidents(): readonly Incident[] {
    return this.#boundary.recent();
  }

  /** The application's options in force (its own hooks; extensions' hooks run before them, see {@link ServerCore.use}). */
  get settings(): Readonly<ResolvedServerOptions> {
    return this.#options;
  }

  /**
   * Add an extension's hooks (`authenticate`, `authorizeSubscribe`, `authorizePublish`, `authorizeReserved`):
   * each call meets the extensions' hooks in the order they were added, then the application's option of
   * the same name, which a reload may replace without touching the extensions. A hook decides, or returns
   * `next()` to hand the call on. Returns the function that removes them.
   * @throws TypeError for an extension without a name, with an unknown hook, or a hook that is not a function
   */
  use(extension: ServerExtension): () => void {
    checkExtension(extension);
    this.#extensions.push(extension);
    this.#effective = withExtensions(this.#options, this.#extensions, () => this.#options);
    return () => {
      const at = this.#extensions.indexOf(extension);
      if (at === -1) return;
      this.#extensions.splice(at, 1);
      this.#effective = withExtensions(this.#options, this.#extensions, () => this.#options);
    };
  }

  /** Listen to a server event; returns the unsubscribe function. */
  on<K extends keyof ServerEvents>(event: K, listener: (payload: ServerEvents[K]) => void): () => void {
    return this.#emitter.on(event, listener);
  }

  /**
   * Change settings at run time (a configuration reload). Handlers and timing options may change;
   * `maxPayload` and `subprotocols` apply to new connections only after a process restart.
   */
  reconfigure(options: Partial<ServerOptions>): void {
    const { logger: _ignored, ...rest } = options;
    this.#options = resolveServerOptions({ ...this.#options, ...rest });
    this.#effective = withExtensions(this.#options, this.#extensions, () => this.#options);
    this.#heartbeat.start(this.#state === 'stopped' ? 0 : this.#options.heartbeatMs);
  }

  /**
   * Run `work` for `connection` inside its error boundary, after the handlers already queued for it:
   * a throw closes that connection with 1011 and an incident id, exactly as a handler's would.
   */
  run(connection: Connection, work: () => void | Promise<void>): void {
    this.#boundary.enqueue(connection, 'message', work);
  }

  /**
   * Register where sockets come from, so a shutdown can stop it listening and close it. Returns a
   * function that unregisters it.
   */
  addSource(source: SocketSource): () => void {
    this.#sources.add(source);
    return () => {
      this.#sources.delete(source);
    };
  }

  /**
   * Decide whether an upgrade may become a connection, from the request's facts, before the handshake
   * (see `admission.ts`). A transport answers a {@link Refusal} over HTTP, completes the handshake for
   * an {@link Admitted}, then calls {@link accept} with it; `undefined` (the peer hung up): nothing to do.
   * @param peer - whether the peer is still there, watched while `authenticate` runs
   */
  admit(info: UpgradeInfo, peer: UpgradePeer): Verdict | Promise<Verdict | undefined> {
    return this.#admission.admit(info, peer);
  }

  /**
   * Take a socket whose handshake is complete. Returns the sink for its events, which the transport
   * calls in the order things happen (see {@link TransportEvents}).
   * @param admitted - what {@link admit} decided (the user, the credentials' expiry); @default anonymous
   */
  accept(socket: TransportSocket, info: UpgradeInfo, admitted?: Pick<Admitted, 'user' | 'expiresAt'>): TransportEvents {
    const { clock } = this;
    const connection = new Connection(newConnectionId(), info, socket, admitted?.user, this.#meter);
    this.#live.add(connection);
    this.counters.open += 1;
    this.counters.opened += 1;
    this.#emitter.emit('connection', connection);
    const { onConnection, rateLimit, helloTimeoutMs } = this.#options;
    if (onConnection) this.#boundary.enqueue(connection, 'connection', () => onConnection(connection, info));
    const bucket = rateLimit ? new TokenBucket(rateLimit.messagesPerSecond, rateLimit.burst, clock.now()) : undefined;
    const session = socket.protocol === SUBPROTOCOL ? new ProtocolSession(connection, this.#protocolContext, admitted?.expiresAt) : undefined;
    if (session) this.#sessions.set(connection, session);
    const events = new ConnectionEvents(this.#connectionHost, connection, session, bucket);
    // A protocol client that never says hello holds a socket for nothing; only a `hello` stops the clock.
    // After a hand-over's drain: a client whose connection this process accepted in the last instant is
    // served a 1012 "come back now" (to the successor), never a reset.
    const handedOver = this.#handedOver;
    if (handedOver) queueMicrotask(() => void this.#closeLateArrivals(handedOver, [connection]));
    if (session) {
      events.helloTimer = inBackground(
        clock.setTimeout(() => {
          if (session.helloArrived || connection.state !== 'open') return;
          this.counters.helloTimeouts += 1;
          connection.close(1008, 'hello expected');
        }, helloTimeoutMs),
      );
    }
    return events;
  }

  /** What every connection's {@link ConnectionEvents} reads and reports; the settings are read live, so a reload reaches it. */
  #connectionHostOf(): ConnectionHost {
    const core = this;
    return {
      clock: this.clock,
      logger: this.logger,
      counters: this.counters,
      inbound: this.#inbound,
      boundary: this.#boundary,
      get settings() {
        return core.#effective;
      },
      forget: (connection) => {
        this.#live.delete(connection);
        this.#sessions.delete(connection);
      },
      emitClose: (event) => this.#emitter.emit('close', event),
    };
  }

  /**
   * Publish nothing, close nobody: cycle every current connection with 1012 across the drain window
   * while the server keeps accepting new connections (an in-process reload). This process keeps serving,
   * so every close's `retry=` hint says "now" (see `drain.ts`). Resolves when the cycle is done.
   */
  restart(): Promise<void> {
    if (this.#state !== 'running') return this.#restartPromise ?? this.#shutdownPromise ?? Promise.resolve();
    this.#setState('restarting');
    this.#restartPromise = this.#drain({ kind: 'restart', code: 1012, stopListening: false, successorReady: true }).finally(() => {
      this.#restartPromise = undefined;
      if (this.#state === 'restarting') this.#setState('running');
    });
    return this.#restartPromise;
  }

  /**
   * Drain and stop: readiness turns false, new upgrades get 503, in-flight handlers get `graceMs`,
   * connections close with 1012 (or 1001) paced across the drain window, stragglers are terminated,
   * and every socket source is closed (the HTTP server `listen()` created, with `LifelineServer`).
   */
  shutdown(options: ShutdownOptions = {}): Promise<void> {
    if (this.#shutdownPromise) return this.#shutdownPromise;
    const code = options.code ?? this.#options.shutdownCode;
    const stopListening = options.stopListening === true;
    const successorReady = options.successorReady === true;
    const windowMs = options.drainWindowMs;
    // (A successor-ready shutdown that stops listening hands over: see `accepting`.)
    if (windowMs !== undefined && !(Number.isFinite(windowMs) && windowMs >= 0)) throw new RangeError('drainWindowMs must be a number of ms >= 0');
    this.#setState('draining');
    this.#shutdownPromise = (async () => {
      // Behind a cluster primary, closing the listener at once makes it route new connections to the
      // other workers instead of to one that would only answer 503.
      if (stopListening) for (const source of this.#sources) source.stopListening?.();
      this.#handingOver = stopListening && successorReady;
      await this.#drain({ kind: 'shutdown', code, stopListening, successorReady }, windowMs);
      if (this.#handingOver) {
        // Connections that arrived after the drain began (accepted before the listener closed) go now,
        // and any that still arrive until the sockets close are told to go as they come (see `accept`).
        const plan: DrainPlan = { kind: 'shutdown', code, stopListening, successorReady };
        this.#handedOver = plan;
        if (this.#live.size > 0) await this.#closeLateArrivals(plan, [...this.#live]);
      }
      this.#unwatch?.();
      this.#unresubscribe?.();
      this.#takeoverFollow?.release();
      this.#offAvailability?.();
      this.#offRollback?.();
      this.#heartbeat.stop();
      // Drained: every member this process held is detached (or left). Its lease runs out on its own.
      this.#presence?.stop();
      for (const source of this.#sources) await source.close?.();
      if (this.#ownsStore) await this.store.close();
      this.#setState('stopped');
    })();
    return this.#shutdownPromise;
  }

  /**
   * Close, at once and with the drain's code and hint, the connections that arrived during a hand-over
   * drain. Part of that drain: no drain of its own in the counters, events or log.
   */
  #closeLateArrivals(plan: DrainPlan, connections: Connection[]): Promise<void> {
    const { logger } = this;
    this.logger.info({ count: connections.length }, 'closing connections that arrived during the hand-over');
    const quiet: Logger = { info: () => {}, warn: (fields, message) => logger.warn(fields, message), error: (fields, message) => logger.error(fields, message) };
    return drain(connections, plan, { ...this.#options, drainWindowMs: 0 }, { clock: this.clock, logger: quiet, observer: { started: () => {}, finished: () => {} } });
  }

  /** Drain the connections open now. */
  #drain(plan: DrainPlan, windowMs?: number): Promise<void> {
    const settings = windowMs === undefined ? this.#options : { ...this.#options, drainWindowMs: windowMs };
    return drain([...this.#live], plan, settings, {
      clock: this.clock,
      logger: this.logger,
      observer: {
        started: (event) => {
          this.counters.drains += 1;
          this.#emitter.emit('drain-start', event);
        },
        finished: (event) => this.#emitter.emit('drain-end', event),
      },
    });
  }

  #setState(state: ServerState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.logger.info({ state }, 'server state');
    this.#emitter.emit('state', state);
  }

  // ---- Read-only views for operator tools (the dashboard console). Nothing here changes state. ----

  /** The channels a `lifeline.v1` connection of this process is subscribed to (empty for a plain WebSocket). */
  channelsOf(connection: Connection): readonly string[] {
    return this.#sessions.get(connection)?.channels ?? [];
  }

  /** The `lifeline.v1` session id of a connection of this process, once its `hello` was answered. */
  sessionOf(connection: Connection): string | undefined {
    return this.#sessions.get(connection)?.sessionId;
  }

  /** Every channel with subscribers on this process, and how many. */
  subscriberCounts(): IterableIterator<[channel: string, subscribers: number]> {
    return this.#hub.counts();
  }

  // ---- Presence ----

  /** Presence changes waiting for the per-channel event rate on this process (for metrics). */
  get presenceWaiting(): number {
    return this.#presence?.feeds.waiting ?? 0;
  }

  /** Whether this server keeps presence (its store does). */
  get hasPresence(): boolean {
    return this.#presence !== undefined;
  }

  /**
   * A page of `channel`'s presence members (every member, whichever process holds it, within its grace
   * included), in session id order; pass the page's `next` as `after` for the following one.
   * @throws PresenceUnavailableError when the store keeps no presence; what the store throws
   */
  async presence(channel: string, query: PresenceQuery = {}): Promise<PresencePage> {
    if (!this.#presence) throw new PresenceUnavailableError(this.store.kind);
    const limit = query.limit ?? PRESENCE_PAGE_MAX;
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`limit must be an integer >= 1, got ${String(limit)}`);
    return this.#presence.page(channel, query.after, limit);
  }

  /**
   * How many members `channel`'s presence has.
   * @throws PresenceUnavailableError when the store keeps no presence; what the store throws
   */
  async presenceCount(channel: string): Promise<number> {
    if (!this.#presence) throw new PresenceUnavailableError(this.store.kind);
    return this.#presence.count(channel);
  }
}

/** What the events of every connection need from their core: made once per core. */
interface ConnectionHost {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly counters: ServerStats;
  readonly inbound: InboundBackpressure;
  readonly boundary: ErrorBoundary;
  /** The options in force now. */
  readonly settings: ResolvedServerOptions;
  /** The connection is gone: no longer open, no longer a protocol connection. */
  forget(connection: Connection): void;
  /** Tell the `close` listeners. */
  emitClose(event: ServerEvents['close']): void;
}

/**
 * What a transport reports about one connection, handled (see {@link TransportEvents}). One object per
 * connection with its methods on the prototype: a connection keeps it for as long as it lives, where a
 * closure per event would be five functions and their context per connection.
 */
class ConnectionEvents implements TransportEvents {
  /** The hello deadline of a protocol connection, until its `hello` arrives. */
  helloTimer: unknown;

  constructor(
    private readonly host: ConnectionHost,
    private readonly connection: Connection,
    private readonly session: ProtocolSession | undefined,
    private readonly bucket: TokenBucket | undefined,
  ) {}

  message(data: string | Uint8Array, isBinary: boolean): void {
    const { host, connection, session } = this;
    connection.awaitingPong = false;
    if (connection.state !== 'open') return;
    host.counters.messagesIn += 1;
    if (this.bucket && !this.bucket.take(host.clock.now())) {
      host.counters.rateLimited += 1;
      host.logger.warn({ connection: connection.id }, 'rate limit exceeded; closing with 1008');
      connection.close(1008, 'rate limit exceeded');
      return;
    }
    const size = typeof data === 'string' ? data.length : data.byteLength;
    if (!host.inbound.admit(connection, size)) return;
    if (session) {
      if (!session.helloArrived && isHello(data)) {
        session.helloArrived = true;
        this.#stopHelloTimer();
      }
      host.boundary.enqueue(connection, 'message', () => session.handle(data), size);
      return;
    }
    const { onMessage } = host.settings;
    if (onMessage) host.boundary.enqueue(connection, 'message', () => onMessage(connection, data, isBinary), size);
  }

  pong(): void {
    this.connection.awaitingPong = false;
  }

  peerClosing(): Promise<void> | undefined {
    const { connection } = this;
    connection.peerClosing();
    // Replies to what the peer sent before its Close go out first, within the grace period.
    if (connection.inboundCount === 0) {
      connection.peerCloseAnswered();
      return undefined;
    }
    return within(this.host.clock, connection.chain, this.host.settings.graceMs).then(() => connection.peerCloseAnswered());
  }

  protocolError(error: Error, closeCode: number): void {
    const { host, connection } = this;
    // The peer's mistake, answered by the transport with its own code; never an incident.
    connection.closedBy ??= 'server';
    connection.protocolClosing();
    countIn(host.counters.protocolErrors, closeCode);
    // The error's text goes under `detail`: a `msg` field beside the message argument would write the
    // key twice in a JSON line, and a parser keeps only one of the two.
    host.logger.warn({ connection: connection.id, closeCode, code: (error as { code?: string }).code, detail: error.message }, 'peer protocol error');
  }

  closed(code: number, reason: string): void {
    const { host, connection } = this;
    const closedBy = connection.closedBy ?? (code === 1006 ? 'transport' : 'client');
    connection.closedBy = closedBy;
    connection.setClosed();
    host.inbound.closed(connection);
    host.forget(connection);
    host.counters.open -= 1;
    countIn(host.counters.closesByCode, code);
    host.counters.closesBy[closedBy] += 1;
    connection.markClosed();
    this.#stopHelloTimer();
    this.session?.close(code, closedBy);
    host.emitClose({ connection, code, reason, closedBy });
    const { onClose } = host.settings;
    if (onClose) host.boundary.enqueue(connection, 'close', () => onClose(connection, code, reason));
  }

  #stopHelloTimer(): void {
    if (this.helloTimer === undefined) return;
    this.host.clock.clearTimeout(this.helloTimer);
    this.helloTimer = undefined;
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

/**
 * Create a server core for a transport of your own: hand it upgrades with `admit`, sockets with
 * `accept`. For Node's HTTP server and `ws`, use `createServer` instead.
 */
export function createServerCore(options: ServerCoreOptions): ServerCore {
  return new ServerCore(options);
}
