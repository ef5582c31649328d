/**
 * The `lifeline.v1` side of one connection: hello/welcome and resume, subscriptions with replay,
 * acknowledged messages with at-most-once handlers, acknowledged publishes stored exactly once.
 * Runs inside the connection's serial handler chain, so frames are handled in arrival order.
 *
 * Everything a client can make it spend is bounded: subscriptions on every path (`sub` and resume),
 * channels restored at once, replay (pages under a server-wide budget, paced by the peer's reading),
 * the records it leaves in the store (claims and keys per origin, channels it creates), and it never
 * answers "not stored" for what may have been stored.
 * @packageDocumentation
 */
import * as nodeCrypto from 'node:crypto';
import { LifelineCloseCode } from '../../codes/index.js';
import {
  decodeClientFrame,
  ProtocolErrorCode,
  FrameError,
  isReservedChannel,
  isUnwrittenEpoch,
  UnknownFrameTypeError,
  type AuthFrame,
  type ClientFrame,
  type HelloFrame,
  type Json,
  type MsgFrame,
  type Position,
  type PresenceFrame,
  type PubFrame,
  type ServerFrame,
  type SubFrame,
} from '../../protocol/index.js';
import { IdempotencyConflictError, IdempotencyWindowError, StoreError, StoreOutcomeUnknownError } from '../../store/errors.js';
import { canonicalJson } from '../../store/records.js';
import type { AppendOptions, AppendResult, MessageOutcome, SessionPatch, SessionPresence, SessionRecord, Store } from '../../store/types.js';
import type { ClosedBy, Connection } from '../core/connection.js';
import { admissionOf } from '../core/credentials.js';
import { CloseError, DeclinedError, HandlerFailure } from '../errors.js';
import type { ResolvedServerOptions } from '../core/options.js';
import type { SessionHolder, SessionHolders } from './takeover.js';
import { newIncidentId } from '../core/ids.js';
import { mintToken, parseToken, verifyToken } from './resume-tokens.js';
import { ByteBudget } from './byte-budget.js';
import { ChannelHub, Subscription, type ReplayLimits, type SubscriptionSink } from './subscription.js';
import { ConnectionPresence, sessionPresenceOf } from './connection-presence.js';
import type { PresenceService } from './presence.js';

/** Context passed to the handler of an acknowledged `msg`. */
export interface SessionMessageContext {
  /** The client's message id (unique per origin). */
  readonly id: number;
  /** The session the connection belongs to. */
  readonly session: string;
}

/**
 * Handler for an acknowledged client message. The ack is sent after it resolves and carries what it
 * returned (JSON; `undefined`: nothing), which the client's `send()` resolves to. A `DeclinedError`
 * declines the message with the application's error code; a `CloseError` closes with its code; any
 * other throw is a bug: 1011 with an incident.
 */
export type SessionMessageHandler = (connection: Connection, data: Json, context: SessionMessageContext) => unknown;

/** Authorisation hook for a channel operation; resolve true to allow. */
export type ChannelAuthorizer = (connection: Connection, channel: string) => boolean | Promise<boolean>;

/** Things the protocol layer counts, for the server's stats and metrics. */
export type ProtocolCount =
  | 'conflicts'
  | 'forgottenIds'
  | 'outcomeUnknown'
  | 'subscriptionLimit'
  | 'channelLimit'
  | 'reservedRefused'
  /** Connections closed with 4801: their session was resumed on another connection. */
  | 'takeovers'
  /** Credentials refused in `hello` or an `auth` refresh. */
  | 'authRefused'
  /** Connections closed with 4802 when their credentials expired. */
  | 'credentialsExpired'
  /** `sub` with `presence` refused: the channel has `maxPresenceMembers` (also on a resume). */
  | 'presenceFull'
  /** `sub` with `presence` refused: its `info` is over `maxPresenceInfoBytes`. */
  | 'presenceInfoLimit'
  /** Presence queries answered `LIMIT`: over `presenceQueriesPerSecond`. */
  | 'presenceQueryLimit'
  /** Presence asked of a server whose store keeps none. */
  | 'presenceUnavailable';

/**
 * The server's settings the protocol layer reads. Read through {@link ProtocolContext.settings} each
 * time, so a configuration reload reaches connections already open.
 */
export type ProtocolSettings = Pick<
  ResolvedServerOptions,
  | 'sessionTtlMs'
  | 'heartbeatMs'
  | 'maxSubscriptions'
  | 'maxChannelsCreated'
  | 'claimLeaseMs'
  | 'replayPageBytes'
  | 'maxReplayBytesPerConnection'
  | 'onSessionMessage'
  | 'authorizeSubscribe'
  | 'authorizePublish'
  | 'authorizeReserved'
  | 'authenticate'
  | 'maxPresenceInfoBytes'
  | 'presenceQueriesPerSecond'
>;

/** What the protocol layer needs from the server. */
export interface ProtocolContext {
  readonly store: Store;
  readonly hub: ChannelHub;
  /** The settings in force now. */
  readonly settings: ProtocolSettings;
  /** How long a resend waits for a claim still running elsewhere before answering. */
  readonly claimWaitMs: number;
  /** The server-wide budget of history replay. */
  readonly replayBudget: ByteBudget;
  /** Which connection holds each session: one live connection per session. */
  readonly holders: SessionHolders;
  /** Presence on this process, when the store keeps it. */
  readonly presence: PresenceService | undefined;
  /** Append and fan out. */
  publish(channel: string, data: Json, options?: AppendOptions): Promise<AppendResult>;
  /** Count a store failure. */
  storeFailed(operation: string, error: unknown): void;
  /** Count messages replayed from history. */
  replayed(count: number): void;
  /** Count one event of the protocol layer's. */
  count(what: ProtocolCount): void;
  /** A `hello` was answered. */
  welcomed(event: { connection: Connection; session: string; resumed: boolean; recovered: boolean; lost: readonly string[] }): void;
}

/** How many channels a resumed `hello` restores at once. */
export const RESTORE_CONCURRENCY = 4;

/** Longest timer Node keeps (about 24.8 days); a later expiry is re-armed in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Shortest wait between two renewals of a live connection's session (a tiny `sessionTtlMs` in tests). */
const RENEW_MIN_MS = 50;

/**
 * What is recorded with a handled message, so a resend gets the same answer: the handler's value, or
 * its deliberate refusal. Wrapped, so a handler returning an object that looks like a refusal is still a value.
 */
type MessageRecord = { readonly value: Json } | { readonly declined: { readonly error: string; readonly message: string } };

/** The JSON a handler returned, as the ack carries it; `undefined` for nothing. @throws TypeError when JSON cannot carry it */
function resultOf(value: unknown): Json | undefined {
  if (value === undefined) return undefined;
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError(`the handler returned ${typeof value}, which JSON cannot carry`);
  return JSON.parse(text) as Json;
}

/**
 * SHA-256 of a string as base64url, in one call where Node has the one-shot `crypto.hash` (20.12 and
 * later: no `Hash` object per message, about a third cheaper for a short text); else the same digest
 * through `createHash`.
 */
const sha256 = (nodeCrypto as { hash?: (algorithm: string, data: string, encoding: 'base64url') => string }).hash
  ? (text: string): string => nodeCrypto.hash('sha256', text, 'base64url')
  : (text: string): string => nodeCrypto.createHash('sha256').update(text).digest('base64url');

/**
 * A digest of a message's content: a resend carries the same, a reused id for other content does not.
 * Undefined for data JSON text cannot hold (nested deeper than the encoder goes): the client's mistake.
 *
 * Kept a cryptographic hash, of exactly these texts: fingerprints are stored with the claims and compared
 * by the store, so a process of an earlier version sharing the store (a rolling or zero-dark restart)
 * must compute the same one for a resend; and a collision would let a client have a message with other
 * content answered as the duplicate of the first.
 */
function fingerprintOf(kind: 'msg' | 'pub', channel: string, data: Json): { fingerprint: string; legacyFingerprint?: string } | undefined {
  let canonical: ReturnType<typeof canonicalJson>;
  try {
    canonical = canonicalJson(data);
  } catch {
    return undefined;
  }
  // Of the canonical text (keys sorted): a resend whose serializer ordered the keys differently carries
  // the same data (RFC 8259: objects are unordered) and must not be a conflict. For data whose keys were
  // already in order the two texts are one, and so is the digest an earlier version computed; when they
  // differ, the earlier form goes along too, so a message claimed before an upgrade still matches.
  const fingerprint = sha256(`${kind}\n${channel}\n${canonical.text}`);
  return canonical.reordered ? { fingerprint, legacyFingerprint: sha256(`${kind}\n${channel}\n${JSON.stringify(data)}`) } : { fingerprint };
}

/** The outcomes without data, shared: every engine copies what it records, never keeps the caller's object. */
const RUNNING: MessageOutcome = Object.freeze({ state: 'running' });
const DONE: MessageOutcome = Object.freeze({ state: 'done' });

/** Whether a handler's return value is a promise (or any thenable) to wait for. */
function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/** Run `work` over `items`, at most `limit` at a time, in order of start. */
async function pool<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const runner = async (): Promise<void> => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, runner));
}

/**
 * What the subscriptions of one connection write to, and the bounds their replay reads under. One
 * object per connection with its methods on the prototype (not a closure per method and connection):
 * an idle connection keeps it for as long as it lives.
 */
class ConnectionSink implements SubscriptionSink, ReplayLimits {
  #connectionBudget: ByteBudget | undefined;

  constructor(
    private readonly connection: Connection,
    private readonly ctx: ProtocolContext,
  ) {}

  send(frame: ServerFrame): number {
    const text = JSON.stringify(frame);
    return this.connection.send(text) ? text.length : 0;
  }

  sendText(text: string): void {
    this.connection.send(text);
  }

  get open(): boolean {
    return this.connection.writable;
  }

  drained(): Promise<void> {
    return this.connection.drained();
  }

  storeFailed(channel: string, error: unknown): void {
    this.ctx.storeFailed('read', error);
    this.send({ t: 'error', code: ProtocolErrorCode.UNAVAILABLE, message: 'history is unavailable; retrying', ref: channel });
  }

  replayed(count: number): void {
    this.ctx.replayed(count);
  }

  get pageBytes(): number {
    return this.ctx.settings.replayPageBytes;
  }

  get budget(): ByteBudget {
    return this.ctx.replayBudget;
  }

  /** Made at the first replay (most connections never read history), with the bound in force then. */
  get connectionBudget(): ByteBudget {
    return (this.#connectionBudget ??= new ByteBudget(this.ctx.settings.maxReplayBytesPerConnection));
  }
}

/** The protocol state of one `lifeline.v1` connection. */
export class ProtocolSession implements SessionHolder {
  /** The session this connection speaks for, once `hello` was handled (the rest of the record is the store's). */
  private session: { readonly id: string; readonly expiresAt: number } | undefined;
  /** Dedupe namespace of this client's message ids: its origin, else its session. */
  private origin = '';
  private readonly subscriptions = new Map<string, Subscription>();
  /** The subscriptions' output and replay bounds (one object: see {@link ConnectionSink}). */
  private readonly sink: ConnectionSink;
  /** Set when a `hello` arrives (before it is handled), so a slow `hello` is not mistaken for a silent client. */
  helloArrived = false;
  private closed = false;
  /** Channels this connection brought into existence by publishing (bounded by `maxChannelsCreated`). */
  private channelsCreated = 0;
  /** When the connection's credentials expire (ms since the epoch), if they do. */
  private credentialsExpireAt: number | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  /** The next renewal of the session's expiry while this connection holds it (see {@link ProtocolSession.armRenewal}). */
  private renewTimer: NodeJS.Timeout | undefined;
  /** The session's presence memberships held through this connection, its watched channels, its queries. */
  private readonly presence: ConnectionPresence;

  constructor(
    private readonly connection: Connection,
    private readonly ctx: ProtocolContext,
    /** When the credentials of the upgrade expire, if `authenticate` said so. */
    expiresAt?: number,
  ) {
    this.credentialsExpireAt = expiresAt;
    this.presence = new ConnectionPresence(
      connection,
      {
        get service() {
          return ctx.presence;
        },
        get settings() {
          return ctx.settings;
        },
        count: (what) => ctx.count(what),
        storeFailed: (operation, error) => ctx.storeFailed(operation, error),
      },
      () => this.session?.id,
    );
    this.sink = new ConnectionSink(connection, ctx);
  }

  /** Identity from authentication, bound into the session (the upgrade's, or that of `hello.auth`). */
  private get user(): string | undefined {
    return this.connection.user;
  }

  /** The connection's id (a {@link SessionHolder}). */
  get connectionId(): string {
    return this.connection.id;
  }

  /** The session id, once `hello` was handled. */
  get sessionId(): string | undefined {
    return this.session?.id;
  }

  /** The channels subscribed on this connection. */
  get channels(): readonly string[] {
    return [...this.subscriptions.keys()];
  }

  /** @returns the characters sent, 0 when the frame could not go out */
  private send(frame: ServerFrame): number {
    return this.sink.send(frame);
  }

  /** Handle one incoming WebSocket message. Throws `CloseError` for protocol violations. */
  async handle(data: string | Uint8Array): Promise<void> {
    let frame: ClientFrame;
    try {
      frame = decodeClientFrame(data);
    } catch (error) {
      if (error instanceof FrameError) throw new CloseError(error.closeCode, error.reason);
      if (error instanceof UnknownFrameTypeError) {
        this.send({ t: 'error', code: ProtocolErrorCode.UNKNOWN_TYPE, message: `unknown frame type`, ref: error.type });
        return;
      }
      throw error;
    }
    if (frame.t === 'ping') {
      this.send(frame.n === undefined ? { t: 'pong' } : { t: 'pong', n: frame.n });
      return;
    }
    try {
      await this.dispatch(frame);
    } catch (error) {
      if (!(error instanceof StoreError)) throw error;
      // The store failing is neither the client's fault nor a bug in a handler: say "not now", never 1011.
      this.ctx.storeFailed(frame.t, error);
      if (frame.t === 'hello') throw new CloseError(1013, 'store unavailable', { retry: { minMs: 1000, maxMs: 5000 } });
      const ref = frame.t === 'msg' || frame.t === 'pub' ? frame.id : frame.t === 'sub' || frame.t === 'unsub' ? frame.ch : undefined;
      if (frame.t === 'sub') this.dropSubscription(frame.ch);
      // A call that may have been applied is not "not done": the resend (same id) finds out which.
      const message = error instanceof StoreOutcomeUnknownError ? 'the store did not confirm; resend to learn the outcome' : 'the store is unavailable; retry later';
      if (error instanceof StoreOutcomeUnknownError) this.ctx.count('outcomeUnknown');
      this.send({ t: 'error', code: ProtocolErrorCode.UNAVAILABLE, message, ...(ref !== undefined ? { ref } : {}) });
    }
  }

  /**
   * The frame's handler. Not itself async (one promise less per frame): its throws happen inside
   * {@link handle}'s `try`, where they are handled as a rejection would be.
   */
  private dispatch(frame: Exclude<ClientFrame, { t: 'ping' }>): Promise<void> {
    if (!this.session) {
      if (frame.t !== 'hello') throw new CloseError(1002, 'hello expected first');
      return this.hello(frame);
    }
    switch (frame.t) {
      case 'hello':
        throw new CloseError(1002, 'hello sent twice');
      case 'auth':
        return this.refresh(frame);
      case 'sub':
        return this.subscribe(frame);
      case 'unsub':
        return this.unsubscribe(frame.ch);
      case 'msg':
        return this.message(frame);
      case 'pub':
        return this.publish(frame);
      case 'presence':
        return this.query(frame);
    }
  }

  /** Run `authenticate` on credentials sent inside the protocol. */
  private async authenticate(credentials: Json): Promise<ReturnType<typeof admissionOf>> {
    const admission = admissionOf(await this.ctx.settings.authenticate!(this.connection.info, credentials));
    if (!admission.admitted) this.ctx.count('authRefused');
    return admission;
  }

  /** Close with 4802 when the credentials expire, unless a refresh comes first. */
  private armExpiry(): void {
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    const at = this.credentialsExpireAt;
    if (at === undefined || this.closed) return;
    const left = at - Date.now();
    if (left <= 0) {
      this.ctx.count('credentialsExpired');
      this.connection.closeWith(LifelineCloseCode.CREDENTIALS_EXPIRED, { text: 'credentials expired' });
      return;
    }
    this.expiryTimer = setTimeout(() => this.armExpiry(), Math.min(left, MAX_TIMER_MS));
    this.expiryTimer.unref();
  }

  /**
   * Keep the session from expiring while this connection holds it. The resume window counts from the
   * session's last use, and a live connection is in use even when silent: without this, a connection idle
   * for longer than `sessionTtlMs` would find its session swept by the store and could not be resumed after
   * it drops or after a deploy (protocol section 9). Every half TTL, a little earlier at random, so that
   * connections opened together do not renew together; one store write per connection per half TTL.
   */
  private armRenewal(): void {
    if (this.renewTimer) clearTimeout(this.renewTimer);
    this.renewTimer = undefined;
    const ttl = this.ctx.settings.sessionTtlMs;
    if (this.closed || this.session === undefined || !(ttl > 0)) return;
    const delay = Math.min(MAX_TIMER_MS, Math.max(RENEW_MIN_MS, (ttl / 2) * (0.8 + 0.2 * Math.random())));
    this.renewTimer = setTimeout(() => void this.renew(), delay);
    this.renewTimer.unref();
  }

  private async renew(): Promise<void> {
    const id = this.session?.id;
    if (this.closed || id === undefined) return;
    try {
      const known = await this.ctx.store.updateSession(id, { expiresAt: Date.now() + this.ctx.settings.sessionTtlMs });
      // Gone while its connection lived: the store lost it (a flushed Redis, a restored file). Said here;
      // the client learns it at its next resume (`resumed: false`, its channels in `lost`).
      if (!known && !this.closed) this.ctx.storeFailed('updateSession', new StoreError(`the session ${id} is gone from the store while its connection is open; a resume will start a new session`));
    } catch (error) {
      // The store is down: the next renewal tries again, half a TTL before the expiry.
      this.ctx.storeFailed('updateSession', error);
    }
    this.armRenewal();
  }

  /** `authTtlMs` for a welcome or authed frame: the time the credentials have left. */
  private authTtl(): { authTtlMs?: number } {
    return this.credentialsExpireAt === undefined ? {} : { authTtlMs: Math.max(0, this.credentialsExpireAt - Date.now()) };
  }

  /** An `auth` refresh: new credentials, for the same user, before the old ones expire. */
  private async refresh(frame: AuthFrame): Promise<void> {
    if (!this.ctx.settings.authenticate) {
      this.send({ t: 'error', code: ProtocolErrorCode.BAD_REQUEST, message: 'this server takes no credentials', ref: 'auth' });
      return;
    }
    const admission = await this.authenticate(frame.auth);
    if (!admission.admitted) {
      // The credentials in force stay until they expire: the client may try again.
      const code = admission.status === 403 ? ProtocolErrorCode.FORBIDDEN : ProtocolErrorCode.UNAUTHORIZED;
      this.send({ t: 'error', code, message: 'credentials refused', ref: 'auth' });
      return;
    }
    // Sessions stay bound to their user: a refresh can extend the credentials, never change who this is.
    if (admission.user !== this.user) throw new CloseError(1008, 'credentials of another user');
    this.credentialsExpireAt = admission.expiresAt;
    this.armExpiry();
    this.send({ t: 'authed', ...this.authTtl() });
  }

  /** Another connection resumed this session: stop now, and close with 4801. */
  takenOver(): void {
    if (this.closed) return;
    this.ctx.count('takeovers');
    this.connection.closeWith(LifelineCloseCode.SESSION_TAKEN_OVER, { text: 'session continued on another connection' });
    // Stop delivering and writing the session at once: it belongs to the other connection from here on.
    this.close();
  }

  private async hello(frame: HelloFrame): Promise<void> {
    const { store } = this.ctx;
    if (frame.auth !== undefined && this.ctx.settings.authenticate) {
      const admission = await this.authenticate(frame.auth);
      if (!admission.admitted) {
        if (admission.status === 403) throw new CloseError(1008, 'credentials not allowed');
        throw new CloseError(LifelineCloseCode.CREDENTIALS_EXPIRED, 'credentials refused');
      }
      this.connection.authenticated(admission.user);
      this.credentialsExpireAt = admission.expiresAt;
    }
    if (this.credentialsExpireAt !== undefined && this.credentialsExpireAt <= Date.now()) {
      this.ctx.count('credentialsExpired');
      throw new CloseError(LifelineCloseCode.CREDENTIALS_EXPIRED, 'credentials expired');
    }
    const now = Date.now();
    let resumed: SessionRecord | undefined;
    let token: string | undefined;
    if (frame.token !== undefined) {
      const parsed = parseToken(frame.token);
      const record = parsed ? await store.loadSession(parsed.sessionId) : undefined;
      if (parsed && record && verifyToken(record, parsed.secret, this.user, now)) {
        resumed = record;
        token = frame.token;
      }
    }
    const listed = frame.channels ?? (Object.create(null) as Record<string, Position | null>);
    const expiresAt = now + this.ctx.settings.sessionTtlMs;
    if (!resumed) {
      const minted = mintToken();
      token = minted.token;
      this.session = { id: minted.sessionId, expiresAt };
      await store.saveSession({ id: minted.sessionId, tokenHash: minted.tokenHash, channels: [], expiresAt, ...(this.user !== undefined ? { user: this.user } : {}) });
    } else {
      this.session = { id: resumed.id, expiresAt };
    }
    // Bound to the identity too, so one user can never collide with (or learn about) another's message ids.
    // Joined, not a template: one flat string for the connection's life, not a rope of its three parts.
    this.origin = frame.origin !== undefined ? ['o', this.user ?? '', frame.origin].join(':') : `s:${this.session.id}`;
    // One live connection per session: whoever held it (here or, over a shared store, on another node) is
    // closed before anything of the session is restored here.
    await this.ctx.holders.hold(this.session.id, this, resumed !== undefined);
    if (this.closed) return;

    // What to restore: the session's channels, then any the client lists that the session missed (a `sub`
    // in flight when the link dropped), at most `maxSubscriptions`, each checked again (permissions may
    // have changed). Each from the client's own position, else the one the session recorded (never ahead
    // of what the client had: replay may repeat, never skip), else reported lost.
    const lost: string[] = [];
    const refused: string[] = [];
    const restore: { channel: string; from: Position | undefined; lost: boolean }[] = [];
    if (resumed) {
      const candidates = [...new Set([...resumed.channels, ...Object.keys(listed)])];
      for (const channel of candidates) {
        if (restore.length >= this.ctx.settings.maxSubscriptions) {
          refused.push(channel);
          continue;
        }
        if (!(await this.mayRead(channel))) {
          lost.push(channel);
          continue;
        }
        const from = listed[channel] ?? resumed.positions?.[channel];
        restore.push({ channel, from: from ?? undefined, lost: from === undefined || from === null });
        if (from === undefined || from === null) lost.push(channel);
      }
    } else {
      // Nothing to resume from: whatever the client held is not restored here (it subscribes again).
      lost.push(...Object.keys(listed));
    }
    if (this.closed) return;

    // Presence: each restored channel where the session is a member continues its membership here (silently,
    // within the grace period; a join again after it). A full channel is not restored (like a subscription
    // over the limit); memberships of channels not restored end.
    const memberships = resumed?.presence ?? {};
    const presenceRefused: string[] = [];
    const presenceUnavailable: string[] = [];
    await pool(
      restore.filter((r) => memberships[r.channel] !== undefined),
      RESTORE_CONCURRENCY,
      async ({ channel }) => {
        const verdict = await this.presence.join(channel, memberships[channel]!);
        if (verdict === 'full') presenceRefused.push(channel);
        else if (verdict === 'unavailable') presenceUnavailable.push(channel);
      },
    );
    if (presenceRefused.length > 0) restore.splice(0, restore.length, ...restore.filter((r) => !presenceRefused.includes(r.channel)));
    await this.presence.end(Object.keys(memberships).filter((c) => !restore.some((r) => r.channel === c)));
    if (this.closed) return;

    // Whether each restored channel's history still covers the client's position: asked before `welcome`
    // (without reading messages), so `welcome.recovered` says the same as every `subscribed` will.
    const complete = new Map<string, boolean>();
    await pool(restore, RESTORE_CONCURRENCY, async ({ channel, from, lost: unknown }) => {
      if (unknown || from === undefined) return;
      const ok = (await store.read(channel, from, 0)).complete;
      complete.set(channel, ok);
      if (!ok) lost.push(channel);
    });
    if (this.closed) return;
    const recovered = resumed !== undefined && lost.length === 0 && refused.length === 0 && presenceRefused.length === 0;
    this.send({
      t: 'welcome',
      v: 1,
      session: this.session.id,
      token: token!,
      expiresAt: this.session.expiresAt,
      resumed: resumed !== undefined,
      recovered,
      lost: [...new Set([...lost, ...refused, ...presenceRefused])],
      heartbeatMs: this.ctx.settings.heartbeatMs,
      ...this.authTtl(),
    });
    this.armExpiry();
    this.armRenewal();
    for (const channel of refused) {
      this.ctx.count('subscriptionLimit');
      this.send({ t: 'error', code: ProtocolErrorCode.LIMIT, message: 'too many subscriptions', ref: channel });
    }
    for (const channel of presenceRefused) this.send({ t: 'error', code: ProtocolErrorCode.LIMIT, message: "the channel's presence is full", ref: channel });
    this.ctx.welcomed({ connection: this.connection, session: this.session.id, resumed: resumed !== undefined, recovered, lost });

    const kept: { channel: string; position?: Position }[] = [];
    await pool(restore, RESTORE_CONCURRENCY, async ({ channel, from, lost: unknown }) => {
      if (this.closed) return;
      const [sub, delivered] = this.addSubscription(channel);
      const ok = complete.get(channel);
      // The store delivers the channel's messages here before its head is read: none falls between.
      await delivered;
      await sub.start(from, unknown || ok === false);
      this.presence.watch(channel);
      kept.push({ channel, position: sub.position });
    });
    for (const channel of presenceUnavailable) this.send({ t: 'error', code: ProtocolErrorCode.UNAVAILABLE, message: 'presence is not available on this server', ref: channel });
    if (resumed) {
      const restored = new Set(restore.map((r) => r.channel));
      const patch: SessionPatch = {
        expiresAt,
        subscribe: kept.filter((k) => !resumed.channels.includes(k.channel) || resumed.positions?.[k.channel] === undefined),
        unsubscribe: resumed.channels.filter((c) => !restored.has(c)),
      };
      await store.updateSession(this.session.id, patch);
    }
  }

  /** Register a subscription; the promise resolves once the store delivers its channel to this process. */
  private addSubscription(channel: string): [Subscription, Promise<void>] {
    const sub = new Subscription(channel, this.sink, this.ctx.store, this.sink);
    this.subscriptions.set(channel, sub);
    return [sub, this.ctx.hub.add(sub)];
  }

  private async subscribe(frame: SubFrame): Promise<void> {
    const { ch } = frame;
    if (this.subscriptions.has(ch)) {
      this.send({ t: 'error', code: ProtocolErrorCode.BAD_REQUEST, message: 'already subscribed', ref: ch });
      return;
    }
    if (this.subscriptions.size >= this.ctx.settings.maxSubscriptions) {
      this.ctx.count('subscriptionLimit');
      this.send({ t: 'error', code: ProtocolErrorCode.LIMIT, message: 'too many subscriptions', ref: ch });
      return;
    }
    if (!(await this.mayRead(ch))) {
      this.send({ t: 'error', code: ProtocolErrorCode.FORBIDDEN, message: 'not allowed to subscribe', ref: ch });
      return;
    }
    const presence = frame.presence !== undefined ? sessionPresenceOf(frame.presence) : undefined;
    if (presence !== undefined && this.presence.oversized(presence)) {
      this.send({ t: 'error', code: ProtocolErrorCode.LIMIT, message: 'presence info too large', ref: ch });
      return;
    }
    if (this.closed || this.subscriptions.has(ch)) return;
    // A member before the subscription starts: a full channel refuses the whole `sub`, nothing started.
    const verdict = presence !== undefined ? await this.presence.join(ch, presence) : undefined;
    if (verdict === 'full') {
      this.send({ t: 'error', code: ProtocolErrorCode.LIMIT, message: "the channel's presence is full", ref: ch });
      return;
    }
    if (this.closed || this.subscriptions.has(ch)) return;
    const [sub, delivered] = this.addSubscription(ch);
    // The store delivers the channel's messages here before its head is read: none falls between.
    await delivered;
    // The position recorded is where delivery starts: never ahead of what the client will have had.
    await sub.start(frame.from);
    this.presence.watch(ch);
    if (verdict === 'unavailable') this.send({ t: 'error', code: ProtocolErrorCode.UNAVAILABLE, message: 'presence is not available on this server', ref: ch });
    const member: { presence?: SessionPresence } = verdict === 'member' ? { presence: presence! } : {};
    await this.ctx.store.updateSession(this.session!.id, { subscribe: [{ channel: ch, position: sub.position, ...member }], expiresAt: Date.now() + this.ctx.settings.sessionTtlMs });
  }

  /** A presence query: a page of the channel's members, for a channel this connection may read. */
  private async query(frame: PresenceFrame): Promise<void> {
    this.send(await this.presence.query(frame, () => this.mayRead(frame.ch), this.subscriptions.has(frame.ch)));
  }

  private async mayRead(channel: string): Promise<boolean> {
    // `$lifeline.*` carries the server's own feeds: readable only where the server says so, at every instant.
    if (isReservedChannel(channel)) {
      const allowed = this.ctx.settings.authorizeReserved ? (await this.ctx.settings.authorizeReserved(this.connection, channel)) === true : false;
      if (!allowed) this.ctx.count('reservedRefused');
      return allowed;
    }
    return this.ctx.settings.authorizeSubscribe ? (await this.ctx.settings.authorizeSubscribe(this.connection, channel)) === true : true;
  }

  private dropSubscription(ch: string): void {
    // A subscription that did not start is no membership either (in the background: the store just failed).
    this.presence.leave(ch).catch((error: unknown) => this.ctx.storeFailed('presenceLeave', error));
    const sub = this.subscriptions.get(ch);
    if (!sub) return;
    sub.close();
    this.ctx.hub.remove(sub);
    this.subscriptions.delete(ch);
  }

  private async unsubscribe(ch: string): Promise<void> {
    if (this.subscriptions.has(ch)) {
      // The session's membership ends with its subscription: the leave is out before `unsubscribed`.
      await this.presence.leave(ch);
      this.dropSubscription(ch);
      await this.ctx.store.updateSession(this.session!.id, { unsubscribe: [ch] });
    }
    this.send({ t: 'unsubscribed', ch });
  }

  private async message(frame: MsgFrame): Promise<void> {
    const { store } = this.ctx;
    const handler = this.ctx.settings.onSessionMessage;
    const fingerprints = fingerprintOf('msg', '', frame.data);
    if (fingerprints === undefined) {
      this.send({ t: 'reject', id: frame.id, code: ProtocolErrorCode.BAD_REQUEST });
      return;
    }
    const options = { leaseMs: this.ctx.settings.claimLeaseMs, ...fingerprints };
    let claim = await store.claimMessage(this.origin, frame.id, options);
    // A claim still held belongs to a handler on a connection that is closing; give it time to finish.
    let deadline: number | undefined;
    while (!claim.claimed && 'outcome' in claim && !claim.conflict && (claim.outcome.state === 'running' || claim.outcome.state === 'claimed')) {
      deadline ??= Date.now() + this.ctx.claimWaitMs;
      if (Date.now() >= deadline) break;
      await new Promise((r) => setTimeout(r, 50));
      claim = await store.claimMessage(this.origin, frame.id, options);
    }
    if (!claim.claimed) {
      if ('forgotten' in claim) {
        this.ctx.count('forgottenIds');
        this.send({ t: 'reject', id: frame.id, code: ProtocolErrorCode.OUTCOME_UNKNOWN });
      } else if (claim.conflict) {
        this.ctx.count('conflicts');
        this.send({ t: 'reject', id: frame.id, code: ProtocolErrorCode.CONFLICT });
      } else this.answer(frame.id, claim.outcome);
      return;
    }
    // The handler starts only once "started" is durable: a claim that never gets here lapses after its
    // lease, so a resend runs; one that does is never run twice (a crash leaves it OUTCOME_UNKNOWN).
    await store.finishMessage(this.origin, frame.id, RUNNING);
    let record: MessageRecord | undefined;
    try {
      let returned = handler?.(this.connection, frame.data, { id: frame.id, session: this.session!.id });
      // A synchronous handler's value is used as it is: awaiting it would only cost a turn of the queue.
      if (isThenable(returned)) returned = await returned;
      const result = resultOf(returned);
      if (result !== undefined) record = { value: result };
    } catch (error) {
      if (error instanceof CloseError) {
        await store.finishMessage(this.origin, frame.id, DONE);
        throw error;
      }
      if (error instanceof DeclinedError) record = { declined: { error: error.error, message: error.message } };
      else {
        const incident = newIncidentId();
        // Recorded before the connection closes, so the resend is rejected instead of run again.
        await store.finishMessage(this.origin, frame.id, { state: 'failed', incident });
        throw new HandlerFailure(incident, error);
      }
    }
    try {
      // The answer is recorded with the outcome: a resend whose first answer was lost gets the same one.
      await store.finishMessage(this.origin, frame.id, record === undefined ? DONE : { state: 'done', result: record });
    } catch (error) {
      // The handler did run: answer it. Only a resend (if this answer is lost) would see the stale claim.
      this.ctx.storeFailed('finishMessage', error);
    }
    this.reply(frame.id, record);
  }

  /** The answer to a handled `msg`: an ack with the handler's value, or the reject of a deliberate refusal. */
  private reply(id: number, record: MessageRecord | undefined): void {
    if (record !== undefined && 'declined' in record) {
      const { error, message } = record.declined;
      this.send({ t: 'reject', id, code: ProtocolErrorCode.DECLINED, error, message });
      return;
    }
    if (record === undefined) {
      // The most frequent frame of all, written directly (`id` is a validated integer): `{"t":"ack","id":N}`.
      this.connection.send(`{"t":"ack","id":${id}}`);
      return;
    }
    this.send({ t: 'ack', id, result: record.value });
  }

  private answer(id: number, outcome: MessageOutcome): void {
    switch (outcome.state) {
      case 'done':
        this.reply(id, outcome.result as MessageRecord | undefined);
        return;
      case 'failed':
        this.send({ t: 'reject', id, code: ProtocolErrorCode.HANDLER_FAILED, incident: outcome.incident });
        return;
      case 'claimed':
        // Claimed, never started (its answer was lost in a store stall): runnable once the lease lapses.
        this.send({ t: 'error', code: ProtocolErrorCode.UNAVAILABLE, message: 'this message is still claimed; resend shortly', ref: id });
        return;
      case 'running':
        this.send({ t: 'reject', id, code: ProtocolErrorCode.OUTCOME_UNKNOWN });
    }
  }

  private async publish(frame: PubFrame): Promise<void> {
    const allowed = !isReservedChannel(frame.ch) && (this.ctx.settings.authorizePublish ? await this.ctx.settings.authorizePublish(this.connection, frame.ch) : false);
    if (!allowed) {
      if (isReservedChannel(frame.ch)) this.ctx.count('reservedRefused');
      this.send({ t: 'reject', id: frame.id, code: ProtocolErrorCode.FORBIDDEN });
      return;
    }
    if (this.channelsCreated >= this.ctx.settings.maxChannelsCreated && isUnwrittenEpoch((await this.ctx.store.head(frame.ch)).epoch)) {
      this.ctx.count('channelLimit');
      this.send({ t: 'reject', id: frame.id, code: ProtocolErrorCode.LIMIT });
      return;
    }
    const fingerprints = fingerprintOf('pub', frame.ch, frame.data);
    if (fingerprints === undefined) {
      this.send({ t: 'reject', id: frame.id, code: ProtocolErrorCode.BAD_REQUEST });
      return;
    }
    let result: AppendResult;
    try {
      // Deduplicated by the message id in the origin's claims, atomically with the append: stored once,
      // acknowledged every time, and an id reused for other content is a conflict.
      result = await this.ctx.publish(frame.ch, frame.data, { claim: { scope: this.origin, id: frame.id, ...fingerprints } });
    } catch (error) {
      if (error instanceof IdempotencyConflictError) {
        this.ctx.count('conflicts');
        this.send({ t: 'reject', id: frame.id, code: ProtocolErrorCode.CONFLICT });
        return;
      }
      if (error instanceof IdempotencyWindowError) {
        this.ctx.count('forgottenIds');
        this.send({ t: 'reject', id: frame.id, code: ProtocolErrorCode.OUTCOME_UNKNOWN });
        return;
      }
      // Data the store cannot represent (nested too deep, not JSON) is the client's mistake: never resend it.
      if (error instanceof TypeError || error instanceof RangeError) {
        this.send({ t: 'reject', id: frame.id, code: ProtocolErrorCode.BAD_REQUEST });
        return;
      }
      throw error;
    }
    if (!result.duplicate && result.message.offset === 1) this.channelsCreated += 1;
    this.send({ t: 'ack', id: frame.id, off: result.message.offset, epoch: result.message.epoch });
  }

  /**
   * The connection closed (or was taken over): stop delivering. The session stays in the store for a resume;
   * its presence memberships leave if the close ended the session, else wait for the resume (`connection-presence.ts`).
   * @param code - the close code (none for a takeover, which never ends the session)
   * @param closedBy - who started the close
   */
  close(code?: number, closedBy?: ClosedBy): void {
    if (this.closed) return;
    this.closed = true;
    this.presence.closed(code, closedBy);
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    if (this.renewTimer) clearTimeout(this.renewTimer);
    if (this.session) {
      this.ctx.holders.release(this.session.id, this);
      // The resume window counts from the session's last use, which is now.
      this.ctx.store
        .updateSession(this.session.id, { expiresAt: Date.now() + this.ctx.settings.sessionTtlMs })
        .catch((error: unknown) => this.ctx.storeFailed('updateSession', error));
    }
    for (const sub of this.subscriptions.values()) {
      sub.close();
      this.ctx.hub.remove(sub);
    }
    this.subscriptions.clear();
  }
}
