/**
 * The `lifeline.v1` client: a {@link LifelineClient} (reconnect policy, states, dead-link detection)
 * plus the session protocol on top of it — hello/welcome and resume, channel subscriptions delivered
 * to the application exactly once and in order, and acknowledged messages that are queued while
 * disconnected and resent until the server answers.
 *
 * What the session remembers across connections, and why:
 * - the resume token, so the server can restore subscriptions and replay what was missed;
 * - a random `origin`, made once per session object, so resends are deduplicated by the server even
 *   when the session could not be resumed (the server dedupes by origin + message id);
 * - per channel, the last position *delivered to the application*: what it presents in `hello` and
 *   re-subscribes from, and what every incoming message is checked against (repeats dropped, gaps
 *   re-synchronised, losses surfaced as `recovery` events — never silently short);
 * - every message not yet answered, in id order, bounded by `maxQueue`.
 *
 * Imports nothing from Node: runs in browsers unchanged.
 * @packageDocumentation
 */
import type { LifelineError } from '../errors.js';
import { LifelineCloseCode } from '../codes/close-code.js';
import {
  ErrorCode,
  MAX_HELLO_CHANNELS,
  SUBPROTOCOL,
  decodeServerFrame,
  encodeFrame,
  type AckFrame,
  type ClientFrame,
  type ErrorFrame,
  type EventFrame,
  type HelloFrame,
  type Json,
  type Position,
  type RejectFrame,
  type SubscribedFrame,
  type WelcomeFrame,
} from '../protocol/frames.js';
import { DEFAULT_BACKOFF, backoffCeiling, backoffDelay, draw } from './backoff.js';
import type { BackoffOptions, RandomSource } from './backoff.js';
import { LifelineClient } from './client.js';
import type { ClientEvents, ClientState, MessageData } from './client.js';
import { defaultClock } from './environment.js';
import type { Clock } from './environment.js';
import {
  ClientClosedError,
  CredentialsError,
  DeclinedError,
  ListenerError,
  NotOpenError,
  PolicyError,
  QueueFullError,
  RejectedError,
  ServerError,
  ServerFrameError,
  SubprotocolError,
} from './errors.js';
import { TypedEmitter } from './events.js';
import type { Listener, Unsubscribe } from './events.js';
import type { ClientOptions, UrlContext } from './options.js';
import { analyzeClose, diagnose } from './policy.js';
import type { PolicyDecision, PolicyFunction } from './policy.js';
import { Outbox } from './outbox.js';
import type { OutboxEntry } from './outbox.js';
import { ChannelCursor } from './positions.js';

/** Options of {@link createSession}: every {@link ClientOptions} option (except `protocols`, always `lifeline.v1`), plus these. */
export interface SessionOptions extends Omit<ClientOptions, 'protocols'> {
  /**
   * Most messages (`send` + `publish`) held at once, unacknowledged or queued. One more is refused:
   * its promise rejects with {@link QueueFullError} and the error is emitted on `error`. @default 1000
   */
  readonly maxQueue?: number;
  /**
   * The server's heartbeat interval to expect before a `welcome` says what it is, in milliseconds. It
   * sets the default `deadLinkMs` (2.5 times this) and bounds how long the session stays silent: after
   * `welcome`, a `ping` goes out whenever nothing was received for half the server's `heartbeatMs`
   * (and never later than `deadLinkMs / 2.5`), so the dead-link check also works in browsers, which
   * cannot see WebSocket-level pings. @default 30000
   */
  readonly heartbeatMs?: number;
  /**
   * How long to wait before resending a message the server could not store (`error` `UNAVAILABLE`):
   * the n-th resend waits between half and all of `min(capMs, baseMs * factor ** (n - 1))` ms, drawn
   * from `random`. The message stays pending meanwhile. @default { baseMs: 500, factor: 2, capMs: 10000 }
   */
  readonly resendBackoff?: Partial<BackoffOptions>;
  /**
   * Treat the link as dead after this many milliseconds without any message from the server.
   * 0 turns it off. @default 2.5 times `heartbeatMs`
   */
  readonly deadLinkMs?: number;
  /**
   * Credentials for the server's `authenticate` hook, sent inside the protocol (`hello.auth`) rather than
   * in the URL. Called before every connection attempt (a throw or rejection counts as a failed attempt,
   * with backoff) and again to refresh them on a live connection before the server's `authTtlMs` runs
   * out. After a 4802 (credentials expired or refused) the session calls it and reconnects at once,
   * backing off after that and stopping after three 4802s in a row. @default none
   */
  readonly auth?: () => Json | PromiseLike<Json>;
}

/** Defaults of the session's own options. */
export const SESSION_DEFAULTS = {
  maxQueue: 1000,
  heartbeatMs: 30_000,
  resendBackoff: { baseMs: 500, factor: 2, capMs: 10_000 },
  /** `deadLinkMs` defaults to this multiple of `heartbeatMs`. */
  deadLinkFactor: 2.5,
} as const;

/** A channel message, delivered to the application exactly once and in offset order. */
export interface SessionMessage {
  /** The channel. */
  readonly channel: string;
  /** The message's payload. */
  readonly data: Json;
  /** The channel's epoch (offsets are only comparable within one epoch). */
  readonly epoch: string;
  /** The message's offset in the channel. */
  readonly offset: number;
}

/** The server's `welcome`, without the secret token. */
export interface WelcomeInfo {
  /** The session id (public; the same after a resume). */
  readonly session: string;
  /** Whether the previous session was resumed (subscriptions restored by the server). */
  readonly resumed: boolean;
  /** The server's `recovered` flag. */
  readonly recovered: boolean;
  /** Channels the server says it could not restore. */
  readonly lost: readonly string[];
  /** The server's heartbeat interval, in milliseconds. */
  readonly heartbeatMs: number;
  /** When the resume token expires, ms since the epoch (server clock). */
  readonly expiresAt: number;
  /** When the connection's credentials expire, in ms from the welcome (absent: they do not); the session refreshes them before. */
  readonly authTtlMs?: number;
}

/**
 * Something could not be restored. Session-wide (no `channel`): the session was not resumed, so the
 * server kept nothing; the client re-subscribes every channel from its last delivered position, and
 * each channel's `subscribed` event says whether its history still covered the gap. Per channel
 * (`channel` set): messages of that channel were missed and will not be delivered.
 */
export interface RecoveryInfo {
  /** Always false: a `recovery` event reports a loss. */
  readonly recovered: false;
  /** The channels concerned (for a channel event: just that one). */
  readonly lost: readonly string[];
  /** For a channel event: the channel. */
  readonly channel?: string;
  /** For a channel event: true when the channel's epoch changed (its history restarted). */
  readonly epochChanged?: boolean;
}

/** A subscription is active on the current connection. */
export interface SubscribedInfo {
  /** The channel. */
  readonly channel: string;
  /** The channel's epoch. */
  readonly epoch: string;
  /** Delivery continues after this offset. */
  readonly offset: number;
  /** False when messages were missed (a `recovery` event for the channel follows). */
  readonly recovered: boolean;
}

/** Event names and payloads of {@link LifelineSession.on}. */
export interface SessionEvents {
  /** The transport's state changed (see {@link ClientState}). */
  state: ClientEvents['state'];
  /** A connection attempt starts. */
  connecting: ClientEvents['connecting'];
  /** The WebSocket opened (the `hello` is sent next; wait for `welcome` before expecting traffic). */
  open: ClientEvents['open'];
  /** The connection closed, with the code explained and what happens next (`incident` for a 1011). */
  close: ClientEvents['close'];
  /** The next attempt is scheduled. */
  reconnecting: ClientEvents['reconnecting'];
  /** A close retrying cannot fix; call `reconnect()` to start again. */
  stopped: ClientEvents['stopped'];
  /** `maxAttempts` used up; call `reconnect()` to start again. */
  exhausted: ClientEvents['exhausted'];
  /** The server accepted the session on this connection; queued messages are being sent. */
  welcome: WelcomeInfo;
  /** Something could not be restored: see {@link RecoveryInfo}. */
  recovery: RecoveryInfo;
  /** A subscription became active (after every connect, and after a re-sync). */
  subscribed: SubscribedInfo;
  /** A channel message, exactly once, in order. */
  message: SessionMessage;
  /**
   * Something went wrong that the session handled or reports: socket errors, dead links, `error`
   * frames ({@link ServerError}), an overflowing outbox ({@link QueueFullError}), bad server frames.
   */
  error: LifelineError;
}

/** Options of {@link LifelineSession.subscribe}. */
export interface SubscribeOptions {
  /** Continue after this position (e.g. one saved from {@link LifelineSession.positions}): history after it is replayed. */
  readonly from?: Position;
}

/** What {@link LifelineSession.publish} resolves with. */
export interface PublishResult {
  /** Where the message was stored in the channel. */
  readonly offset: number;
  /** The channel's epoch that offset belongs to. */
  readonly epoch: string;
}

/** Consecutive 4802 closes after which the session stops instead of fetching credentials again. */
const MAX_CREDENTIAL_RETRIES = 3;

const CHANNEL = /^[\x21-\x7e]{1,200}$/;

/** A pending timer; an object so a clock whose handles are falsy still works. */
interface Timer {
  readonly handle: unknown;
}

/**
 * A `lifeline.v1` session. Create one with {@link createSession}.
 *
 * @example
 * ```ts
 * const session = createSession({ url: 'wss://example.com/live' });
 * session.subscribe('news');
 * session.on('message', ({ channel, data, offset }) => render(channel, data, offset));
 * session.on('recovery', ({ lost }) => refetch(lost));
 * await session.send({ type: 'hello' }); // resolves once the server's handler has run
 * ```
 */
export class LifelineSession {
  readonly #client: LifelineClient;
  readonly #emitter: TypedEmitter<SessionEvents>;
  readonly #clock: Clock;
  readonly #random: RandomSource;
  readonly #resendBackoff: BackoffOptions;
  readonly #heartbeatMs: number;
  readonly #deadLinkMs: number;
  readonly #origin: string;
  readonly #outbox: Outbox;

  /** Channels the application wants, with its position in each. */
  readonly #channels = new Map<string, ChannelCursor>();
  /** Channels the server's session holds, as far as this client knows (a confirmed `sub`, no `unsub` since). */
  readonly #serverHas = new Set<string>();
  /** `sub` sent on the current connection, not answered yet. */
  readonly #subscribing = new Set<string>();
  /** `unsub` sent on the current connection, not answered yet. */
  readonly #unsubscribing = new Set<string>();

  #token: string | undefined;
  #sessionId: string | undefined;
  #expiresAt: number | undefined;
  #connected = false;
  #ready = false;
  #closed = false;
  #presentedToken = false;
  /** Last time something was received or a ping was sent: silence is counted from here. */
  #quietSince = 0;
  #pingAfterMs = 0;
  #pingTimer: Timer | undefined;
  #pingSeq = 0;
  /** Set while the outbox is held after an `UNAVAILABLE` (see #scheduleResend). */
  #holdTimer: unknown;
  #holdRetries = 0;
  /** The `n` of the ping sent right after a resumed welcome; its pong means the restore is complete. */
  #syncPing: number | undefined;
  readonly #auth: (() => Json | PromiseLike<Json>) | undefined;
  /** Credentials fetched for the attempt under way, sent in its `hello`. */
  #credentials: { readonly value: Json } | undefined;
  #refreshTimer: Timer | undefined;

  /** Prefer {@link createSession}. Throws `TypeError`/`RangeError` for invalid options. */
  constructor(options: SessionOptions) {
    if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object with at least a url');
    const { maxQueue = SESSION_DEFAULTS.maxQueue, heartbeatMs = SESSION_DEFAULTS.heartbeatMs, resendBackoff, auth, ...rest } = options;
    if (auth !== undefined && typeof auth !== 'function') throw new TypeError('auth must be a function returning the credentials');
    this.#auth = auth;
    if (typeof maxQueue !== 'number' || !Number.isInteger(maxQueue) || maxQueue < 1) {
      throw new RangeError(`maxQueue must be an integer >= 1, got ${String(maxQueue)}`);
    }
    if (typeof heartbeatMs !== 'number' || !Number.isFinite(heartbeatMs) || heartbeatMs <= 0) {
      throw new RangeError(`heartbeatMs: ${String(heartbeatMs)}`);
    }
    this.#resendBackoff = resolveBackoff(resendBackoff);
    this.#heartbeatMs = heartbeatMs;
    const deadLinkMs = rest.deadLinkMs ?? SESSION_DEFAULTS.deadLinkFactor * heartbeatMs;
    // The client validates and resolves everything else; a `protocols` smuggled in untyped is overridden.
    this.#client = new LifelineClient({
      ...rest,
      deadLinkMs,
      protocols: [SUBPROTOCOL],
      ...(auth ? { url: this.#withCredentials(rest.url), policy: this.#credentialPolicy(rest.policy, rest.backoff) } : {}),
    });
    this.#deadLinkMs = deadLinkMs;
    this.#clock = rest.clock ?? defaultClock();
    this.#random = rest.random ?? (() => Math.random());
    this.#origin = makeOrigin(this.#random);
    this.#outbox = new Outbox(maxQueue);
    this.#emitter = new TypedEmitter<SessionEvents>((error, event) => {
      if (event === 'error') rethrowAsync(error);
      else this.#reportBug(new ListenerError(String(event), { cause: error }), error);
    });
    this.#wire();
  }

  // ---- accessors ------------------------------------------------------------------------------

  /** The transport's state (`open` once the WebSocket is open; see {@link LifelineSession.ready} for the session). */
  get state(): ClientState {
    return this.#client.state;
  }

  /** Whether the server welcomed the session on the current connection (messages flow). */
  get ready(): boolean {
    return this.#ready;
  }

  /** The session id from the latest `welcome`, if any. */
  get session(): string | undefined {
    return this.#sessionId;
  }

  /** When the resume token expires, ms since the epoch (server clock), if a `welcome` was received. */
  get expiresAt(): number | undefined {
    return this.#expiresAt;
  }

  /** This session object's origin: 32 hex characters, the namespace the server dedupes message ids in. */
  get origin(): string {
    return this.#origin;
  }

  /** Messages not yet acknowledged or rejected (sent or queued). */
  get pending(): number {
    return this.#outbox.size;
  }

  /** Channels subscribed by the application, in subscription order. */
  get channels(): readonly string[] {
    return [...this.#channels.keys()];
  }

  /** The underlying reconnecting client (for its `attempt`, `lastClose` ...). Do not `send()` on it. */
  get transport(): LifelineClient {
    return this.#client;
  }

  /**
   * The last position delivered to the application in each subscribed channel (channels with no
   * position yet are left out). A snapshot: save it to continue later with `subscribe(channel, { from })`.
   */
  positions(): Record<string, Position> {
    const out: Record<string, Position> = {};
    for (const [channel, cursor] of this.#channels) {
      const p = cursor.position;
      if (p) out[channel] = { epoch: p.epoch, offset: p.offset };
    }
    return out;
  }

  // ---- control --------------------------------------------------------------------------------

  /**
   * Listen to an event; returns the function that stops listening. A throwing listener does not
   * disturb the session (reported on `error` as a `ListenerError`).
   */
  on<K extends keyof SessionEvents>(event: K, listener: Listener<SessionEvents[K]>): Unsubscribe {
    return this.#emitter.on(event, listener);
  }

  /** Connect now (see {@link LifelineClient.connect}); needed with `autoConnect: false`. */
  connect(): void {
    this.#client.connect();
  }

  /** Start again after `stopped` or `exhausted` (see {@link LifelineClient.reconnect}). */
  reconnect(): void {
    this.#client.reconnect();
  }

  /**
   * Subscribe to a channel; remembered across reconnects until {@link LifelineSession.unsubscribe}.
   * Subscribing again to a channel already subscribed does nothing.
   * @param channel - 1-200 printable ASCII characters
   * @throws TypeError for a bad channel name; {@link ClientClosedError} after `close()`
   */
  subscribe(channel: string, options: SubscribeOptions = {}): void {
    if (this.#closed) throw new ClientClosedError();
    checkChannel(channel);
    const from = options.from;
    if (from !== undefined) checkPosition(from);
    if (this.#channels.has(channel)) return;
    this.#channels.set(channel, new ChannelCursor(from));
    if (this.#ready && !this.#subscribing.has(channel)) this.#sendSub(channel);
  }

  /**
   * Stop delivering a channel and forget its position. Messages of the channel already in flight are dropped.
   * @throws TypeError for a bad channel name
   */
  unsubscribe(channel: string): void {
    checkChannel(channel);
    if (!this.#channels.delete(channel)) return;
    if (this.#ready && (this.#serverHas.has(channel) || this.#subscribing.has(channel))) this.#sendUnsub(channel);
    // Not ready: the next welcome reconciles (or the restored subscription is cancelled when it shows up).
  }

  /**
   * Send an acknowledged message to the server's handler (a `msg` frame). Queued while disconnected
   * and resent until answered; the server runs its handler at most once per message.
   * @returns resolves once the handler has run, with what it returned (`undefined` when it returned
   *   nothing); rejects with {@link DeclinedError} (the handler declined it: `error` is the application's
   *   code), {@link RejectedError} (never resent: `HANDLER_FAILED`, `OUTCOME_UNKNOWN`, `CONFLICT` ...),
   *   {@link QueueFullError} (not accepted) or {@link ClientClosedError} (`close()` before an answer)
   * @throws TypeError synchronously when `data` is not JSON-serialisable
   */
  send(data: Json): Promise<Json | undefined> {
    const json = jsonText(data);
    return this.#enqueue('msg', (id) => `{"t":"msg","id":${id},"data":${json}}`).then((ack) => ack.result);
  }

  /**
   * Publish to a channel (a `pub` frame), if the server authorises it. Stored once however often it
   * is resent. Resolves with the stored message's offset and epoch.
   * @throws TypeError synchronously for a bad channel name or data that is not JSON-serialisable
   */
  publish(channel: string, data: Json): Promise<PublishResult> {
    checkChannel(channel);
    const json = jsonText(data);
    const ch = JSON.stringify(channel);
    return this.#enqueue('pub', (id) => `{"t":"pub","id":${id},"ch":${ch},"data":${json}}`).then((ack) => {
      if (typeof ack.off !== 'number' || typeof ack.epoch !== 'string') this.#emitError(new ServerFrameError(`ack of publish ${ack.id} has no offset and epoch`));
      return { offset: typeof ack.off === 'number' ? ack.off : Number.NaN, epoch: typeof ack.epoch === 'string' ? ack.epoch : '' };
    });
  }

  /**
   * Close for good: the connection is closed with `code`/`reason`, pending and queued messages reject
   * with {@link ClientClosedError}, timers stop. Calling it again does nothing.
   * @param code - 1000 or 3000-4999. @default 1000
   * @param reason - at most 123 bytes of UTF-8. @default ''
   */
  close(code = 1000, reason = ''): void {
    if (this.#closed) return;
    // First, so an invalid code throws before anything changes.
    this.#client.close(code, reason);
    this.#closed = true;
    this.#onDisconnected();
    this.#releaseHold();
    for (const entry of this.#outbox.drain()) {
      this.#cancelTimer(entry);
      entry.reject(new ClientClosedError());
    }
  }

  // ---- transport ------------------------------------------------------------------------------

  #wire(): void {
    const c = this.#client;
    c.on('state', (e) => {
      if (e.previous === 'open') this.#onDisconnected();
      this.#emitter.emit('state', e);
    });
    c.on('connecting', (e) => this.#emitter.emit('connecting', e));
    c.on('open', (e) => {
      this.#emitter.emit('open', e);
      this.#onOpen(e.protocol);
    });
    c.on('message', ({ data }) => this.#onMessage(data));
    c.on('close', (e) => {
      this.#onDisconnected();
      this.#emitter.emit('close', e);
    });
    c.on('reconnecting', (e) => this.#emitter.emit('reconnecting', e));
    c.on('stopped', (e) => this.#emitter.emit('stopped', e));
    c.on('exhausted', (e) => this.#emitter.emit('exhausted', e));
    c.on('error', (e) => {
      // Bugs in user code (a throwing policy option) must not vanish when nobody listens on the session.
      if (e instanceof PolicyError && !this.#emitter.has('error')) rethrowAsync(e);
      else this.#emitter.emit('error', e);
    });
  }

  #onOpen(protocol: string): void {
    if (this.#closed || this.#client.state !== 'open') return;
    if (protocol !== SUBPROTOCOL) {
      // A server that does not speak lifeline.v1 will not start to on a retry.
      this.#emitError(new SubprotocolError(protocol));
      this.close();
      return;
    }
    this.#connected = true;
    this.#quietSince = this.#clock.now();
    const channels: Record<string, Position> = {};
    let listed = 0;
    for (const [channel, cursor] of this.#channels) {
      const p = cursor.position;
      // The server refuses a hello listing more; channels left out are re-subscribed from their positions.
      if (!p || listed >= MAX_HELLO_CHANNELS) continue;
      channels[channel] = { epoch: p.epoch, offset: p.offset };
      listed += 1;
    }
    this.#presentedToken = this.#token !== undefined;
    const credentials = this.#credentials;
    this.#credentials = undefined;
    const hello: HelloFrame = {
      t: 'hello',
      v: 1,
      origin: this.#origin,
      ...(this.#token !== undefined ? { token: this.#token } : {}),
      ...(listed > 0 ? { channels } : {}),
      ...(credentials !== undefined ? { auth: credentials.value } : {}),
    };
    this.#sendFrame(hello);
  }

  #onDisconnected(): void {
    if (!this.#connected) return;
    this.#connected = false;
    this.#ready = false;
    this.#syncPing = undefined;
    this.#cancelPing();
    this.#cancelRefresh();
    this.#outbox.disconnected();
    for (const cursor of this.#channels.values()) cursor.suspend();
    this.#subscribing.clear();
    this.#unsubscribing.clear();
  }

  #onMessage(data: MessageData): void {
    if (this.#closed || !this.#connected) return;
    this.#quietSince = this.#clock.now();
    if (typeof data !== 'string') {
      this.#emitError(new ServerFrameError('binary from the server'));
      return;
    }
    let frame;
    try {
      frame = decodeServerFrame(data);
    } catch (error) {
      this.#emitError(new ServerFrameError(`the server sent a bad frame: ${error instanceof Error ? error.message : String(error)}`, { cause: error }));
      return;
    }
    // Unknown frame types come from newer servers; ignoring them is the versioning rule.
    if (frame === undefined) return;
    switch (frame.t) {
      case 'welcome':
        this.#onWelcome(frame);
        return;
      case 'authed':
        this.#scheduleRefresh(frame.authTtlMs);
        return;
      case 'subscribed':
        this.#onSubscribed(frame);
        return;
      case 'unsubscribed':
        this.#unsubscribing.delete(frame.ch);
        return;
      case 'ev':
        this.#onEvent(frame);
        return;
      case 'ack':
        this.#onAck(frame);
        return;
      case 'reject':
        this.#onReject(frame);
        return;
      case 'error':
        this.#onErrorFrame(frame);
        return;
      case 'pong':
        if (frame.n !== undefined && frame.n === this.#syncPing) this.#onRestoreComplete();
        return;
    }
  }

  // ---- session --------------------------------------------------------------------------------

  #onWelcome(w: WelcomeFrame): void {
    if (this.#ready) {
      this.#emitError(new ServerFrameError('the server sent a second welcome on one connection'));
      return;
    }
    const sameSession = w.resumed === true && w.session === this.#sessionId;
    this.#token = w.token;
    this.#sessionId = w.session;
    this.#expiresAt = w.expiresAt;
    this.#ready = true;
    // A new session holds nothing on the server: every channel is subscribed afresh.
    if (!sameSession) this.#serverHas.clear();

    // Subscriptions. A resumed session's channels are restored by the server (a `subscribed` each,
    // replaying from the positions in the hello); the rest are (re-)subscribed from their positions.
    for (const channel of this.#channels.keys()) if (!this.#serverHas.has(channel)) this.#sendSub(channel);
    for (const channel of [...this.#serverHas]) if (!this.#channels.has(channel)) this.#sendUnsub(channel);
    if (sameSession) {
      // The server answers this ping after its restore is done: then anything not live is re-subscribed.
      this.#syncPing = ++this.#pingSeq;
      this.#sendFrame({ t: 'ping', n: this.#syncPing });
    }

    // Every unanswered message, in id order: resends are safe, the server dedupes by origin + id.
    this.#releaseHold();
    this.#flushOutbox();

    this.#pingAfterMs = pingInterval(w.heartbeatMs, this.#deadLinkMs, this.#heartbeatMs);
    this.#armPing();
    this.#scheduleRefresh(w.authTtlMs);

    const lost = Array.isArray(w.lost) ? w.lost.filter((c): c is string => typeof c === 'string') : [];
    this.#emitter.emit('welcome', {
      session: w.session,
      resumed: w.resumed === true,
      recovered: w.recovered === true,
      lost,
      heartbeatMs: w.heartbeatMs,
      expiresAt: w.expiresAt,
      ...(w.authTtlMs !== undefined ? { authTtlMs: w.authTtlMs } : {}),
    });
    // A listener may have closed the session; then there is nothing left to report.
    if (!this.#ready) return;
    if (w.resumed !== true && (this.#presentedToken || lost.length > 0)) {
      this.#emitter.emit('recovery', { recovered: false, lost });
    }
  }

  #onRestoreComplete(): void {
    this.#syncPing = undefined;
    for (const [channel, cursor] of this.#channels) {
      if (cursor.live || this.#subscribing.has(channel)) continue;
      // The server did not restore it after all (its record lagged behind ours): subscribe again.
      this.#serverHas.delete(channel);
      this.#sendSub(channel);
    }
  }

  #sendSub(channel: string): void {
    const cursor = this.#channels.get(channel);
    if (!cursor) return;
    cursor.suspend();
    const from = cursor.position;
    this.#subscribing.add(channel);
    this.#sendFrame(from ? { t: 'sub', ch: channel, from: { epoch: from.epoch, offset: from.offset } } : { t: 'sub', ch: channel });
  }

  #sendUnsub(channel: string): void {
    this.#serverHas.delete(channel);
    this.#subscribing.delete(channel);
    this.#unsubscribing.add(channel);
    this.#sendFrame({ t: 'unsub', ch: channel });
  }

  #onSubscribed(f: SubscribedFrame): void {
    const channel = f.ch;
    const cursor = this.#channels.get(channel);
    this.#subscribing.delete(channel);
    if (!cursor) {
      // Restored (or confirmed) after the application let go of it: cancel, unless already cancelling.
      if (!this.#unsubscribing.has(channel)) this.#sendUnsub(channel);
      return;
    }
    if (typeof f.epoch !== 'string' || typeof f.offset !== 'number') {
      this.#emitError(new ServerFrameError(`bad subscribed frame for ${channel}`));
      return;
    }
    this.#serverHas.add(channel);
    const outcome = cursor.subscribed({ epoch: f.epoch, offset: f.offset, recovered: f.recovered === true });
    const p = cursor.position!;
    this.#emitter.emit('subscribed', { channel, epoch: p.epoch, offset: p.offset, recovered: !outcome.lost });
    if (outcome.lost && this.#channels.get(channel) === cursor) {
      this.#emitter.emit('recovery', { recovered: false, lost: [channel], channel, epochChanged: outcome.epochChanged });
    }
  }

  #onEvent(f: EventFrame): void {
    const cursor = this.#channels.get(f.ch);
    if (!cursor) return;
    switch (cursor.event(f)) {
      case 'deliver':
        this.#emitter.emit('message', { channel: f.ch, data: f.data, epoch: f.epoch, offset: f.off });
        return;
      case 'gap':
        // Never deliver past a hole: start the subscription again from what was delivered. If the
        // history no longer covers it, the new `subscribed` says so and a `recovery` event follows.
        this.#sendUnsub(f.ch);
        this.#unsubscribing.delete(f.ch);
        this.#sendSub(f.ch);
        return;
      case 'duplicate':
      case 'ignore':
        return;
    }
  }

  #onErrorFrame(f: ErrorFrame): void {
    const error = new ServerError(f.code, typeof f.message === 'string' ? f.message : '', f.ref);
    if (typeof f.ref === 'number') {
      const entry = this.#outbox.get(f.ref);
      // Not stored: keep it pending and try again later (the store is down, not the message).
      if (entry && f.code === ErrorCode.UNAVAILABLE) this.#scheduleResend(entry);
    } else if (typeof f.ref === 'string' && this.#subscribing.has(f.ref)) {
      const channel = f.ref;
      this.#subscribing.delete(channel);
      if (f.code === ErrorCode.BAD_REQUEST && this.#channels.get(channel)?.live) {
        // "already subscribed": the server restored it before reading our `sub`; it is live already.
        this.#serverHas.add(channel);
        return;
      }
      if (f.code === ErrorCode.FORBIDDEN || f.code === ErrorCode.LIMIT) {
        // Retrying cannot help: the subscription is dropped, and the application told why.
        this.#channels.delete(channel);
        this.#serverHas.delete(channel);
      }
    }
    this.#emitError(error);
  }

  // ---- outbox ---------------------------------------------------------------------------------

  #enqueue(kind: 'msg' | 'pub', encode: (id: number) => string): Promise<AckFrame> {
    if (this.#closed) return Promise.reject(new ClientClosedError());
    return new Promise<AckFrame>((resolve, reject) => {
      const entry = this.#outbox.add({ kind, encode, resolve, reject });
      if (!entry) {
        const error = new QueueFullError(this.#outbox.limit);
        reject(error);
        this.#emitError(error);
        return;
      }
      if (this.#ready && this.#holdTimer === undefined) this.#sendEntry(entry);
    });
  }

  #sendEntry(entry: OutboxEntry): boolean {
    if (!this.#sendText(entry.text)) return false;
    entry.sent = true;
    return true;
  }

  #flushOutbox(): void {
    if (this.#holdTimer !== undefined) return;
    for (const entry of this.#outbox.due()) if (!this.#ready || !this.#sendEntry(entry)) return;
  }

  #onAck(f: AckFrame): void {
    this.#holdRetries = 0;
    // A message answered twice (a resend crossed the first ack) is already gone: nothing to do.
    const entry = this.#outbox.take(f.id);
    if (!entry) return;
    this.#cancelTimer(entry);
    entry.resolve(f);
  }

  #onReject(f: RejectFrame): void {
    const entry = this.#outbox.take(f.id);
    if (!entry) return;
    this.#cancelTimer(entry);
    // The poison rule: a rejected message is final, never resent.
    if (f.code === ErrorCode.DECLINED) entry.reject(new DeclinedError(f.id, f.error ?? '', f.message ?? ''));
    else entry.reject(new RejectedError(f.id, f.code, typeof f.incident === 'string' ? f.incident : undefined));
  }

  // ---- credentials ----------------------------------------------------------------------------

  /** The `url` option, with the credentials fetched first: a failure is a failed attempt, like the url's own. */
  #withCredentials(url: SessionOptions['url']): (context: UrlContext) => Promise<string> {
    return async (context) => {
      const value = await this.#auth!();
      const target = typeof url === 'function' ? await url(context) : url;
      this.#credentials = { value };
      return target;
    };
  }

  /**
   * After a 4802 the credentials are fetched again (by the url wrapper) and the session reconnects: at
   * once the first time, with backoff the next, and stops after {@link MAX_CREDENTIAL_RETRIES} in a row
   * (credentials that keep being refused need a person). The user's own policy is asked first.
   */
  #credentialPolicy(policy: PolicyFunction | undefined, backoff: SessionOptions['backoff']): PolicyFunction {
    return (code, reason, attempt): PolicyDecision | undefined => {
      const chosen = policy?.(code, reason, attempt);
      if (chosen !== undefined || code !== LifelineCloseCode.CREDENTIALS_EXPIRED) return chosen;
      if (attempt > MAX_CREDENTIAL_RETRIES) {
        return { action: 'stop', diagnosis: diagnose(analyzeClose(code, reason), `${attempt} closes with 4802 in a row: get new credentials (sign in again), then call reconnect().`) };
      }
      return { action: 'reconnect', delayMs: attempt <= 1 ? 0 : backoffDelay(attempt - 1, { ...DEFAULT_BACKOFF, ...backoff }, this.#random) };
    };
  }

  /** Refresh the credentials a minute before they expire, or half-way through when they last less than two. */
  #scheduleRefresh(ttlMs: number | undefined): void {
    this.#cancelRefresh();
    if (!this.#auth || typeof ttlMs !== 'number' || !Number.isFinite(ttlMs)) return;
    const delay = Math.max(ttlMs / 2, ttlMs - 60_000);
    this.#refreshTimer = this.#setTimer(delay, () => {
      this.#refreshTimer = undefined;
      void this.#refresh(ttlMs - delay);
    });
  }

  async #refresh(leftMs: number): Promise<void> {
    let value: Json;
    try {
      value = await this.#auth!();
    } catch (error) {
      this.#emitError(new CredentialsError({ cause: error }));
      // Try again while time is left; if it runs out, the server's 4802 reconnects with fresh credentials.
      if (this.#ready && leftMs > 2000) this.#scheduleRefresh(leftMs);
      return;
    }
    if (this.#ready) this.#sendFrame({ t: 'auth', auth: value });
  }

  #cancelRefresh(): void {
    if (this.#refreshTimer) this.#clock.clearTimeout(this.#refreshTimer.handle);
    this.#refreshTimer = undefined;
  }

  /**
   * The server could not store `entry`. Hold the whole outbox (not just this entry) and resend everything
   * unanswered in id order after a backoff: per-entry timers would let later messages overtake earlier
   * ones once the store is back, and the server would store them out of order.
   */
  #scheduleResend(entry: OutboxEntry): void {
    entry.sent = false;
    if (this.#holdTimer !== undefined) return;
    this.#holdRetries += 1;
    const ceiling = backoffCeiling(this.#holdRetries, this.#resendBackoff);
    // Half fixed, half random: spread out, yet never an immediate resend into a store that just failed.
    const delay = ceiling / 2 + draw(this.#random) * (ceiling / 2);
    this.#holdTimer = this.#setTimer(delay, () => {
      this.#holdTimer = undefined;
      // Everything still unanswered goes again, in order; what did get stored is deduplicated by the server.
      this.#outbox.disconnected();
      this.#flushOutbox();
    });
  }

  #releaseHold(): void {
    if (this.#holdTimer !== undefined) this.#clock.clearTimeout((this.#holdTimer as Timer).handle);
    this.#holdTimer = undefined;
  }

  #cancelTimer(entry: OutboxEntry): void {
    if (entry.timer !== undefined) this.#clock.clearTimeout((entry.timer as Timer).handle);
    entry.timer = undefined;
    entry.waiting = false;
  }

  // ---- heartbeat ------------------------------------------------------------------------------

  /** Check for silence every so often; after `#pingAfterMs` without traffic, send a ping. */
  #armPing(): void {
    this.#cancelPing();
    if (!this.#ready || this.#pingAfterMs <= 0) return;
    const silent = this.#clock.now() - this.#quietSince;
    const wait = Math.max(1, this.#pingAfterMs - silent);
    this.#pingTimer = this.#setTimer(wait, () => {
      this.#pingTimer = undefined;
      if (!this.#ready) return;
      const now = this.#clock.now();
      if (now - this.#quietSince >= this.#pingAfterMs) {
        this.#sendFrame({ t: 'ping', n: ++this.#pingSeq });
        // Count the next silence from this ping, so one silent period costs one ping. Dead-link
        // detection (the transport's) still counts from the last thing actually received.
        this.#quietSince = now;
      }
      this.#armPing();
    });
  }

  #cancelPing(): void {
    if (this.#pingTimer) this.#clock.clearTimeout(this.#pingTimer.handle);
    this.#pingTimer = undefined;
  }

  // ---- plumbing -------------------------------------------------------------------------------

  #sendFrame(frame: ClientFrame): boolean {
    return this.#sendText(encodeFrame(frame));
  }

  /** Send on the open socket; false when it is not open (the caller's state is reset on the close that follows). */
  #sendText(text: string): boolean {
    try {
      this.#client.send(text);
      return true;
    } catch (error) {
      if (error instanceof NotOpenError) return false;
      throw error;
    }
  }

  #setTimer(ms: number, callback: () => void): Timer {
    return {
      handle: this.#clock.setTimeout(() => {
        try {
          callback();
        } catch (error) {
          rethrowAsync(error);
        }
      }, ms),
    };
  }

  #emitError(error: LifelineError): void {
    this.#emitter.emit('error', error);
  }

  #reportBug(error: LifelineError, original: unknown): void {
    if (this.#emitter.has('error')) this.#emitter.emit('error', error);
    else rethrowAsync(original);
  }
}

/**
 * Create a `lifeline.v1` session. With the default `autoConnect: true` it starts connecting on the
 * next microtask, so listeners added right after this call see every event.
 * @throws TypeError or RangeError for invalid options, synchronously.
 */
export function createSession(options: SessionOptions): LifelineSession {
  return new LifelineSession(options);
}

// ---- helpers (exported for tests through the module, not the package) ----------------------------

/**
 * How long the session may be silent before it pings, in milliseconds: half the server's heartbeat,
 * and at most `deadLinkMs / 2.5` so a pong always arrives well before the dead-link check would fire.
 * 0 means never (the server has no heartbeat and dead-link detection is off).
 */
export function pingInterval(serverHeartbeatMs: number, deadLinkMs: number, fallbackHeartbeatMs: number): number {
  const candidates: number[] = [];
  const server = typeof serverHeartbeatMs === 'number' && Number.isFinite(serverHeartbeatMs) ? serverHeartbeatMs : fallbackHeartbeatMs;
  if (server > 0) candidates.push(server / 2);
  if (deadLinkMs > 0) candidates.push(deadLinkMs / SESSION_DEFAULTS.deadLinkFactor);
  return candidates.length === 0 ? 0 : Math.min(...candidates);
}

/**
 * A random 128-bit origin as 32 hex characters. The platform's CSPRNG when there is one: an injected
 * deterministic `random` (common in tests) would give two sessions the same origin, and the server
 * would then treat one's messages as resends of the other's.
 */
export function makeOrigin(random: RandomSource): string {
  const bytes = new Uint8Array(16);
  const crypto = (globalThis as { crypto?: { getRandomValues?: (array: Uint8Array) => Uint8Array } }).crypto;
  if (crypto && typeof crypto.getRandomValues === 'function') crypto.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(draw(random) * 256);
  let out = '';
  for (const byte of bytes) out += byte.toString(16).padStart(2, '0');
  return out;
}

function resolveBackoff(value: Partial<BackoffOptions> | undefined): BackoffOptions {
  if (value !== undefined && (typeof value !== 'object' || value === null)) throw new TypeError('resendBackoff must be an object');
  const merged = { ...SESSION_DEFAULTS.resendBackoff, ...Object.fromEntries(Object.entries(value ?? {}).filter(([, v]) => v !== undefined)) };
  for (const key of ['baseMs', 'capMs'] as const) {
    const v = merged[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new RangeError(`resendBackoff.${key}: ${String(v)}`);
  }
  if (typeof merged.factor !== 'number' || !Number.isFinite(merged.factor) || merged.factor < 1) {
    throw new RangeError(`resendBackoff.factor: ${String(merged.factor)} < 1`);
  }
  return { baseMs: merged.baseMs, factor: merged.factor, capMs: merged.capMs };
}

function checkChannel(channel: unknown): asserts channel is string {
  if (typeof channel !== 'string' || !CHANNEL.test(channel)) {
    throw new TypeError('channel: 1-200 printable ASCII characters');
  }
}

function checkPosition(p: unknown): asserts p is Position {
  const v = p as { epoch?: unknown; offset?: unknown } | null;
  if (typeof v !== 'object' || v === null || typeof v.epoch !== 'string' || v.epoch.length > 64) {
    throw new TypeError('from: not a position');
  }
  if (typeof v.offset !== 'number' || !Number.isSafeInteger(v.offset) || v.offset < 0) {
    throw new TypeError('from.offset must be an integer >= 0');
  }
}

/** The JSON text of `data`, or a TypeError: a frame whose data vanished would be a protocol error (1002). */
function jsonText(data: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(data);
  } catch (error) {
    throw new TypeError('data must be JSON-serialisable', { cause: error });
  }
  if (text === undefined) throw new TypeError(`data must be JSON-serialisable, got ${typeof data}`);
  return text;
}

function rethrowAsync(error: unknown): void {
  queueMicrotask(() => {
    throw error;
  });
}
