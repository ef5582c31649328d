/**
 * Cross-process fan-out on one SQLite file: every process that watches reads the `fanout` feed (a row
 * per appended message, written by a trigger in the appending transaction, see `schema.ts`) and hands
 * each new message to its listeners.
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
import { decodeData } from '../records.js';
import type { StoredMessage } from '../types.js';
import type { SqliteContext } from './open.js';

/** Most feed rows read per query; a longer backlog is read in further queries, yielding in between. */
const FEED_BATCH = 1000;

/** How far behind this process's clock another process's may be, for a reader that fell behind. */
const CLOCK_MARGIN_MS = 60_000;

/** A listener of every append, by any process on the file. */
export type AppendListener = (message: StoredMessage) => void;

/**
 * The feed reader of one store: started by the first listener, stopped by the last one's removal or
 * the store's close. Reads run between the store's operations (better-sqlite3 is synchronous), never
 * inside one.
 */
export class FanoutFeed {
  readonly #ctx: SqliteContext;
  readonly #intervalMs: number;
  readonly #listeners = new Set<AppendListener>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** The last feed row handed to the listeners. */
  #lastId = 0;
  /** `PRAGMA data_version` when last read: it changes when another connection commits. */
  #version = -1;
  /** This connection appended since the last read (its own commits do not change `data_version`). */
  #appended = false;
  /** The newest time handed out: a reader that fell behind looks at channels written since. */
  #lastTime = 0;
  #closed = false;

  /**
   * @param ctx - the open database
   * @param intervalMs - how often to look for commits of other processes
   */
  constructor(ctx: SqliteContext, intervalMs: number) {
    this.#ctx = ctx;
    this.#intervalMs = intervalMs;
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
      if (this.#listeners.size === 0) this.#stop();
    };
  }

  /** This process appended: read the feed at the next tick even if no other process committed. */
  appended(): void {
    this.#appended = true;
  }

  /** Stop for good (the store closes). */
  close(): void {
    this.#closed = true;
    this.#listeners.clear();
    this.#stop();
  }

  #start(): void {
    if (this.#closed) return;
    const { sql } = this.#ctx;
    // Only what is appended from now on: history is read by offset, not from the feed.
    this.#lastId = sql.lastFanoutId.get()!;
    this.#version = sql.dataVersion.get()!;
    this.#lastTime = this.#ctx.options.now();
    this.#appended = false;
    this.#schedule();
  }

  #stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    if (this.#closed || this.#listeners.size === 0) return;
    this.#timer = setTimeout(() => this.#tick(), this.#intervalMs);
    // A watcher never keeps the process alive by itself.
    this.#timer.unref();
  }

  #tick(): void {
    this.#timer = undefined;
    try {
      const version = this.#ctx.sql.dataVersion.get()!;
      if (version !== this.#version || this.#appended) {
        this.#version = version;
        this.#appended = false;
        this.#read();
      }
    } catch {
      // A lock that did not clear, the disk: nothing was handed out past #lastId, so the next tick
      // reads from the same place. The store's own operations report the engine's state.
    }
    this.#schedule();
  }

  /** Hand out every feed row after #lastId, a batch at a time. */
  #read(): void {
    const { sql } = this.#ctx;
    for (;;) {
      const rows = sql.fanoutAfter.all(this.#lastId, FEED_BATCH);
      if (rows.length === 0) return;
      if (rows[0]!.id > this.#lastId + 1) this.#fellBehind(rows[0]!.id);
      for (const row of rows) {
        this.#lastId = row.id;
        // Dropped from history already (a tiny maxCount): subscribers find the gap and read what is left.
        if (row.data === null || row.time === null) continue;
        this.#emit(row.channel, row.epoch, row.seq, row.time, row.data);
      }
      if (rows.length < FEED_BATCH || this.#closed || this.#listeners.size === 0) return;
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
