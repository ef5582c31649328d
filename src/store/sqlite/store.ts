/**
 * The SQLite store as users see it: its options, its class, and its factory.
 * @packageDocumentation
 */
import { resolve as resolvePath } from 'node:path';
import type { AvailabilityListener } from '../availability.js';
import { checkListener } from '../checks.js';
import { GuardedStore } from '../guarded.js';
import { resolveStoreOptions } from '../options.js';
import type { StoredMessage, StoreOptions } from '../types.js';
import { SqliteCore } from './core.js';
import { fencePathOf, type StoreRollback } from './fence.js';

/** Options of {@link createSqliteStore}. */
export interface SqliteStoreOptions extends StoreOptions {
  /**
   * The database file. Its parent directory is created when missing. `':memory:'` gives a private
   * in-memory database (not durable; for tests).
   */
  path: string;
  /**
   * SQLite's `synchronous` setting, in WAL mode.
   * - `'normal'`: a commit is in the WAL file (the OS's page cache) before `append` resolves. Survives
   *   a crash of the process, including SIGKILL: this is what lifeline's no-loss promise covers.
   *   A power loss or kernel crash may lose the last commits (never corrupt the file).
   * - `'full'`: the WAL is also fsynced on every commit, so acknowledged writes survive a power loss
   *   too, at the cost of an fsync per write.
   * @default 'normal'
   */
  synchronous?: 'normal' | 'full';
  /** How long to wait for a lock held by another connection (another process on the same file), in ms. @default 5000 */
  busyTimeoutMs?: number;
  /**
   * After a write failed because the engine cannot serve (disk full, I/O error), how often to try a
   * small write to learn whether it can again, in ms. @default 1000
   */
  probeIntervalMs?: number;
  /**
   * While someone watches ({@link SqliteStore.watch}), how often to look for appends committed by other
   * processes on the file, in ms: the most a message appended in one process waits before the others
   * see it. Each look is one `PRAGMA data_version` (shared memory, no I/O) unless something was committed.
   * @default 5
   */
  watchIntervalMs?: number;
  /**
   * The rollback fence: a second database file beside `path` (`lifeline.db` → `lifeline.fence.db`) that
   * remembers each channel's epoch and highest offset, written in every append's transaction. **Never
   * restore it with a backup**: when the main file comes back older than what clients saw (a restored
   * backup; commits lost to a power loss, see {@link SqliteStoreOptions.fenceSynchronous}), opening
   * finds the channels behind the fence and gives each a fresh epoch, so resuming clients are told
   * `recovered: false` and no offset is given out twice with other data in one epoch
   * ({@link SqliteStore.rollbacksAtOpen}, {@link SqliteStore.onRollback}). `false` turns it off (no
   * fence file and no cost, for a deployment that never restores a backup; a data directory copied whole,
   * fence included, needs no such thing: its fence matches); a string is the fence file's path.
   * @default true, except for a `':memory:'` database, which cannot have one
   */
  fence?: boolean | string;
  /**
   * The fence file's `synchronous` setting. `'full'` fsyncs the fence on every append, so even commits of
   * the main file lost to a power loss (with `synchronous: 'normal'`) are detected; `'normal'` detects
   * restored backups and costs no fsync. With `synchronous: 'full'` nothing acknowledged is lost to a power
   * loss in the first place: a fence that lost its own last writes is only behind the file, which it
   * catches up at the next open, so `'normal'` is enough there too.
   * @default 'normal'
   */
  fenceSynchronous?: 'normal' | 'full';
}

/**
 * A store in a SQLite database file, through better-sqlite3. `durable: true`: history (with each
 * channel's epoch and offsets), sessions and dedupe records survive a process restart.
 *
 * - WAL journal mode; `synchronous` NORMAL by default (durable against a process crash, SIGKILL
 *   included) or FULL (also against power loss), see {@link SqliteStoreOptions.synchronous}.
 * - An append, its idempotency record and the trimming it causes are one transaction: a crash can
 *   never leave a message without its idempotency record, or a record without its message.
 * - Several processes may share a file: writes take the write lock up front (`BEGIN IMMEDIATE`) and
 *   wait up to `busyTimeoutMs` for another's; nothing read from the file is cached in the process (heads,
 *   epochs, sessions, claims are read in the operation that needs them); opening and migrating happen
 *   under the write lock; the automatic sweep runs once per interval between all of them; and
 *   {@link SqliteStore.watch} hands every process the appends of every other (the fan-out feed).
 * - Statements are prepared once. better-sqlite3 is synchronous: each method does its work before
 *   its promise resolves, and calls never interleave within a process.
 * - Reads create nothing; records clients cause are bounded per scope; sweeps go a batch at a time.
 * - `available` turns false when a write fails because the engine cannot serve (a full disk, an I/O
 *   error), and true again once a small probe write succeeds.
 */
export class SqliteStore extends GuardedStore {
  /** Always `sqlite`. */
  readonly kind = 'sqlite';
  /** `true`, except for a `':memory:'` database. */
  readonly durable: boolean;
  /** The database file, as given. */
  readonly path: string;
  /** The rollback fence's file ({@link SqliteStoreOptions.fence}); undefined when the fence is off. */
  readonly fencePath: string | undefined;
  /**
   * The channels the rollback fence found behind what clients may have seen when this store opened
   * (a restored backup, commits lost to a power loss), each given a fresh epoch before anything was
   * served. Empty when nothing was behind, when the fence is off, or when another process on the file
   * opened first and rotated them (it reports them). The same rotations reach {@link SqliteStore.onRollback}.
   */
  readonly rollbacksAtOpen: readonly StoreRollback[];

  readonly #core: SqliteCore;

  /**
   * Open (and if needed create) the database. Synchronous, like better-sqlite3.
   * @throws TypeError or RangeError for an invalid option; `StoreUnavailableError` when the file
   *   cannot be opened; `StoreError` when it was written by a newer schema version
   */
  constructor(options: SqliteStoreOptions) {
    if (typeof options !== 'object' || options === null) throw new TypeError('sqlite store options must be an object');
    const resolved = resolveStoreOptions(options);
    const { path, synchronous = 'normal', busyTimeoutMs = 5000, probeIntervalMs = 1000, watchIntervalMs = 5 } = options;
    if (typeof path !== 'string' || path.length === 0) throw new TypeError('path must be a non-empty string');
    if (synchronous !== 'normal' && synchronous !== 'full') throw new RangeError("synchronous must be 'normal' or 'full'");
    const { fence = path !== ':memory:', fenceSynchronous = 'normal' } = options;
    if (typeof fence !== 'boolean' && (typeof fence !== 'string' || fence.length === 0)) throw new TypeError('fence must be a boolean or a non-empty path');
    if (fence !== false && path === ':memory:') throw new RangeError("fence: a ':memory:' database has nothing to restore and no fence");
    if (fenceSynchronous !== 'normal' && fenceSynchronous !== 'full') throw new RangeError("fenceSynchronous must be 'normal' or 'full'");
    const fencePath = fence === false ? undefined : fence === true ? fencePathOf(path) : fence;
    if (fencePath !== undefined && resolvePath(fencePath) === resolvePath(path)) throw new RangeError('fence: the fence must be another file than the database');
    if (!Number.isSafeInteger(busyTimeoutMs) || busyTimeoutMs < 0) throw new RangeError('busyTimeoutMs must be an integer >= 0');
    if (!(typeof probeIntervalMs === 'number' && probeIntervalMs > 0 && Number.isFinite(probeIntervalMs))) throw new RangeError('probeIntervalMs must be a number of ms > 0');
    if (!(typeof watchIntervalMs === 'number' && watchIntervalMs > 0 && Number.isFinite(watchIntervalMs))) throw new RangeError('watchIntervalMs must be a number of ms > 0');
    const core = new SqliteCore(path, { synchronous, busyTimeoutMs, probeIntervalMs, watchIntervalMs, fencePath, fenceSynchronous }, resolved);
    super(core, resolved);
    this.#core = core;
    this.path = path;
    this.fencePath = fencePath;
    this.rollbacksAtOpen = core.rollbacksAtOpen;
    this.durable = path !== ':memory:';
    // A private in-memory database has no other process to hear from: like every private engine, no watch
    // (the server then delivers what it appends itself, and announces no takeovers).
    if (!this.durable) this.watch = undefined;
  }

  /**
   * Call `listener` for every message appended to any channel from now on by another process on this
   * file (or another store object on it), in commit order; see `fanout.ts`. They arrive within
   * `watchIntervalMs`. The appends made through this object are not repeated: whoever appended has them.
   * Undefined for a `':memory:'` database. Returns the function that removes it.
   * @throws `StoreUnavailableError` when the store is closed
   */
  watch?: (listener: (message: StoredMessage) => void) => () => void = (listener) => {
    this.assertOpen();
    checkListener(listener);
    return this.#core.watch(listener);
  };

  /** Whether writes succeed: false after a write failed for a reason of the engine's (a full disk), until a probe write succeeds. */
  get available(): boolean {
    return this.#core.availability.up && !this.closed;
  }

  /** Be told when {@link SqliteStore.available} changes. Returns the unsubscribe function. */
  onAvailability(listener: AvailabilityListener): () => void {
    return this.#core.availability.subscribe(listener);
  }

  /**
   * Be told of every channel whose epoch the rollback fence rotated ({@link SqliteStoreOptions.fence}).
   * This engine rotates only when it opens, before anyone could listen: each listener is handed those
   * rotations ({@link SqliteStore.rollbacksAtOpen}) right after it is added (in a microtask, as any later
   * event would come), so a server that wires its log and metrics here, as it does for every engine,
   * reports them. A listener that throws does not keep the others from hearing. Returns the unsubscribe
   * function; once called, nothing more reaches the listener.
   */
  onRollback(listener: (rollback: StoreRollback) => void): () => void {
    checkListener(listener);
    let subscribed = true;
    const found = this.rollbacksAtOpen;
    if (found.length > 0) {
      queueMicrotask(() => {
        for (const rollback of found) {
          if (!subscribed) return;
          try {
            listener(rollback);
          } catch {
            // As with availability listeners: one failing listener must not silence the rest.
          }
        }
      });
    }
    return () => {
      subscribed = false;
    };
  }
}

/**
 * Open a SQLite store (see {@link SqliteStore}), creating the file, its directory and the schema when
 * missing.
 * @param options - `path` and engine settings, plus history bounds, dedupe TTL and clock
 * @throws TypeError or RangeError for an invalid option; `StoreUnavailableError` when the file
 *   cannot be opened; `StoreError` when it was written by a newer schema version
 * @example
 * ```ts
 * const store = createSqliteStore({ path: './data/lifeline.db' });
 * await store.append('news', { title: 'hello' });
 * await store.close();
 * ```
 */
export function createSqliteStore(options: SqliteStoreOptions): SqliteStore {
  return new SqliteStore(options);
}
