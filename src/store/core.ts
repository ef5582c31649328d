/**
 * What an engine implements: the {@link StoreCore}, the store's operations on arguments that were
 * already checked, at a time that was already read. The guard (`guarded.ts`) wraps a core into a
 * {@link Store}: the closed check, the argument checks, the clock and the automatic sweep are done
 * there, once, for every engine. Internal: not re-exported from `store/index.ts`.
 * @packageDocumentation
 */
import type {
  AppendOptions,
  AppendResult,
  ChannelPosition,
  ClaimOptions,
  ClaimResult,
  JsonValue,
  MessageOutcome,
  PresenceChange,
  PresenceHolder,
  PresenceJoinOptions,
  PresenceJoinResult,
  PresenceMember,
  PresencePage,
  PresenceSnapshot,
  ReadResult,
  SessionPatch,
  SessionRecord,
  StoreStats,
} from './types.js';

/** A value, or a promise of it: a synchronous engine answers at once, a networked one later. */
export type Awaitable<T> = T | Promise<T>;

/**
 * One engine's operations, behind the guard. Every argument has passed the contract's checks, `now` is
 * the store's clock read once for the call, and the store is open (the guard refuses calls after
 * `close`). Rejections are store errors (`StoreError`, `StoreUnavailableError`, ...) or the contract's
 * own (`IdempotencyConflictError`, `IdempotencyWindowError`). See {@link Store} for what each answers.
 * Not exported from any entry point: third-party engines implement {@link Store} itself.
 */
export interface StoreCore {
  /** How messages name this store, e.g. `the sqlite store (./data/lifeline.db)`. */
  readonly label: string;
  /** `Store.append`, with `json` the data as JSON text (already encoded: the data is representable). */
  append(channel: string, data: JsonValue, json: string, options: AppendOptions | undefined, now: number): Awaitable<AppendResult>;
  /** `Store.read` from a position (a read without one is a `head`); `maxBytes` is `Infinity` when unbounded. */
  read(channel: string, from: ChannelPosition, limit: number, maxBytes: number, now: number): Awaitable<ReadResult>;
  /** `Store.head`. */
  head(channel: string): Awaitable<ChannelPosition>;
  /** `Store.saveSession`. */
  saveSession(session: SessionRecord, now: number): Awaitable<void>;
  /** `Store.updateSession`. */
  updateSession(id: string, patch: SessionPatch, now: number): Awaitable<boolean>;
  /** `Store.loadSession`. */
  loadSession(id: string, now: number): Awaitable<SessionRecord | undefined>;
  /** `Store.deleteSession`. */
  deleteSession(id: string): Awaitable<void>;
  /** `Store.claimMessage`. */
  claimMessage(scope: string, messageId: number, options: ClaimOptions | undefined, now: number): Awaitable<ClaimResult>;
  /** `Store.finishMessage`. */
  finishMessage(scope: string, messageId: number, outcome: MessageOutcome, now: number): Awaitable<void>;
  /** `Store.presence`, behind the same guard; an engine without presence leaves it out. */
  readonly presence?: PresenceCore;
  /** `Store.stats`; an engine that counts nothing leaves it out. */
  stats?(): Awaitable<StoreStats>;
  /** `Store.sweep`: everything due at `now`, to the end. */
  sweep(now: number): Awaitable<void>;
  /**
   * The automatic sweep, which the guard starts at the start of a write when one is due. Do at most a
   * bounded step before returning (the write waits for it); return a promise for whatever continues in
   * the background, so the guard starts no other sweep until it settles. Never throws nor rejects: an
   * engine reports its own sweep failures (its availability, its events), and the next due sweep tries again.
   */
  autoSweep(now: number): Promise<void> | undefined;
  /** `Store.close`: called once. */
  close(): Awaitable<void>;
}

/**
 * An engine's presence records behind the guard ({@link PresenceStore} of `types.ts`, with the same
 * promise: checked arguments, `now` read once per call from the store's clock, an open store).
 */
export interface PresenceCore {
  /** `PresenceStore.join`. */
  join(channel: string, member: PresenceMember, holder: PresenceHolder, options: PresenceJoinOptions, now: number): Awaitable<PresenceJoinResult>;
  /** `PresenceStore.detach`. */
  detach(session: string, channels: readonly string[], holder: PresenceHolder, graceMs: number, now: number): Awaitable<number>;
  /** `PresenceStore.leave`. */
  leave(session: string, channels: readonly string[], holder: PresenceHolder | undefined, now: number): Awaitable<PresenceChange[]>;
  /** `PresenceStore.refreshNode`. */
  refreshNode(node: string, leaseMs: number, now: number): Awaitable<boolean>;
  /** `PresenceStore.expire`. */
  expire(limit: number, now: number): Awaitable<PresenceChange[]>;
  /** `PresenceStore.page`. */
  page(channel: string, after: string | undefined, limit: number, now: number): Awaitable<PresencePage>;
  /** `PresenceStore.count`. */
  count(channel: string, now: number): Awaitable<number>;
  /** `PresenceStore.watch`, for an engine shared by several processes. */
  watch?(listener: (change: PresenceChange) => void): () => void;
  /** `PresenceStore.snapshot`, for an engine whose `watch` can miss changes. */
  snapshot?(channel: string, now: number): Awaitable<PresenceSnapshot>;
  /** `PresenceStore.onMissed`, for an engine whose `watch` can miss changes. */
  onMissed?(listener: (channels?: readonly string[]) => void): () => void;
}
