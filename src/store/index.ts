/**
 * lifeline's storage: the {@link Store} contract (channel history with epochs and offsets, resumable
 * sessions, dedupe records) and its engines.
 *
 * - {@link createMemoryStore}: the reference engine; in this process only (`durable: false`).
 * - {@link createSqliteStore}: the embedded default; one SQLite file in WAL mode that survives restarts.
 *
 * Every engine passes the same conformance suite (`test/conformance/store-suite.ts`).
 *
 * @example
 * ```ts
 * import { createSqliteStore } from 'lifeline/store';
 * const store = createSqliteStore({ path: './data/lifeline.db' });
 * const { message } = await store.append('news', { title: 'hello' }, { idempotencyKey: 'post-17' });
 * const { messages, complete } = await store.read('news', { epoch: message.epoch, offset: 0 }, 100);
 * ```
 * @packageDocumentation
 */
export type {
  AppendResult,
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
} from './types.js';
export { StoreError, StoreUnavailableError } from './errors.js';
export { MemoryStore, createMemoryStore } from './memory.js';
export { SQLITE_SCHEMA_VERSION, SqliteStore, createSqliteStore, type SqliteStoreOptions } from './sqlite.js';
