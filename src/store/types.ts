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
  /** When the session can no longer be resumed, ms since the epoch. */
  readonly expiresAt: number;
}

/**
 * A change to a stored session ({@link Store.updateSession}): a write proportional to what changed,
 * not a rewrite of the whole record.
 */
export interface SessionPatch {
  /** A new expiry, ms since the epoch. */
  readonly expiresAt?: number;
  /** Channels added (appended to `channels` when new), with the position to restore them from, if known. */
  readonly subscribe?: readonly { readonly channel: string; readonly position?: ChannelPosition }[];
  /** Channels removed, with their positions. */
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
   * publishes so share one id space per scope.
   */
  readonly claim?: { readonly scope: string; readonly id: number; readonly fingerprint: string };
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
   * Engines shared by several processes (redis, a sqlite file) call `listener` for every message appended
   * to any channel by another process, so each process can deliver to its own subscribers. Whether the
   * appends made through this very store object come back too is the engine's choice (redis: yes; sqlite:
   * no, its caller already has them): the server delivers what it appends itself, and a listener must
   * take a message it already has in its stride. Engines private to one process leave it undefined.
   * Returns the unsubscribe function.
   */
  watch?(listener: (message: StoredMessage) => void): () => void;

  /**
   * Whether the engine can serve right now. Networked engines turn `false` while their service is
   * unreachable (the server then reports not ready and refuses publishes); undefined means always.
   */
  readonly available?: boolean;

  /** Be told when {@link Store.available} changes. Returns the unsubscribe function. */
  onAvailability?(listener: (available: boolean, reason?: string) => void): () => void;

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
