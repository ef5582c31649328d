/**
 * The `lifeline.v1` client: a {@link LifelineClient} (reconnect policy, states, dead-link detection)
 * plus the session protocol on top of it — hello/welcome and resume, channel subscriptions delivered
 * to the application exactly once and in order, and acknowledged messages that are queued while
 * disconnected and resent until the server answers.
 *
 * This file wires the parts and keeps the session's phase (`phase.ts`); each part has one concern:
 * the channels (`channels.ts`, with a cursor per channel in `positions.ts`), the acknowledged messages
 * (`outbox.ts`, held after a store failure by `resend.ts`), the heartbeat (`heartbeat.ts`), the
 * credentials (`credentials.ts`).
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
import { MAX_HELLO_CHANNELS, MAX_PRESENCE_LIMIT, SUBPROTOCOL, decodeServerFrame, encodeFrame } from '../protocol/frames.js';
import type { AckFrame, ClientFrame, ErrorFrame, EventFrame, Json, MembersFrame, Position, RejectFrame, SubscribedFrame, WelcomeFrame } from '../protocol/frames.js';
import type { Emitter, Listener, Unsubscribe } from '../util/emitter.js';
import { defined } from '../util/defined.js';
import { rethrowAsync } from '../util/rethrow.js';
import { ChannelTable } from './channels.js';
import type { ChannelFrame } from './channels.js';
import { LifelineClient } from './client.js';
import type { ClientState, MessageData } from './client.js';
import { Credentials } from './credentials.js';
import { defaultClock } from './environment.js';
import {
  ClientClosedError,
  DeclinedError,
  NotOpenError,
  PolicyError,
  QueueFullError,
  RejectedError,
  ServerError,
  ServerFrameError,
  SubprotocolError,
} from './errors.js';
import { Heartbeat, pingInterval } from './heartbeat.js';
import { createListeners } from './listeners.js';
import { makeOrigin } from './origin.js';
import { Outbox } from './outbox.js';
import type { OutboxEntry } from './outbox.js';
import { isConnected, isWelcomed, nextPhase } from './phase.js';
import type { PhaseEvent, SessionPhase } from './phase.js';
import { ResendHold } from './resend.js';
import { checkChannel, checkPosition, jsonText, resolveSessionOptions } from './session-options.js';
import type { SessionOptions } from './session-options.js';
import type { PresencePage, PresenceQuery, PublishResult, SessionEvents, SubscribeOptions } from './session-types.js';

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
  readonly #emitter: Emitter<SessionEvents>;
  readonly #heartbeatMs: number;
  readonly #deadLinkMs: number;
  readonly #origin: string;
  readonly #channels = new ChannelTable();
  readonly #outbox: Outbox;
  readonly #hold: ResendHold;
  readonly #heartbeat: Heartbeat;
  readonly #credentials: Credentials | undefined;

  /** Presence queries awaiting their `members`, by `n`. */
  readonly #queries = new Map<number, { resolve(page: PresencePage): void; reject(error: LifelineError): void }>();
  #queryN = 0;

  #phase: SessionPhase = { name: 'disconnected' };
  #token: string | undefined;
  #sessionId: string | undefined;
  #expiresAt: number | undefined;

  /** Prefer {@link createSession}. Throws `TypeError`/`RangeError` for invalid options. */
  constructor(options: SessionOptions) {
    const o = resolveSessionOptions(options);
    const clock = o.client.clock ?? defaultClock();
    const random = o.client.random ?? (() => Math.random());
    this.#credentials = o.auth
      ? new Credentials(o.auth, clock, random, {
          live: () => isWelcomed(this.#phase),
          send: (value) => this.#sendFrame({ t: 'auth', auth: value }),
          failed: (error) => this.#emitError(error),
        })
      : undefined;
    const credentials = this.#credentials;
    // The client validates and resolves everything else; a `protocols` smuggled in untyped is overridden.
    this.#client = new LifelineClient({
      ...o.client,
      protocols: [SUBPROTOCOL],
      ...(credentials ? { url: credentials.url(o.client.url), policy: credentials.policy(o.client.policy, o.client.backoff) } : {}),
    });
    this.#heartbeatMs = o.heartbeatMs;
    this.#deadLinkMs = o.deadLinkMs;
    this.#origin = makeOrigin(random);
    this.#outbox = new Outbox(o.maxQueue);
    this.#hold = new ResendHold(clock, o.resendBackoff, random, () => {
      // Everything still unanswered goes again, in order; what did get stored is deduplicated by the server.
      this.#outbox.disconnected();
      this.#flushOutbox();
    });
    this.#heartbeat = new Heartbeat(clock, (n) => this.#sendFrame({ t: 'ping', n }));
    this.#emitter = createListeners<SessionEvents>().emitter;
    this.#wire();
  }

  // ---- accessors ------------------------------------------------------------------------------

  /** The transport's state (`open` once the WebSocket is open; see {@link LifelineSession.ready} for the session). */
  get state(): ClientState {
    return this.#client.state;
  }

  /** Whether the server welcomed the session on the current connection (messages flow). */
  get ready(): boolean {
    return isWelcomed(this.#phase);
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
    return this.#channels.wanted();
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
    return this.#channels.positions();
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
    if (this.#phase.name === 'closed') throw new ClientClosedError();
    checkChannel(channel);
    const { from, presence } = options;
    if (from !== undefined) checkPosition(from);
    if (presence !== undefined) jsonText(presence);
    this.#sendFrames(this.#channels.subscribe(channel, from, isWelcomed(this.#phase), presence));
  }

  /**
   * A page of a channel's presence members (the server answers for channels this session may read).
   * Pass the page's `next` as `after` for the following page.
   * @returns rejects with {@link NotOpenError} when the session is not welcomed (or disconnects before the
   *   answer), {@link ServerError} when the server refuses (`LIMIT`: too many queries; `FORBIDDEN`; `UNAVAILABLE`)
   * @throws TypeError for a bad channel name; RangeError for a `limit` that is not an integer 1-1000
   */
  presence(channel: string, query: PresenceQuery = {}): Promise<PresencePage> {
    checkChannel(channel);
    const { limit } = query;
    // What the server would close the connection for (1002) is refused here, before it is sent.
    if (limit !== undefined && !(limit % 1 === 0 && limit > 0 && limit <= MAX_PRESENCE_LIMIT)) throw new RangeError('limit: an integer 1-1000');
    const n = ++this.#queryN;
    return new Promise((resolve, reject) => {
      if (isWelcomed(this.#phase) && this.#sendFrame({ t: 'presence', ch: channel, n, ...query })) this.#queries.set(n, { resolve, reject });
      else reject(new NotOpenError(this.state));
    });
  }

  /**
   * Stop delivering a channel and forget its position. Messages of the channel already in flight are dropped.
   * @throws TypeError for a bad channel name
   */
  unsubscribe(channel: string): void {
    checkChannel(channel);
    // Not welcomed: the next welcome reconciles (or the restored subscription is cancelled when it shows up).
    this.#sendFrames(this.#channels.unsubscribe(channel, isWelcomed(this.#phase)));
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
      // The decoder checked their types; a publish's ack must also have them.
      const { off = Number.NaN, epoch = '' } = ack;
      if (ack.off === undefined || ack.epoch === undefined) this.#emitError(new ServerFrameError(`ack of publish ${ack.id} has no offset and epoch`));
      return { offset: off, epoch };
    });
  }

  /**
   * Close for good: the connection is closed with `code`/`reason`, pending and queued messages reject
   * with {@link ClientClosedError}, timers stop. Calling it again does nothing.
   * @param code - 1000 or 3000-4999. @default 1000
   * @param reason - at most 123 bytes of UTF-8. @default ''
   */
  close(code = 1000, reason = ''): void {
    if (this.#phase.name === 'closed') return;
    // First, so an invalid code throws before anything changes.
    this.#client.close(code, reason);
    this.#leave({ type: 'close' });
    this.#hold.release();
    for (const entry of this.#outbox.drain()) entry.reject(new ClientClosedError());
  }

  // ---- transport ------------------------------------------------------------------------------

  #wire(): void {
    const c = this.#client;
    c.on('state', (e) => {
      if (e.previous === 'open') this.#leave({ type: 'disconnect' });
      this.#emitter.emit('state', e);
    });
    // Passed through as they are.
    for (const name of ['connecting', 'reconnecting', 'stopped', 'exhausted'] as const) {
      c.on(name, (e) => this.#emitter.emit(name, e as never));
    }
    c.on('open', (e) => {
      this.#emitter.emit('open', e);
      this.#onOpen(e.protocol);
    });
    c.on('message', ({ data }) => this.#onMessage(data));
    c.on('close', (e) => {
      this.#leave({ type: 'disconnect' });
      this.#emitter.emit('close', e);
    });
    c.on('error', (e) => {
      // Bugs in user code (a throwing policy option) must not vanish when nobody listens on the session.
      if (e instanceof PolicyError && !this.#emitter.has('error')) rethrowAsync(e);
      else this.#emitter.emit('error', e);
    });
  }

  #onOpen(protocol: string): void {
    if (this.#phase.name === 'closed' || this.#client.state !== 'open') return;
    if (protocol !== SUBPROTOCOL) {
      // A server that does not speak lifeline.v1 will not start to on a retry.
      this.#emitError(new SubprotocolError(protocol));
      this.close();
      return;
    }
    this.#phase = nextPhase(this.#phase, { type: 'open', presentedToken: this.#token !== undefined });
    this.#heartbeat.heard();
    const channels = this.#channels.hello(MAX_HELLO_CHANNELS);
    const credentials = this.#credentials?.take();
    this.#sendFrame({
      t: 'hello',
      v: 1,
      origin: this.#origin,
      ...defined({ token: this.#token, channels, auth: credentials?.value }),
    });
  }

  /** The connection ended (`disconnect`) or the session closed (`close`): stop everything that belonged to it. */
  #leave(event: PhaseEvent & { readonly type: 'disconnect' | 'close' }): void {
    const was = this.#phase;
    this.#phase = nextPhase(was, event);
    if (!isConnected(was)) return;
    this.#heartbeat.stop();
    this.#credentials?.cancel();
    this.#outbox.disconnected();
    this.#channels.disconnected();
    for (const query of this.#queries.values()) query.reject(new NotOpenError(this.state));
    this.#queries.clear();
  }

  #onMessage(data: MessageData): void {
    if (!isConnected(this.#phase)) return;
    this.#heartbeat.heard();
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
        this.#credentials?.schedule(frame.authTtlMs);
        return;
      case 'subscribed':
        this.#onSubscribed(frame);
        return;
      case 'unsubscribed':
        this.#channels.unsubscribed(frame.ch);
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
      case 'members':
        this.#onMembers(frame);
        return;
      case 'join':
      case 'leave':
        // Only for channels the application still wants: events in flight after an unsubscribe are dropped.
        if (this.#channels.cursor(frame.ch)) {
          const { t, ch, ...member } = frame;
          this.#emitter.emit(t, { channel: ch, member });
        }
        return;
      case 'pong': {
        const was = this.#phase;
        this.#phase = nextPhase(was, { type: 'pong', n: frame.n });
        // The server answers the sync ping after its restore is done: anything not live is subscribed again.
        if (was.name === 'restoring' && this.#phase.name === 'ready') this.#sendFrames(this.#channels.restored());
        return;
      }
    }
  }

  // ---- session --------------------------------------------------------------------------------

  #onWelcome(w: WelcomeFrame): void {
    const handshake = this.#phase;
    if (handshake.name !== 'handshaking') {
      this.#emitError(new ServerFrameError('a second welcome on one connection'));
      return;
    }
    const sameSession = w.resumed && w.session === this.#sessionId;
    this.#token = w.token;
    this.#sessionId = w.session;
    this.#expiresAt = w.expiresAt;
    // A resumed session's channels are restored by the server (a `subscribed` each, replaying from the
    // positions in the hello); the rest are (re-)subscribed from their positions. The server answers
    // the sync ping after its restore is done.
    const syncPing = sameSession ? this.#heartbeat.nextSeq() : undefined;
    this.#phase = nextPhase(handshake, { type: 'welcome', ...(syncPing !== undefined ? { syncPing } : {}) });
    this.#sendFrames(this.#channels.welcome(sameSession));
    if (syncPing !== undefined) this.#sendFrame({ t: 'ping', n: syncPing });

    // Every unanswered message, in id order: resends are safe, the server dedupes by origin + id.
    this.#hold.release();
    this.#flushOutbox();

    this.#heartbeat.start(pingInterval(w.heartbeatMs, this.#deadLinkMs, this.#heartbeatMs));
    this.#credentials?.schedule(w.authTtlMs);

    // Decoded frames are checked against the schema: every member is there, of its type.
    const { lost } = w;
    this.#emitter.emit('welcome', defined({
      session: w.session,
      resumed: w.resumed,
      recovered: w.recovered,
      lost,
      heartbeatMs: w.heartbeatMs,
      expiresAt: w.expiresAt,
      authTtlMs: w.authTtlMs,
    }));
    // A listener may have closed the session; then there is nothing left to report.
    if (!isWelcomed(this.#phase)) return;
    if (!w.resumed && (handshake.presentedToken || lost.length > 0)) {
      this.#emitter.emit('recovery', { recovered: false, lost });
    }
  }

  #onSubscribed(f: SubscribedFrame): void {
    const channel = f.ch;
    const result = this.#channels.subscribed(f);
    if (result.kind === 'unwanted') {
      this.#sendFrames(result.frames);
      return;
    }
    const { epoch, offset } = result.cursor.position!;
    this.#emitter.emit('subscribed', { channel, epoch, offset, recovered: !result.lost });
    // Unless a `subscribed` listener let go of the channel.
    if (result.lost && this.#channels.cursor(channel) === result.cursor) {
      this.#emitter.emit('recovery', { recovered: false, lost: [channel], channel, epochChanged: result.epochChanged });
    }
  }

  #onEvent(f: EventFrame): void {
    const verdict = this.#channels.event(f);
    if (verdict === 'deliver') this.#emitter.emit('message', { channel: f.ch, data: f.data, epoch: f.epoch, offset: f.off });
    else if (verdict === 'gap') this.#sendFrames(this.#channels.resync(f.ch));
  }

  #onErrorFrame(f: ErrorFrame): void {
    if (typeof f.ref === 'number') {
      const entry = this.#outbox.get(f.ref);
      // Not stored: keep it pending and try again later (the store is down, not the message).
      if (entry && f.code === 'UNAVAILABLE') {
        entry.sent = false;
        this.#hold.fail();
      }
    } else if (typeof f.ref === 'string') {
      this.#channels.refused(f.ref, f.code);
    }
    this.#emitError(new ServerError(f.code, f.message, f.ref));
  }

  #onMembers({ n, ch, code, count, members, next }: MembersFrame): void {
    const query = this.#queries.get(n!);
    if (!query) return;
    this.#queries.delete(n!);
    if (code) query.reject(new ServerError(code, 'presence query refused', ch));
    else query.resolve(next === undefined ? { count: count!, members: members! } : { count: count!, members: members!, next });
  }

  // ---- outbox ---------------------------------------------------------------------------------

  #enqueue(kind: 'msg' | 'pub', encode: (id: number) => string): Promise<AckFrame> {
    if (this.#phase.name === 'closed') return Promise.reject(new ClientClosedError());
    return new Promise<AckFrame>((resolve, reject) => {
      const entry = this.#outbox.add({ kind, encode, resolve, reject });
      if (!entry) {
        const error = new QueueFullError(this.#outbox.limit);
        reject(error);
        this.#emitError(error);
        return;
      }
      if (isWelcomed(this.#phase) && !this.#hold.held) this.#sendEntry(entry);
    });
  }

  #sendEntry(entry: OutboxEntry): boolean {
    if (!this.#sendText(entry.text)) return false;
    entry.sent = true;
    return true;
  }

  #flushOutbox(): void {
    if (this.#hold.held) return;
    for (const entry of this.#outbox.due()) if (!isWelcomed(this.#phase) || !this.#sendEntry(entry)) return;
  }

  #onAck(f: AckFrame): void {
    this.#hold.succeeded();
    // A message answered twice (a resend crossed the first ack) is already gone: nothing to do.
    this.#outbox.take(f.id)?.resolve(f);
  }

  #onReject(f: RejectFrame): void {
    const entry = this.#outbox.take(f.id);
    if (!entry) return;
    // The poison rule: a rejected message is final, never resent.
    if (f.code === 'DECLINED') entry.reject(new DeclinedError(f.id, f.error ?? '', f.message ?? ''));
    else entry.reject(new RejectedError(f.id, f.code, f.incident));
  }

  // ---- plumbing -------------------------------------------------------------------------------

  #sendFrames(frames: readonly ChannelFrame[]): void {
    for (const frame of frames) this.#sendFrame(frame);
  }

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

  #emitError(error: LifelineError): void {
    this.#emitter.emit('error', error);
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
