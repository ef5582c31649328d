/**
 * The store contract: channel history with epochs and offsets, sessions, and dedupe records.
 * One interface, several engines (memory, sqlite, redis). Every method is async so a networked
 * engine fits the same shape. The memory engine is the reference: the conformance suite
 * (`lifeline/testing`) runs unchanged against every engine, lifeline's own and any written elsewhere.
 * @packageDocumentation
 */

/** A JSON value: what applications publish and send. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * Where a reader stands in a channel. `epoch` names one unbroken history of the channel; it changes
 * whenever history may have been lost (a memory store restarted, a reset), so offsets from another
 * epoch mean nothing. `offset` is the last message seen (0: none yet). Offsets start at 1 and increase
 * by exactly 1 per message within an epoch.
 */
export interface ChannelPosition {
  readonly epoch: string;
  readonly offset: number;
}

/** One message of a channel's history. */
export interface StoredMessage {
  readonly channel: string;
  readonly epoch: string;
  readonly offset: number;
  /** The data, as JSON round-trips it (engines store JSON text: `-0` reads back as `0`). */
  readonly data: JsonValue;
  /**
   * When it was appended, ms since the epoch, from the store's clock. Never decreases within a
   * channel: if the clock steps back, the previous message's time is used, so age trimming always
   * drops a prefix of the history.
   */
  readonly time: number;
}

/** Result of {@link Store.append}. */
export interface AppendResult {
  /** The stored message (for a duplicate: the one stored the first time). */
  readonly message: StoredMessage;
  /** True when the idempotency key was already used and nothing new was stored. */
  readonly duplicate: boolean;
}

/** Options of {@link Store.read}. */
export interface ReadOptions {
  /**
   * Stop once the returned messages' data add up to at least this many bytes of stored JSON text
   * (`more` is then true). At least one message is returned when any is due, however large: a page
   * bound, not a size filter. @default no bound
   */
  readonly maxBytes?: number;
}

/** Result of {@link Store.read}. */
export interface ReadResult {
  /** Messages after the given position, in offset order, at most `limit`. */
  readonly messages: readonly StoredMessage[];
  /**
   * True when the messages are exactly everything after the given position (possibly with more
   * beyond `limit`: see `more`). False when the position's epoch is not the current one, or history
   * was trimmed past it: the reader missed messages that can no longer be replayed.
   */
  readonly complete: boolean;
  /** True when `limit` or `maxBytes` cut the result short; read again from the last message's offset. */
  readonly more: boolean;
  /** The channel's current position (epoch and newest offset). */
  readonly head: ChannelPosition;
}

/** Bounds on each channel's history. Whichever is hit first trims. */
export interface HistoryLimits {
  /** Most messages kept per channel. */
  readonly maxCount: number;
  /** Oldest message kept, in ms. */
  readonly maxAgeMs: number;
}

/** A resumable session, as stored. The resume token itself is never stored, only its hash. */
export interface SessionRecord {
  /** Public session id. */
  readonly id: string;
  /** SHA-256 of the resume token, hex. */
  readonly tokenHash: string;
  /** Identity the session belongs to (from the authenticate hook), if any. */
  readonly user?: string;
  /** Channels subscribed, in the order they were subscribed. */
  readonly channels: readonly string[];
  /**
   * For some of `channels`: the position the server last knew it had delivered on that channel (at
   * subscribe time, updated when a connection closes). A resume may restore a channel from here: it is
   * never ahead of what the client received, so replaying from it can repeat but never skip.
   * Engines return it as an object without a prototype (a channel may be called `__proto__`).
   */
  readonly positions?: Readonly<Record<string, ChannelPosition>>;
  /**
   * For some of `channels`: the session is a presence member there, with these options (what the `sub`
   * asked for), so a resume restores the membership, or joins again after the member left. Engines with
   * a {@link Store.presence} keep it; they return it as an object without a prototype, like `positions`.
   */
  readonly presence?: Readonly<Record<string, SessionPresence>>;
  /** When the session can no longer be resumed, ms since the epoch. */
  readonly expiresAt: number;
}

/** A session's presence in one channel, as its `sub` asked for it (see {@link SessionRecord.presence}). */
export interface SessionPresence {
  /** What the client says about itself to the channel's other members (JSON; bounded by the server). */
  readonly info?: JsonValue;
  /** Whether the session wants `join` and `leave` events of the channel. */
  readonly events?: boolean;
}

/**
 * A change to a stored session ({@link Store.updateSession}): a write proportional to what changed,
 * not a rewrite of the whole record.
 */
export interface SessionPatch {
  /** A new expiry, ms since the epoch. */
  readonly expiresAt?: number;
  /**
   * Channels added (appended to `channels` when new), with the position to restore them from, if known,
   * and the session's presence there, if it is a member (given: replaces what was kept; absent: kept).
   */
  readonly subscribe?: readonly { readonly channel: string; readonly position?: ChannelPosition; readonly presence?: SessionPresence }[];
  /** Channels removed, with their positions and presence. */
  readonly unsubscribe?: readonly string[];
}

/** Options of {@link Store.claimMessage}. */
export interface ClaimOptions {
  /**
   * How long the new claim holds before another claim of the same id may win, in ms, unless
   * {@link Store.finishMessage} records an outcome first (which then lives `dedupeTtlMs`). A short lease
   * lets a message whose claim was taken but whose handler never started (the claim's answer was lost
   * in a store stall) run on its resend. @default dedupeTtlMs
   */
  readonly leaseMs?: number;
  /**
   * A digest of the message's content, kept with the claim: a later claim of the same id with another
   * fingerprint is answered `conflict: true` (the id was reused for different content).
   */
  readonly fingerprint?: string;
  /**
   * The same content's fingerprint in the form an earlier version computed, when it differs: a recorded
   * fingerprint equal to it is no conflict either (a resend of a message claimed before an upgrade).
   * Never recorded.
   */
  readonly legacyFingerprint?: string;
}

/**
 * What became of a client message id the server has seen.
 * - `claimed`: a server claimed it; whether its handler started is not recorded (the claim's lease
 *   runs out if it never does).
 * - `running`: its handler started; if it never finished, whether it took effect is unknown.
 * - `done`: it succeeded; `result` is what the server recorded with it (a handler's answer, a publish's position).
 * - `failed`: its handler failed with incident `incident`.
 */
export type MessageOutcome =
  | { readonly state: 'claimed' }
  | { readonly state: 'running' }
  | { readonly state: 'done'; readonly result?: JsonValue }
  | { readonly state: 'failed'; readonly incident: string };

/** Options of {@link Store.append}. */
export interface AppendOptions {
  /**
   * Makes the append idempotent: with a key already used (within the dedupe TTL) nothing is stored
   * and the first message is returned with `duplicate: true`.
   */
  readonly idempotencyKey?: string;
  /**
   * Who the key belongs to (a client's origin). The engine keeps at most `maxKeysPerScope` live keys
   * per scope, forgetting the oldest first, so one client cannot make it keep records without bound.
   * Keys without a scope (trusted publishers over HTTP) are bounded by their TTL only.
   */
  readonly idempotencyScope?: string;
  /**
   * Deduplicate by a client message id instead of a key: the append is recorded, atomically with the
   * message, as the `done` outcome of the claim `(scope, id)` ({@link Store.claimMessage}), whose
   * `result` is the message's `{channel, epoch, offset, time}`. An id already done with the same
   * fingerprint returns the first message (`duplicate: true`, with this call's data); with another
   * fingerprint, or any other recorded outcome, it rejects with `IdempotencyConflictError`; an id
   * older than the scope's window rejects with `IdempotencyWindowError`. Client messages and client
   * publishes so share one id space per scope. `legacyFingerprint`: as in {@link ClaimOptions}.
   */
  readonly claim?: { readonly scope: string; readonly id: number; readonly fingerprint: string; readonly legacyFingerprint?: string };
}

/**
 * Result of {@link Store.claimMessage}. Not claimed: the recorded outcome, and `conflict: true` when the
 * id was claimed with another fingerprint (the id was reused for different content), or `forgotten: true`
 * when the id is older than the window its scope keeps (whether it was ever seen is unknown).
 */
export type ClaimResult =
  | { readonly claimed: true }
  | { readonly claimed: false; readonly outcome: MessageOutcome; readonly conflict?: true }
  | { readonly claimed: false; readonly forgotten: true };

/**
 * How many records an engine holds, for metrics and for proving bounds. Each count is exact or absent
 * (an engine that cannot count something cheaply leaves it out rather than guess).
 */
export interface StoreStats {
  /** Channels that were written (unwritten channels are not records). */
  readonly channels?: number;
  /** Messages retained in history, all channels. */
  readonly messages?: number;
  /** Sessions stored (expired ones not yet swept included). */
  readonly sessions?: number;
  /** Subscriptions recorded in sessions. */
  readonly sessionChannels?: number;
  /** Message claims (dedupe records of client message ids). */
  readonly claims?: number;
  /** Idempotency keys. */
  readonly keys?: number;
  /** Presence members, held or within their grace, all channels. */
  readonly presenceMembers?: number;
  /** Nodes with a presence lease (live, or expired and not yet swept). */
  readonly presenceNodes?: number;
}

/** A member of a channel's presence: one session (never one connection: a session outlives its connections). */
export interface PresenceMember {
  /** The session's public id (`welcome.session`). */
  readonly session: string;
  /** The user the server's `authenticate` hook named for the session, if any. */
  readonly user?: string;
  /** What the client says about itself (JSON; the server bounds its size). */
  readonly info?: JsonValue;
}

/** Which connection of which server process holds a member now. */
export interface PresenceHolder {
  /** The process's id: its lease ({@link PresenceStore.refreshNode}) keeps the members it holds alive. */
  readonly node: string;
  /** The connection's id: a connection that no longer holds the member (taken over) cannot detach it. */
  readonly connection: string;
}

/** Options of {@link PresenceStore.join}. */
export interface PresenceJoinOptions {
  /**
   * How long the member stays once no connection holds it: after its holder detached it, or after the
   * lease of its holder's node ran out (a process that died without a word), in ms.
   */
  readonly graceMs: number;
  /** Most members the channel may have: a new member beyond it is refused (`full`). */
  readonly maxMembers: number;
}

/**
 * What {@link PresenceStore.join} did: `joined` (a new member: a `join` for the channel's watchers),
 * `continued` (the session was a member already, held or within its grace: nothing to tell anyone), or
 * `full` (a new member the channel has no room for: nothing was written).
 */
export type PresenceJoinResult = 'joined' | 'continued' | 'full';

/** A member came or went. */
export interface PresenceChange {
  readonly kind: 'join' | 'leave';
  readonly channel: string;
  readonly member: PresenceMember;
  /**
   * Where the change stands in its channel's changes, from an engine whose `watch` can miss some (a
   * subscription that broke): see {@link PresenceVersion}. Absent from engines that never miss any.
   */
  readonly version?: PresenceVersion;
}

/**
 * A channel's presence changes counted: `seq` is 1 for the change that gave the channel its first member
 * and grows by exactly 1 per change after it, within `epoch`, which is new each time the channel gets a
 * first member again (after it was empty). A watcher that sees a change whose `seq` is not one more than
 * the last (or another `epoch` that does not start at 1) missed changes, and reads a
 * {@link PresenceSnapshot} to catch up.
 */
export interface PresenceVersion {
  readonly epoch: string;
  readonly seq: number;
}

/** Every member of a channel, read at once, with the version of the last change it reflects ({@link PresenceStore.snapshot}). */
export interface PresenceSnapshot {
  /** Undefined when the channel has no member (and so no epoch). */
  readonly version?: PresenceVersion;
  /** Every member, in the order of their session ids. */
  readonly members: readonly PresenceMember[];
}

/** One page of a channel's members, in the order of their session ids. */
export interface PresencePage {
  /** Members of the channel now, all pages together. */
  readonly count: number;
  /** The members after the page's cursor, at most the limit asked for. */
  readonly members: readonly PresenceMember[];
  /** The cursor of the next page (pass it as `after`); absent on the last page. */
  readonly next?: string;
}

/**
 * Presence records: who is a member of which channel, held by which connection, and until when a member
 * no connection holds stays. What makes presence survive a restart is here: a member leaves only when
 * (a) the server says its session ended ({@link PresenceStore.leave}) or (b) its deadline passed, a deadline
 * set when its connection went away ({@link PresenceStore.detach}) or when the node that held it stopped
 * renewing its lease; and the leave of (b) is claimed atomically by whichever process sweeps first
 * ({@link PresenceStore.expire}), so it happens exactly once. The rules are written once in
 * `store/presence-rules.ts`; the memory engine is the reference, and the conformance suite pins them.
 */
export interface PresenceStore {
  /**
   * Make `member` a member of `channel`, held by `holder`: a session already a member (held by another
   * connection, or detached and within its grace) continues, silently, under the new holder, with the new
   * info; otherwise a new member, unless the channel has `maxMembers` already.
   */
  join(channel: string, member: PresenceMember, holder: PresenceHolder, options: PresenceJoinOptions): Promise<PresenceJoinResult>;
  /**
   * A connection went away without ending its session (a restart, a takeover, a dropped link): each of the
   * session's memberships in `channels` that `holder` still holds stays, for `graceMs` from now, held by
   * nobody. Resolves with how many were detached.
   */
  detach(session: string, channels: readonly string[], holder: PresenceHolder, graceMs: number): Promise<number>;
  /**
   * The session left `channels` (it unsubscribed, or it ended): its memberships there are removed, only
   * those `holder` holds when one is given. Resolves with the leaves that happened (each exactly once).
   */
  leave(session: string, channels: readonly string[], holder?: PresenceHolder): Promise<PresenceChange[]>;
  /**
   * `node` is alive for `leaseMs` more. A node whose lease runs out is taken for dead: every member it
   * holds is detached with its grace counted from the lease's end. Resolves `false` when the lease had run
   * out or was unknown (its members may have been detached meanwhile: the node joins them again).
   */
  refreshNode(node: string, leaseMs: number): Promise<boolean>;
  /**
   * Sweep: detach the members of nodes whose lease ran out, then remove at most `limit` members whose
   * deadline passed, claiming each leave atomically (two processes sweeping at once never both get one).
   * Resolves with the leaves this call claimed; fewer than `limit` means none is due now.
   */
  expire(limit: number): Promise<PresenceChange[]>;
  /** A page of the channel's members: at most `limit` (an integer >= 1), after the session id `after`. */
  page(channel: string, after: string | undefined, limit: number): Promise<PresencePage>;
  /** How many members the channel has. */
  count(channel: string): Promise<number>;
  /**
   * Engines shared by several processes call `listener` with every change any process makes (its own
   * included), so each process tells its own watchers; an engine with {@link Store.follow} (Redis), with
   * every change of the channels this process follows (and possibly a few more). Engines private to one
   * process leave it undefined: the server then tells its watchers the changes its own calls report.
   * Returns the unsubscribe function.
   */
  watch?(listener: (change: PresenceChange) => void): () => void;
  /**
   * Engines whose `watch` can miss changes (Redis: its deliveries ride on pub/sub, which may break) give
   * each change a {@link PresenceChange.version} and read every member of a channel at once here, with the
   * version of the last change the read reflects: a watcher that missed changes (a gap in the versions, or
   * a delivery restored after a break, see {@link PresenceStore.onMissed}) compares what it knew with this and
   * tells what changed. A channel has at most `maxMembers` members (the server's bound), so this is bounded.
   */
  snapshot?(channel: string): Promise<PresenceSnapshot>;
  /**
   * Engines whose `watch` can miss changes (with a `snapshot`) call `listener` once their delivery is
   * restored after a break, with the channels whose changes may have been missed meanwhile, or `undefined`
   * when any channel's may have been (a reader that fell behind a bounded feed): a watcher reads them again.
   * Returns the unsubscribe function.
   */
  onMissed?(listener: (channels?: readonly string[]) => void): () => void;
}

/** A channel whose epoch a store's rollback fence rotated (see {@link Store.onRollback}). */
export interface StoreRollback {
  /** The channel. */
  readonly channel: string;
  /** The epoch in which the store showed less than was seen. */
  readonly epoch: string;
  /** The highest committed offset this store had seen in that epoch. */
  readonly seen: number;
  /** The newest offset the store held instead (lower than `seen`). */
  readonly found: number;
  /** The channel's epoch from now on. */
  readonly newEpoch: string;
}

/** The storage engine behind a lifeline server. */
export interface Store {
  /** Engine name, e.g. `memory`, `sqlite`, `redis`. */
  readonly kind: string;
  /** Whether history, sessions and dedupe records survive a process restart. */
  readonly durable: boolean;

  /**
   * Append a message to a channel and return its epoch and offset. Resolves only once the message
   * is as durable as the engine makes it. With an idempotency key already used (within the dedupe
   * TTL) for the same channel and data, nothing is stored and the first message is returned with
   * `duplicate: true`; for another channel or other data it rejects with `IdempotencyConflictError`.
   *
   * Idempotency keys are global across channels, live for `dedupeTtlMs` from the append that used
   * them, and outlive the message in history (a duplicate still gets the first message after it was
   * trimmed). Appending trims history beyond `maxCount` and older than `maxAgeMs`; trimming never
   * changes the epoch and never lets an offset be given out twice.
   * @throws TypeError for an empty channel, an empty key, or data JSON cannot represent (too deep,
   *   a cycle, a BigInt): the caller's mistake, never a store outage
   */
  append(channel: string, data: JsonValue, options?: AppendOptions): Promise<AppendResult>;
  /**
   * Read history after `from`. Without `from`, reads nothing and reports the head (complete).
   *
   * - `from` in the current epoch, at most the head, and not before the oldest retained message - 1:
   *   the messages after `from.offset`, `complete: true`.
   * - history trimmed past `from.offset` (by count, or by age, which reads apply lazily):
   *   `complete: false`, the messages retained after the gap.
   * - another epoch, or an offset beyond the head (a position this history never gave out):
   *   `complete: false`, the retained history from the oldest, for the caller to deliver or not.
   *
   * A channel that was never written has the store's *empty epoch* (it starts with `~`, see
   * `isUnwrittenEpoch`) and offset 0, and reading it stores nothing: readers cannot make the store keep
   * records. A reader at offset 0 of the empty epoch has missed nothing while the channel's history
   * still starts at offset 1, whatever epoch its first append gives it. The empty epoch changes when
   * the engine loses its data (a memory store restarts, Redis loses its keys).
   * @param limit - most messages to return, an integer >= 0
   * @param options - a byte bound on the page ({@link ReadOptions.maxBytes})
   * @throws RangeError for a bad `limit`, `from.offset` or `maxBytes`
   */
  read(channel: string, from: ChannelPosition | undefined, limit: number, options?: ReadOptions): Promise<ReadResult>;
  /** The current epoch and newest offset of a channel (the empty epoch and 0 when never written). */
  head(channel: string): Promise<ChannelPosition>;

  /** Create or replace a session. */
  saveSession(session: SessionRecord): Promise<void>;
  /**
   * Change a stored session: its expiry, channels added (with a position) and removed. Resolves
   * `false`, changing nothing, when the session is unknown or expired.
   */
  updateSession(id: string, patch: SessionPatch): Promise<boolean>;
  /** Load a session; undefined when unknown or expired (expired from `expiresAt` on, by the store's clock). */
  loadSession(id: string): Promise<SessionRecord | undefined>;
  /** Forget a session and its message claims ({@link Store.claimMessage}). Idempotency keys are global and stay. */
  deleteSession(id: string): Promise<void>;

  /**
   * Claim a client message id for processing. The first claim wins (`claimed: true`, state `running`);
   * later claims return the recorded outcome. This is what makes a handler run at most once per id.
   * Claims are per scope (a client's origin, or its session). A record lives for `leaseMs` (default
   * `dedupeTtlMs`) from the claim, or `dedupeTtlMs` from the {@link Store.finishMessage} that recorded
   * its outcome; after that the id can be claimed again. A scope keeps the records of its highest
   * `maxClaimsPerScope` ids only: claiming an id at or below its highest id minus that number answers
   * `forgotten` and records nothing, so one client cannot grow the records without bound.
   */
  claimMessage(session: string, messageId: number, options?: ClaimOptions): Promise<ClaimResult>;
  /**
   * Record how a claimed message is going or ended (`running` when its handler starts, then `done` or
   * `failed`); also when the claim is unknown or expired: the outcome is recorded. The record then lives
   * `dedupeTtlMs`. The fingerprint of the claim is kept.
   */
  finishMessage(session: string, messageId: number, outcome: MessageOutcome): Promise<void>;

  /**
   * Engines shared by several processes (redis, a sqlite file) call `listener` for messages appended by any
   * other process, so each process can deliver them to its own subscribers: every message of every channel,
   * or, in an engine with {@link Store.follow}, the messages of the channels this process follows (and
   * possibly a few more). Whether the appends made through this very store object come back too is the
   * engine's choice (redis: yes; sqlite: no, its caller already has them): the server delivers what it
   * appends itself, and a listener must take a message it already has in its stride. Engines private to
   * one process leave it undefined. Returns the unsubscribe function.
   */
  watch?(listener: (message: StoredMessage) => void): () => void;

  /**
   * Engines whose `watch` delivers only followed channels (redis, by default) take interest here: the
   * server follows a channel while it has a subscriber of it, and releases it when the last one leaves.
   * `ready` resolves once messages appended to the channel reach `watch` listeners (or, should that
   * delivery break later, are reported by {@link Store.onResubscribe}); the server reads a channel's
   * head only after that, so no message falls between the read and the delivery. It rejects with
   * `StoreUnavailableError` when that cannot be confirmed in time. Follows are counted: the channel is
   * followed while one is unreleased. An engine may keep delivering a released channel for a while.
   */
  follow?(channel: string): ChannelFollow;

  /**
   * Engines whose delivery to `watch` can break and be restored (a reconnect, a failover) call `listener`
   * with the followed channels whose messages may have been missed meanwhile, once delivery is restored:
   * the listener reads them from history. Returns the unsubscribe function.
   */
  onResubscribe?(listener: (channels: readonly string[]) => void): () => void;

  /**
   * Engines with a rollback fence call `listener` each time they rotated a channel's epoch because the
   * store showed less of it than this store had seen committed in the same epoch (a failover to a
   * replica that was behind, a backup restored): its readers are then told their history is incomplete,
   * never handed other data under offsets they already had. Returns the unsubscribe function.
   */
  onRollback?(listener: (rollback: StoreRollback) => void): () => void;

  /**
   * Whether the engine can serve right now. Networked engines turn `false` while their service is
   * unreachable (the server then reports not ready and refuses publishes); undefined means always.
   */
  readonly available?: boolean;

  /** Be told when {@link Store.available} changes. Returns the unsubscribe function. */
  onAvailability?(listener: (available: boolean, reason?: string) => void): () => void;

  /**
   * Presence (who is a member of which channel), when the engine keeps it: see {@link PresenceStore}.
   * Without it, a server refuses presence (its clients are told so) and everything else works as before.
   */
  readonly presence?: PresenceStore;

  /** Count the records held (see {@link StoreStats}); optional. */
  stats?(): Promise<StoreStats>;

  /**
   * Drop expired sessions, dedupe records and history past its limits. Engines also do this on their
   * own, a bounded batch at a time, so that no single sweep holds the process for long whatever the
   * number of channels or records.
   */
  sweep(): Promise<void>;
  /**
   * Release resources (flush, close files and connections). Idempotent; afterwards every other
   * method rejects with `StoreUnavailableError` (`code: 'LIFELINE_ERR_STORE_UNAVAILABLE'`).
   */
  close(): Promise<void>;
}

/** A hold on a channel's deliveries to this process ({@link Store.follow}). */
export interface ChannelFollow {
  /** Resolves once the channel's messages reach `watch` listeners; rejects with `StoreUnavailableError` when that cannot be confirmed in time. */
  readonly ready: Promise<void>;
  /** Let go of the channel (idempotent). */
  release(): void;
}

/** Options every engine accepts. Durations in ms. */
export interface StoreOptions {
  /** History bounds per channel. @default {maxCount: 10000, maxAgeMs: 24h} */
  history?: Partial<HistoryLimits>;
  /** How long idempotency keys and client message ids are remembered. @default 24h */
  dedupeTtlMs?: number;
  /** Most message claims kept per scope ({@link Store.claimMessage}); the lowest ids go first. @default 10000 */
  maxClaimsPerScope?: number;
  /** Most idempotency keys kept per scope ({@link AppendOptions.idempotencyScope}); the oldest go first. @default 10000 */
  maxKeysPerScope?: number;
  /** Clock, injectable for tests. @default Date.now */
  now?: () => number;
}
