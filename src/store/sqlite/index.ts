/**
 * The SQLite engine (better-sqlite3), `lifeline/store/sqlite`: lifeline's embedded default. History,
 * sessions and dedupe records live in one database file in WAL mode and survive a process restart; a
 * restarted process continues every channel's epoch and offsets. A separate entry point, so memory-only
 * users never load the native module.
 *
 * The folder, one concern a file: `schema.ts` (tables and migrations), `statements.ts` (the SQL),
 * `open.ts` (opening a file), `history.ts`, `sessions.ts`, `claims.ts` (the transactions), `sweep.ts`,
 * `availability.ts` (failures and the write probe), `fence.ts` (the rollback fence), `core.ts` (the engine behind the guard), `store.ts`
 * (the public class).
 * @packageDocumentation
 */
export { SQLITE_SCHEMA_VERSION } from './schema.js';
export { SqliteStore, createSqliteStore, type SqliteStoreOptions } from './store.js';
export { fencePathOf, type StoreRollback } from './fence.js';
