/**
 * Opening a SQLite database for the engine: the file and its directory, WAL mode, the sync setting,
 * the schema, the rollback fence (and the rotations it calls for), the prepared statements, and the
 * database's empty epoch.
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
import { attachFence, prepareFenceUpdate, rotateBehindFence, type StoreRollback } from './fence.js';
import { migrate } from './schema.js';
import { prepareStatements, type Statements } from './statements.js';

/** What every part of the engine works on: one open database, its statements, and the store's options. */
export interface SqliteContext {
  readonly db: Database.Database;
  readonly sql: Statements;
  /** The epoch of channels never written in this database. */
  readonly emptyEpoch: string;
  readonly options: ResolvedStoreOptions;
  /**
   * The append's write to the rollback fence (`fence.ts`): the channel, its epoch, the new offset.
   * Undefined when the fence is off.
   */
  readonly fenceUpdate: Database.Statement<[string, string, number]> | undefined;
  /** The channels the fence found behind what clients may have seen when this database was opened, rotated. */
  readonly rollbacksAtOpen: readonly StoreRollback[];
}

/** How to open the file (checked by the store's constructor). */
export interface OpenSettings {
  readonly synchronous: 'normal' | 'full';
  readonly busyTimeoutMs: number;
  /** The rollback fence's file (`fence.ts`), or undefined for none. */
  readonly fencePath: string | undefined;
  /** The fence file's `synchronous` setting (see `SqliteStoreOptions.fence`). */
  readonly fenceSynchronous: 'normal' | 'full';
}

/**
 * Open (and if needed create) the database at `path`, in WAL mode with its schema current.
 * @throws {@link StoreUnavailableError} when the file cannot be opened; {@link StoreError} when it was
 *   written by a newer schema version or refuses WAL mode; `MissingDependencyError` without better-sqlite3
 */
export function openDatabase(path: string, settings: OpenSettings, options: ResolvedStoreOptions): SqliteContext {
  // SQLite answers SQLITE_BUSY at once, without waiting out the busy timeout, in a few states another
  // process can cause while this one opens the same file (seen: a second `serve` started beside a running
  // `--workers 2`, failing in a fraction of a second). Every step of an open is safe to repeat (each change
  // is made under the write lock after reading again), so a busy open is tried again until the busy
  // timeout has passed; the last failure names the step it happened at.
  const deadline = Date.now() + settings.busyTimeoutMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return openOnce(path, settings, options);
    } catch (error) {
      const busy = error instanceof StoreUnavailableError && /^SQLITE_BUSY/.test(String((error.cause as { code?: unknown } | undefined)?.code));
      if (!busy || Date.now() >= deadline) throw error;
      sleepSync(Math.min(deadline - Date.now(), 10 * attempt + Math.random() * 20));
    }
  }
}

/** Block this thread for `ms` (an open is synchronous, like better-sqlite3; only a busy open waits). */
function sleepSync(ms: number): void {
  if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function openOnce(path: string, settings: OpenSettings, options: ResolvedStoreOptions): SqliteContext {
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
  let step = 'switching to WAL mode';
  try {
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (!inMemory && mode !== 'wal') throw new StoreError(`sqlite store: ${path} could not be switched to WAL mode (got ${String(mode)})`);
    db.pragma(`synchronous = ${settings.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    step = 'migrating the schema';
    migrate(db);
    // Attached before anything is served: the comparison below decides which epochs appends continue.
    if (settings.fencePath !== undefined) {
      step = 'attaching the fence';
      mkdirSync(dirname(resolve(settings.fencePath)), { recursive: true });
      attachFence(db, settings.fencePath, settings.fenceSynchronous);
    }
    step = 'preparing statements';
    const sql = prepareStatements(db);
    // One empty epoch per database, made once: it lives exactly as long as the data it speaks for.
    step = 'recording the empty epoch';
    sql.insertMeta.run('empty_epoch', randomEmptyEpoch());
    const emptyEpoch = sql.selectMeta.get('empty_epoch')!;
    const fenced = settings.fencePath !== undefined;
    step = 'comparing with the fence';
    const rollbacksAtOpen = fenced ? rotateBehindFence(db, emptyEpoch) : [];
    return { db, sql, emptyEpoch, options, fenceUpdate: fenced ? prepareFenceUpdate(db) : undefined, rollbacksAtOpen };
  } catch (error) {
    db.close();
    throw sqliteStoreError(error, `opening ${path} (${step})`);
  }
}
