/**
 * Presence changes across the processes on one SQLite file: every process that watches reads the
 * `presence_feed` table (a row per change, written by triggers in the changing transaction, see
 * `schema.ts`) and hands each change to its listeners, its own changes included, all in commit order.
 *
 * Like the fan-out feed (`fanout.ts`): a `PRAGMA data_version` look every `watchIntervalMs` tells whether
 * another connection committed; rows are read by primary key only then, or right after this store object
 * changed presence itself (its own commits do not move `data_version`). A reader that fell behind the
 * trimming (its event loop stalled while more changes than the feed keeps were made) cannot know which
 * channels it missed: it says so to `onMissed` listeners, which read every channel they watch again.
 * @packageDocumentation
 */
import type Database from 'better-sqlite3';
import { memberOf } from '../presence-rules.js';
import type { PresenceChange } from '../types.js';
import { FeedPoller } from './feed-poller.js';
import type { SqliteContext } from './open.js';

/** A row of `presence_feed`. */
interface PresenceFeedRow {
  id: number;
  kind: 'join' | 'leave';
  channel: string;
  session: string;
  user: string | null;
  info: string | null;
  epoch: string;
  seq: number;
}

/** Most rows read per query; a longer backlog is read in further queries. */
const FEED_BATCH = 1000;

/** The presence feed reader of one store: started by the first listener, stopped by the last one's removal or the store's close. */
export class PresenceFeed {
  readonly #ctx: SqliteContext;
  readonly #poller: FeedPoller<PresenceFeedRow>;
  readonly #listeners = new Set<(change: PresenceChange) => void>();
  readonly #missedListeners = new Set<(channels?: readonly string[]) => void>();
  readonly #look: Database.Transaction<() => PresenceFeedRow[]>;
  readonly #last: Database.Statement<[], number>;
  readonly #version: Database.Statement<[], number>;
  #soon = false;
  #lastId = 0;
  #dataVersion = -1;
  /** This store object changed presence since the last look: read even if `data_version` did not move. */
  #own = false;

  constructor(ctx: SqliteContext, intervalMs: number) {
    this.#ctx = ctx;
    this.#poller = new FeedPoller({ intervalMs, batch: FEED_BATCH, listening: () => this.#listeners.size > 0, look: () => this.#look.deferred(), handOut: (rows) => this.#handOut(rows) });
    const { db } = ctx;
    this.#last = db.prepare<[], number>('SELECT COALESCE(MAX(id), 0) FROM presence_feed').pluck();
    this.#version = ctx.sql.dataVersion;
    const after = db.prepare<[number, number], PresenceFeedRow>('SELECT id, kind, channel, session, user, info, epoch, seq FROM presence_feed WHERE id > ? ORDER BY id LIMIT ?');
    this.#look = db.transaction((): PresenceFeedRow[] => {
      // The first read starts the snapshot; data_version then tells whether another connection committed.
      const newest = this.#last.get()!;
      const version = this.#version.get()!;
      if (version === this.#dataVersion && !this.#own) {
        this.#lastId = newest;
        return [];
      }
      const rows = after.all(this.#lastId, FEED_BATCH);
      if (rows.length < FEED_BATCH) {
        this.#dataVersion = version;
        this.#own = false;
      }
      return rows;
    });
  }

  /** Add a listener of every change from now on; returns the function that removes it. */
  add(listener: (change: PresenceChange) => void): () => void {
    const entry = (change: PresenceChange): void => listener(change);
    const first = this.#listeners.size === 0;
    this.#listeners.add(entry);
    if (first) this.#start();
    return () => {
      this.#listeners.delete(entry);
      if (this.#listeners.size === 0) this.#poller.stop();
    };
  }

  /** Add a listener told when changes were missed (all channels); returns the function that removes it. */
  onMissed(listener: (channels?: readonly string[]) => void): () => void {
    const entry = (channels?: readonly string[]): void => listener(channels);
    this.#missedListeners.add(entry);
    return () => {
      this.#missedListeners.delete(entry);
    };
  }

  /** This store object committed a presence change: read the feed soon, whatever `data_version` says. */
  wrote(): void {
    if (this.#listeners.size === 0) return;
    this.#own = true;
    if (this.#soon) return;
    // Told at once rather than at the next tick: a watcher on this process hears its neighbours promptly.
    this.#soon = true;
    setImmediate(() => {
      this.#soon = false;
      if (this.#poller.scheduled && !this.#poller.closed) this.#poller.tick();
    });
  }

  /** Stop for good (the store closes). */
  close(): void {
    this.#listeners.clear();
    this.#missedListeners.clear();
    this.#poller.close();
  }

  #start(): void {
    if (this.#poller.closed) return;
    this.#ctx.db
      .transaction(() => {
        this.#lastId = this.#last.get()!;
        this.#dataVersion = this.#version.get()!;
      })
      .deferred();
    this.#own = false;
    this.#poller.schedule();
  }

  #handOut(rows: readonly PresenceFeedRow[]): void {
    if (rows[0]!.id > this.#lastId + 1) {
      // Rows trimmed before this process read them: which channels changed is unknown.
      for (const listener of [...this.#missedListeners]) {
        try {
          listener(undefined);
        } catch {
          // One listener's failure is its own.
        }
      }
    }
    for (const row of rows) {
      this.#lastId = row.id;
      for (const listener of [...this.#listeners]) {
        // A fresh object for each listener: listeners share nothing.
        const change: PresenceChange = { kind: row.kind, channel: row.channel, member: memberOf(row.session, row.user, row.info), version: { epoch: row.epoch, seq: row.seq } };
        try {
          listener(change);
        } catch {
          // One listener's failure is its own: the others, and the feed, go on.
        }
      }
    }
  }
}
