/**
 * The session's public types: its events and their payloads, and what its calls take and return.
 * @packageDocumentation
 */
import type { LifelineError } from '../errors.js';
import type { Json, Member, Position, PresenceRequest } from '../protocol/frames.js';
import type { ClientEvents } from './client.js';

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
  /** When the resume token expires if unused, ms since the epoch (server clock), as of this welcome; the server moves it on while the connection lives and when it closes. */
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
   * A member joined a channel subscribed with `presence: { events: true }` (a `join` of a member you know
   * already replaces it). Live only: after a reconnect, query {@link LifelineSession.presence} again.
   */
  join: PresenceEvent;
  /** A member left such a channel: its session ended, or was not resumed within the server's grace period. */
  leave: PresenceEvent;
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
  /**
   * Be a member of the channel's presence, with `info` (JSON the server bounds, 1 KB by default) for the
   * other members, and `events: true` for its `join`/`leave` events. The membership belongs to the session:
   * reconnects and restarts that resume it are not seen as a leave and a join.
   */
  readonly presence?: PresenceRequest;
}

/** A member of a channel's presence: a session, its user (named by the server's `authenticate`), its info. */
export type PresenceMember = Member;

/** A `join` or `leave` event. */
export interface PresenceEvent {
  /** The channel. */
  readonly channel: string;
  /** Who joined (with its info) or left. */
  readonly member: PresenceMember;
}

/** Options of {@link LifelineSession.presence}: the protocol's query. */
export type { PresenceQuery } from '../protocol/frames.js';

/** A page of a channel's members, in session id order. */
export interface PresencePage {
  /** Members of the channel now, all pages together. */
  readonly count: number;
  /** This page. */
  readonly members: readonly PresenceMember[];
  /** The cursor of the next page; absent on the last. */
  readonly next?: string;
}

/** What {@link LifelineSession.publish} resolves with. */
export interface PublishResult {
  /** Where the message was stored in the channel. */
  readonly offset: number;
  /** The channel's epoch that offset belongs to. */
  readonly epoch: string;
}
