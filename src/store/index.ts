/**
 * lifeline's storage: the {@link Store} contract (channel history with epochs and offsets, resumable
 * sessions, dedupe records) and its engines.
 *
 * - {@link createMemoryStore}: the reference engine; in this process only (`durable: false`).
 * - `createSqliteStore` from `lifeline/store/sqlite`: the embedded default; one SQLite file in WAL mode that
 *   survives restarts (a separate entry point, so memory-only users never load the native module).
 * - `createRedisStore` from `lifeline/store/redis`: Redis (Streams, pub/sub fan-out, keys with expiry) for
 *   several processes and nodes sharing history (a separate entry point, so only its users load ioredis).
 *
 * Every engine passes the same conformance suite, shipped as `lifeline/testing` so an engine written
 * elsewhere can run it too (see `docs/store-engines.md`).
 *
 * @example
 * ```ts
 * import { createSqliteStore } from 'lifeline/store/sqlite';
 * const store = createSqliteStore({ path: './data/lifeline.db' });
 * const { message } = await store.append('news', { title: 'hello' }, { idempotencyKey: 'post-17' });
 * const { messages, complete } = await store.read('news', { epoch: message.epoch, offset: 0 }, 100);
 * ```
 * @packageDocumentation
 */
export type {
  AppendResult,
  ChannelFollow,
  ChannelPosition,
  ClaimResult,
  HistoryLimits,
  JsonValue,
  MessageOutcome,
  ReadResult,
  SessionRecord,
  Store,
  StoredMessage,
  StoreOptions,
  StoreRollback,
  StoreStats,
  AppendOptions,
  ClaimOptions,
  ReadOptions,
  SessionPatch,
  SessionPresence,
  PresenceChange,
  PresenceHolder,
  PresenceJoinOptions,
  PresenceJoinResult,
  PresenceMember,
  PresencePage,
  PresenceSnapshot,
  PresenceStore,
  PresenceVersion,
} from './types.js';
export { IdempotencyConflictError, IdempotencyWindowError, StoreError, StoreOutcomeUnknownError, StoreUnavailableError } from './errors.js';
export type { StoreErrorCode } from './errors.js';
export { LifelineError } from '../errors.js';
export type { LifelineErrorCode } from '../errors.js';
export { MemoryStore, createMemoryStore } from './memory.js';
