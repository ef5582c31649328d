/**
 * The store contract: channel history with epochs and offsets, sessions, and dedupe records.
 * One interface, several engines (memory, sqlite, redis). Every method is async so a networked
 * engine fits the same shape. The memory engine is the reference: the conformance suite in
 * `test/conformance/` runs unchanged against every engine.
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
  /** True when `limit` cut the result short; read again from the last message's offset. */
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
  /** Channels subscribed. */
  readonly channels: readonly string[];
  /** When the session can no longer be resumed, ms since the epoch. */
  readonly expiresAt: number;
}

/** What became of a client message id the server has seen. */
export type MessageOutcome =
  | { readonly state: 'running' }
  | { readonly state: 'done' }
  | { readonly state: 'failed'; readonly incident: string };

/** Result of {@link Store.claimMessage}. */
export type ClaimResult = { readonly claimed: true } | { readonly claimed: false; readonly outcome: MessageOutcome };

/** The storage engine behind a lifeline server. */
export interface Store {
  /** Engine name, e.g. `memory`, `sqlite`, `redis`. */
  readonly kind: string;
  /** Whether history, sessions and dedupe records survive a process restart. */
  readonly durable: boolean;

  /**
   * Append a message to a channel and return its epoch and offset. Resolves only once the message
   * is as durable as the engine makes it. With an idempotency key already used (within the dedupe
   * TTL) nothing is stored and the first message is returned with `duplicate: true`.
   *
   * Idempotency keys are global across channels, live for `dedupeTtlMs` from the append that used
   * them, and outlive the message in history (a duplicate still gets the first message after it was
   * trimmed). Appending trims history beyond `maxCount` and older than `maxAgeMs`; trimming never
   * changes the epoch and never lets an offset be given out twice.
   * @throws TypeError for an empty channel, an empty key, or data JSON cannot represent
   */
  append(channel: string, data: JsonValue, options?: { idempotencyKey?: string }): Promise<AppendResult>;
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
   * Reading or asking the head of an unknown channel creates it (empty, with its epoch).
   * @param limit - most messages to return, an integer >= 0
   * @throws RangeError for a bad `limit` or `from.offset`
   */
  read(channel: string, from: ChannelPosition | undefined, limit: number): Promise<ReadResult>;
  /** The current epoch and newest offset of a channel (offset 0 when empty). */
  head(channel: string): Promise<ChannelPosition>;

  /** Create or replace a session. */
  saveSession(session: SessionRecord): Promise<void>;
  /** Load a session; undefined when unknown or expired (expired from `expiresAt` on, by the store's clock). */
  loadSession(id: string): Promise<SessionRecord | undefined>;
  /** Forget a session and its message claims ({@link Store.claimMessage}). Idempotency keys are global and stay. */
  deleteSession(id: string): Promise<void>;

  /**
   * Claim a client message id for processing. The first claim wins (`claimed: true`, state `running`);
   * later claims return the recorded outcome. This is what makes a handler run at most once per id.
   * Claims are per session. A record lives for `dedupeTtlMs` from the claim, or from the
   * {@link Store.finishMessage} that recorded its outcome; after that the id can be claimed again.
   */
  claimMessage(session: string, messageId: number): Promise<ClaimResult>;
  /** Record how a claimed message ended (also when the claim is unknown or expired: the outcome is recorded). */
  finishMessage(session: string, messageId: number, outcome: MessageOutcome): Promise<void>;

  /**
   * Engines shared by several processes (redis) call `listener` for every message appended to any channel,
   * by any process, so each process can deliver to its own subscribers. Engines private to one process
   * leave it undefined: the server then delivers what it appends itself. Returns the unsubscribe function.
   */
  watch?(listener: (message: StoredMessage) => void): () => void;

  /**
   * Whether the engine can serve right now. Networked engines turn `false` while their service is
   * unreachable (the server then reports not ready and refuses publishes); undefined means always.
   */
  readonly available?: boolean;

  /** Be told when {@link Store.available} changes. Returns the unsubscribe function. */
  onAvailability?(listener: (available: boolean, reason?: string) => void): () => void;

  /** Drop expired sessions, dedupe records and history past its limits. Engines also do this on their own. */
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
  /** Clock, injectable for tests. @default Date.now */
  now?: () => number;
}
