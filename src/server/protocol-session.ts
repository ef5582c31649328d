/**
 * The `lifeline.v1` side of one connection: hello/welcome and resume, subscriptions with replay,
 * acknowledged messages with at-most-once handlers, acknowledged publishes stored exactly once.
 * Runs inside the connection's serial handler chain, so frames are handled in arrival order.
 * @packageDocumentation
 */
import type { Logger } from 'pino';
import {
  decodeClientFrame,
  ErrorCode,
  FrameError,
  UnknownFrameTypeError,
  type ClientFrame,
  type HelloFrame,
  type Json,
  type MsgFrame,
  type PubFrame,
  type ServerFrame,
  type SubFrame,
} from '../protocol/index.js';
import { StoreError } from '../store/errors.js';
import type { AppendResult, MessageOutcome, SessionRecord, Store } from '../store/types.js';
import type { Connection } from './connection.js';
import { CloseError, HandlerFailure } from './errors.js';
import { newIncidentId } from './ids.js';
import { mintToken, parseToken, verifyToken } from './sessions.js';
import { ChannelHub, Subscription, type SubscriptionSink } from './subscription.js';

/** Context passed to the handler of an acknowledged `msg`. */
export interface SessionMessageContext {
  /** The client's message id (unique per origin). */
  readonly id: number;
  /** The session the connection belongs to. */
  readonly session: string;
}

/** Handler for an acknowledged client message. The ack is sent after it resolves; a throw closes with 1011. */
export type SessionMessageHandler = (connection: Connection, data: Json, context: SessionMessageContext) => void | Promise<void>;

/** Authorisation hook for a channel operation; resolve true to allow. */
export type ChannelAuthorizer = (connection: Connection, channel: string) => boolean | Promise<boolean>;

/** What the protocol layer needs from the server. */
export interface ProtocolContext {
  readonly store: Store;
  readonly hub: ChannelHub;
  readonly logger: Logger;
  readonly sessionTtlMs: number;
  readonly heartbeatMs: number;
  readonly maxSubscriptions: number;
  /** How long a resend waits for a claim still running elsewhere before answering OUTCOME_UNKNOWN. */
  readonly claimWaitMs: number;
  readonly onSessionMessage?: SessionMessageHandler | undefined;
  readonly authorizeSubscribe?: ChannelAuthorizer | undefined;
  readonly authorizePublish?: ChannelAuthorizer | undefined;
  /** Append and fan out. */
  publish(channel: string, data: Json, idempotencyKey?: string): Promise<AppendResult>;
  /** Count a store failure. */
  storeFailed(operation: string, error: unknown): void;
  /** Count messages replayed from history. */
  replayed(count: number): void;
  /** A `hello` was answered. */
  welcomed(event: { connection: Connection; session: string; resumed: boolean; recovered: boolean; lost: readonly string[] }): void;
}

/** The protocol state of one `lifeline.v1` connection. */
export class ProtocolSession {
  private session: SessionRecord | undefined;
  /** Dedupe namespace of this client's message ids: its origin, else its session. */
  private origin = '';
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly sink: SubscriptionSink;
  /** Set when the first frame arrives (before it is handled), so a slow `hello` is not mistaken for a silent client. */
  received = false;
  private closed = false;

  constructor(
    private readonly connection: Connection,
    private readonly ctx: ProtocolContext,
    /** Identity from authentication, bound into the session. */
    private readonly user: string | undefined,
  ) {
    this.sink = {
      send: (frame) => this.send(frame),
      sendText: (text) => this.connection.send(text),
      get open() {
        return connection.state === 'open';
      },
      storeFailed: (channel, error) => {
        ctx.storeFailed('read', error);
        this.send({ t: 'error', code: ErrorCode.UNAVAILABLE, message: 'history is unavailable; retrying', ref: channel });
      },
      replayed: (count) => ctx.replayed(count),
    };
  }

  /** The session id, once `hello` was handled. */
  get sessionId(): string | undefined {
    return this.session?.id;
  }

  /** The channels subscribed on this connection (read-only, for operator views). */
  get channels(): string[] {
    return [...this.subscriptions.keys()];
  }

  private send(frame: ServerFrame): void {
    this.connection.send(JSON.stringify(frame));
  }

  /** Handle one incoming WebSocket message. Throws `CloseError` for protocol violations. */
  async handle(data: string | Uint8Array): Promise<void> {
    let frame: ClientFrame;
    try {
      frame = decodeClientFrame(data);
    } catch (error) {
      if (error instanceof FrameError) throw new CloseError(error.closeCode, error.reason);
      if (error instanceof UnknownFrameTypeError) {
        this.send({ t: 'error', code: ErrorCode.UNKNOWN_TYPE, message: `unknown frame type`, ref: error.type });
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
      if (frame.t === 'hello') throw new CloseError(1013, 'store unavailable; retry=1000-5000ms');
      const ref = frame.t === 'msg' || frame.t === 'pub' ? frame.id : frame.t === 'sub' || frame.t === 'unsub' ? frame.ch : undefined;
      if (frame.t === 'sub') this.dropSubscription(frame.ch);
      this.send({ t: 'error', code: ErrorCode.UNAVAILABLE, message: 'the store is unavailable; retry later', ...(ref !== undefined ? { ref } : {}) });
    }
  }

  private async dispatch(frame: Exclude<ClientFrame, { t: 'ping' }>): Promise<void> {
    if (!this.session) {
      if (frame.t !== 'hello') throw new CloseError(1002, 'hello expected first');
      await this.hello(frame);
      return;
    }
    switch (frame.t) {
      case 'hello':
        throw new CloseError(1002, 'hello sent twice');
      case 'sub':
        await this.subscribe(frame);
        return;
      case 'unsub':
        await this.unsubscribe(frame.ch);
        return;
      case 'msg':
        await this.message(frame);
        return;
      case 'pub':
        await this.publish(frame);
        return;
    }
  }

  private async hello(frame: HelloFrame): Promise<void> {
    const { store } = this.ctx;
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
    const listed = Object.keys(frame.channels ?? {});
    if (resumed) {
      this.session = { ...resumed, expiresAt: now + this.ctx.sessionTtlMs };
    } else {
      const minted = mintToken();
      token = minted.token;
      this.session = {
        id: minted.sessionId,
        tokenHash: minted.tokenHash,
        channels: [],
        expiresAt: now + this.ctx.sessionTtlMs,
        ...(this.user !== undefined ? { user: this.user } : {}),
      };
    }
    // Bound to the identity too, so one user can never collide with (or learn about) another's message ids.
    this.origin = frame.origin !== undefined ? `o:${this.user ?? ""}:${frame.origin}` : `s:${this.session.id}`;
    await store.saveSession(this.session);

    // Restore the session's subscriptions, and any the client lists that the session missed (a `sub` in flight
    // when the link dropped), each checked again: permissions may have changed since.
    const lost: string[] = resumed ? [] : listed;
    const restore: string[] = [];
    if (resumed) {
      for (const channel of new Set([...this.session.channels, ...listed])) {
        if (await this.mayRead(channel)) restore.push(channel);
        else lost.push(channel);
      }
      if (restore.length !== this.session.channels.length || restore.some((c, i) => c !== this.session!.channels[i])) {
        this.session = { ...this.session, channels: restore };
        await store.saveSession(this.session);
      }
    }
    if (this.closed) return;
    const starts: Promise<void>[] = [];
    this.send({
      t: 'welcome',
      v: 1,
      session: this.session.id,
      token: token!,
      expiresAt: this.session.expiresAt,
      resumed: resumed !== undefined,
      recovered: resumed !== undefined && lost.length === 0,
      lost,
      heartbeatMs: this.ctx.heartbeatMs,
    });
    this.ctx.welcomed({ connection: this.connection, session: this.session.id, resumed: resumed !== undefined, recovered: resumed !== undefined && lost.length === 0, lost });
    for (const channel of restore) {
      const sub = new Subscription(channel, this.sink, store);
      this.subscriptions.set(channel, sub);
      this.ctx.hub.add(sub);
      starts.push(sub.start(frame.channels?.[channel]).then(() => undefined));
    }
    await Promise.all(starts);
  }

  private async subscribe(frame: SubFrame): Promise<void> {
    const { ch } = frame;
    if (this.subscriptions.has(ch)) {
      this.send({ t: 'error', code: ErrorCode.BAD_REQUEST, message: 'already subscribed', ref: ch });
      return;
    }
    if (this.subscriptions.size >= this.ctx.maxSubscriptions) {
      this.send({ t: 'error', code: ErrorCode.LIMIT, message: 'too many subscriptions', ref: ch });
      return;
    }
    if (!(await this.mayRead(ch))) {
      this.send({ t: 'error', code: ErrorCode.FORBIDDEN, message: 'not allowed to subscribe', ref: ch });
      return;
    }
    if (this.closed || this.subscriptions.has(ch)) return;
    const sub = new Subscription(ch, this.sink, this.ctx.store);
    this.subscriptions.set(ch, sub);
    this.ctx.hub.add(sub);
    await this.saveChannels();
    await sub.start(frame.from);
  }

  private async mayRead(channel: string): Promise<boolean> {
    return this.ctx.authorizeSubscribe ? (await this.ctx.authorizeSubscribe(this.connection, channel)) === true : true;
  }

  private dropSubscription(ch: string): void {
    const sub = this.subscriptions.get(ch);
    if (!sub) return;
    sub.close();
    this.ctx.hub.remove(sub);
    this.subscriptions.delete(ch);
  }

  private async unsubscribe(ch: string): Promise<void> {
    const sub = this.subscriptions.get(ch);
    if (sub) {
      sub.close();
      this.ctx.hub.remove(sub);
      this.subscriptions.delete(ch);
      await this.saveChannels();
    }
    this.send({ t: 'unsubscribed', ch });
  }

  private async saveChannels(): Promise<void> {
    if (!this.session) return;
    this.session = { ...this.session, channels: [...this.subscriptions.keys()], expiresAt: Date.now() + this.ctx.sessionTtlMs };
    await this.ctx.store.saveSession(this.session);
  }

  private async message(frame: MsgFrame): Promise<void> {
    const { store } = this.ctx;
    const handler = this.ctx.onSessionMessage;
    let claim = await store.claimMessage(this.origin, frame.id);
    // A claim still running belongs to a handler on a connection that is closing; give it time to finish.
    const deadline = Date.now() + this.ctx.claimWaitMs;
    while (!claim.claimed && claim.outcome.state === 'running' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      claim = await store.claimMessage(this.origin, frame.id);
    }
    if (!claim.claimed) {
      this.answer(frame.id, claim.outcome);
      return;
    }
    try {
      await handler?.(this.connection, frame.data, { id: frame.id, session: this.session!.id });
    } catch (error) {
      if (error instanceof CloseError) {
        await store.finishMessage(this.origin, frame.id, { state: 'done' });
        throw error;
      }
      const incident = newIncidentId();
      // Recorded before the connection closes, so the resend is rejected instead of run again.
      await store.finishMessage(this.origin, frame.id, { state: 'failed', incident });
      throw new HandlerFailure(incident, error);
    }
    try {
      await store.finishMessage(this.origin, frame.id, { state: 'done' });
    } catch (error) {
      // The handler did run: acknowledge it. Only a resend (if this ack is lost) would see the stale claim.
      this.ctx.storeFailed('finishMessage', error);
    }
    this.send({ t: 'ack', id: frame.id });
  }

  private answer(id: number, outcome: MessageOutcome): void {
    if (outcome.state === 'done') this.send({ t: 'ack', id });
    else if (outcome.state === 'failed') this.send({ t: 'reject', id, code: ErrorCode.HANDLER_FAILED, incident: outcome.incident });
    else this.send({ t: 'reject', id, code: ErrorCode.OUTCOME_UNKNOWN });
  }

  private async publish(frame: PubFrame): Promise<void> {
    const allowed = this.ctx.authorizePublish ? await this.ctx.authorizePublish(this.connection, frame.ch) : false;
    if (!allowed) {
      this.send({ t: 'reject', id: frame.id, code: ErrorCode.FORBIDDEN });
      return;
    }
    let result: AppendResult;
    try {
      // The key makes a resent publish a no-op: stored once, acknowledged every time.
      result = await this.ctx.publish(frame.ch, frame.data, `c:${this.origin}:${frame.id}`);
    } catch (error) {
      this.ctx.storeFailed('append', error);
      this.send({ t: 'error', code: ErrorCode.UNAVAILABLE, message: 'cannot store right now; resend later', ref: frame.id });
      return;
    }
    this.send({ t: 'ack', id: frame.id, off: result.message.offset });
  }

  /** The connection closed: stop delivering. The session stays in the store for a resume. */
  close(): void {
    this.closed = true;
    if (this.session) {
      // The resume window counts from the session's last use, which is now.
      const session = { ...this.session, channels: [...this.subscriptions.keys()], expiresAt: Date.now() + this.ctx.sessionTtlMs };
      this.ctx.store.saveSession(session).catch((error: unknown) => this.ctx.storeFailed('saveSession', error));
    }
    for (const sub of this.subscriptions.values()) {
      sub.close();
      this.ctx.hub.remove(sub);
    }
    this.subscriptions.clear();
  }
}
