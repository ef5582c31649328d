/**
 * Opening a SQLite database for the engine: the file and its directory, WAL mode, the sync setting,
 * the schema, the prepared statements, and the database's empty epoch.
 * @packageDocumentation
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type Database from 'better-sqlite3';
import { requireOptional } from '../../optional-dependency.js';
import { StoreError, StoreUnavailableError } from '../errors.js';
import type { ResolvedStoreOptions } from '../options.js';
import { randomEmptyEpoch } from '../rules.js';
import { sqliteStoreError } from './availability.js';
import { migrate } from './schema.js';
import { prepareStatements, type Statements } from './statements.js';

/** What every part of the engine works on: one open database, its statements, and the store's options. */
export interface SqliteContext {
  readonly db: Database.Database;
  readonly sql: Statements;
  /** The epoch of channels never written in this database. */
  readonly emptyEpoch: string;
  readonly options: ResolvedStoreOptions;
}

/** How to open the file (checked by the store's constructor). */
export interface OpenSettings {
  readonly synchronous: 'normal' | 'full';
  readonly busyTimeoutMs: number;
}

/**
 * Open (and if needed create) the database at `path`, in WAL mode with its schema current.
 * @throws {@link StoreUnavailableError} when the file cannot be opened; {@link StoreError} when it was
 *   written by a newer schema version or refuses WAL mode; `MissingDependencyError` without better-sqlite3
 */
export function openDatabase(path: string, settings: OpenSettings, options: ResolvedStoreOptions): SqliteContext {
  const inMemory = path === ':memory:';
  // Outside the try: a missing package is not an unavailable store, and its error names what to install.
  const Sqlite = requireOptional<typeof Database>('better-sqlite3', 'the sqlite store');
  let db: Database.Database;
  try {
    if (!inMemory) mkdirSync(dirname(resolve(path)), { recursive: true });
    db = new Sqlite(path, { timeout: settings.busyTimeoutMs });
  } catch (error) {
    throw new StoreUnavailableError(`sqlite store: cannot open ${path}: ${(error as Error).message}`, { cause: error });
  }
  try {
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (!inMemory && mode !== 'wal') throw new StoreError(`sqlite store: ${path} could not be switched to WAL mode (got ${String(mode)})`);
    db.pragma(`synchronous = ${settings.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    migrate(db);
    const sql = prepareStatements(db);
    // One empty epoch per database, made once: it lives exactly as long as the data it speaks for.
    sql.insertMeta.run('empty_epoch', randomEmptyEpoch());
    return { db, sql, emptyEpoch: sql.selectMeta.get('empty_epoch')!, options };
  } catch (error) {
    db.close();
    throw sqliteStoreError(error, `opening ${path}`);
  }
}
