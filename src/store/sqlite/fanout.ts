/**
 * Cross-process fan-out on one SQLite file: every process that watches reads the `fanout` feed (a row
 * per appended message, written by a trigger in the appending transaction, see `schema.ts`) and hands
 * each new message appended by another process (another store object) to its listeners.
 *
 * Why the database and not a relay between processes (a cluster primary's IPC): a message is in the
 * feed exactly when it is committed, whoever committed it (a worker, a successor process, a process of
 * an older version, a separate tool on the same file), so no crash between the commit and a relay can
 * leave a subscriber without it, and no topology (which process is whose child) is assumed. The cost is
 * a poll: one `PRAGMA data_version` per tick (it reads the WAL index in shared memory, no I/O) and a
 * query by primary key only when something was committed.
 *
 * Order: rows come in commit order, which is offset order within a channel (appends to a channel are
 * serialised by the write lock). Delivery stays exactly-once at the subscriber, which skips what it
 * already sent and reads history to fill any gap (`src/server/v1/subscription.ts`).
 * @packageDocumentation
 */
import type Database from 'better-sqlite3';
import { decodeData } from '../records.js';
import type { StoredMessage } from '../types.js';
import { FeedPoller } from './feed-poller.js';
import type { SqliteContext } from './open.js';
import type { FanoutRow } from './statements.js';

/** Most feed rows read per query; a longer backlog is read in further queries, yielding in between. */
const FEED_BATCH = 1000;

/** How far behind this process's clock another process's may be, for a reader that fell behind. */
const CLOCK_MARGIN_MS = 60_000;

/** Most own appends remembered for skipping (see `FanoutFeed.#own`). */
const OWN_APPENDS_KEPT = 10_000;

/** A listener of every append, by any process on the file. */
export type AppendListener = (message: StoredMessage) => void;

/**
 * The feed reader of one store: started by the first listener, stopped by the last one's removal or
 * the store's close. Reads run between the store's operations (better-sqlite3 is synchronous), never
 * inside one.
 */
export class FanoutFeed {
  readonly #ctx: SqliteContext;
  readonly #listeners = new Set<AppendListener>();
  readonly #poller: FeedPoller<FanoutRow>;
  /** The last feed row handed to the listeners. */
  #lastId = 0;
  /** `PRAGMA data_version` when last read: it changes when another connection commits. */
  #version = -1;
  /**
   * This store object's own appends not yet passed in the feed, as `channel NUL offset`: they are not
   * handed out again (the caller that appended delivers them; a repeat would cost every subscriber a
   * look for nothing). Bounded: past {@link OWN_APPENDS_KEPT} it is cleared, and the rest come as repeats.
   */
  readonly #own = new Set<string>();
  /** The newest time handed out: a reader that fell behind looks at channels written since. */
  #lastTime = 0;

  /**
   * @param ctx - the open database
   * @param intervalMs - how often to look for commits of other processes
   */
  constructor(ctx: SqliteContext, intervalMs: number) {
    this.#ctx = ctx;
    this.#poller = new FeedPoller({ intervalMs, batch: FEED_BATCH, listening: () => this.#listeners.size > 0, look: () => this.#look(), handOut: (rows) => this.#handOut(rows) });
    this.#lookTransaction = ctx.db.transaction((): FanoutRow[] => {
      const { sql } = ctx;
      // The first read starts the snapshot; data_version then tells whether another connection committed.
      const newest = sql.lastFanoutId.get()!;
      const version = sql.dataVersion.get()!;
      if (version === this.#version) {
        this.#lastId = newest;
        this.#own.clear();
        return [];
      }
      const rows = sql.fanoutAfter.all(this.#lastId, FEED_BATCH);
      // A full batch leaves more of this snapshot to read: the version counts as seen only once all of it is.
      if (rows.length < FEED_BATCH) this.#version = version;
      return rows;
    });
  }

  /** Number of listeners. */
  get size(): number {
    return this.#listeners.size;
  }

  /** Add a listener of every append from now on; returns the function that removes it. */
  add(listener: AppendListener): () => void {
    // A wrapper per call: the same function added twice is two listeners, each removed by its own call.
    const entry: AppendListener = (message) => listener(message);
    const first = this.#listeners.size === 0;
    this.#listeners.add(entry);
    if (first) this.#start();
    return () => {
      this.#listeners.delete(entry);
      if (this.#listeners.size === 0) this.#poller.stop();
    };
  }

  /** This store object appended a message: its row in the feed is skipped (see `#own`). */
  appended(channel: string, offset: number): void {
    if (this.#listeners.size === 0) return;
    if (this.#own.size >= OWN_APPENDS_KEPT) this.#own.clear();
    this.#own.add(`${channel}\u0000${offset}`);
  }

  /**
   * An append of this object failed at its commit, yet may be in the file (`StoreOutcomeUnknownError`):
   * the next look reads the feed whatever `data_version` says (it counts other connections' commits
   * only), so such a row reaches the listeners like another process's append, never skipped as our own.
   */
  lookAgain(): void {
    this.#version = -1;
  }

  /** Stop for good (the store closes). */
  close(): void {
    this.#listeners.clear();
    this.#poller.close();
  }

  #start(): void {
    if (this.#poller.closed) return;
    const { sql } = this.#ctx;
    // Only what is appended from now on: history is read by offset, not from the feed. One snapshot, so
    // the newest row and the version agree.
    this.#ctx.db
      .transaction(() => {
        this.#lastId = sql.lastFanoutId.get()!;
        this.#version = sql.dataVersion.get()!;
      })
      .deferred();
    this.#lastTime = this.#ctx.options.now();
    this.#own.clear();
    this.#poller.schedule();
  }

  /**
   * One look at the feed, in one read snapshot: the next rows to hand out (none when no other connection
   * committed since the last complete look: every newer row is then this object's own, and skipped).
   */
  #look(): FanoutRow[] {
    return this.#lookTransaction.deferred();
  }

  readonly #lookTransaction: Database.Transaction<() => FanoutRow[]>;

  /** Hand out feed rows (in id order), skipping this object's own appends. */
  #handOut(rows: readonly FanoutRow[]): void {
    if (rows[0]!.id > this.#lastId + 1) this.#fellBehind(rows[0]!.id);
    for (const row of rows) {
      this.#lastId = row.id;
      if (this.#own.size > 0 && this.#own.delete(`${row.channel}\u0000${row.seq}`)) continue;
      // Dropped from history already (a tiny maxCount): subscribers find the gap and read what is left.
      if (row.data === null || row.time === null) continue;
      this.#emit(row.channel, row.epoch, row.seq, row.time, row.data);
    }
  }

  /**
   * The rows between #lastId and `firstId` were trimmed before this process read them: hand out the
   * newest message of every channel written since, so each subscriber sees its gap and reads history.
   */
  #fellBehind(firstId: number): void {
    // A margin for the clocks of other processes: a newest message handed out twice is skipped by its subscribers.
    const since = this.#lastTime - CLOCK_MARGIN_MS;
    for (const row of this.#ctx.sql.newestSince.all(since)) this.#emit(row.channel, row.epoch, row.seq, row.time, row.data);
    this.#lastId = firstId - 1;
  }

  #emit(channel: string, epoch: string, offset: number, time: number, data: string): void {
    if (time > this.#lastTime) this.#lastTime = time;
    for (const listener of [...this.#listeners]) {
      // Decoded for each listener: listeners share no objects, like every store method's results.
      const message: StoredMessage = { channel, epoch, offset, data: decodeData(data), time };
      try {
        listener(message);
      } catch {
        // One listener's failure is its own: the others, and the feed, go on.
      }
    }
  }
}
