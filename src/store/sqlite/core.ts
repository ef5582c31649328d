/**
 * The SQLite engine's core: one database, the transactions of each operation, engine failures turned
 * into store errors, and availability that follows the writes.
 * @packageDocumentation
 */
import type { Availability } from '../availability.js';
import type { StoreCore } from '../core.js';
import { StoreOutcomeUnknownError, StoreUnavailableError } from '../errors.js';
import type { ResolvedStoreOptions } from '../options.js';
import type { AppendOptions, AppendResult, ChannelPosition, ClaimOptions, ClaimResult, JsonValue, MessageOutcome, ReadResult, SessionPatch, SessionRecord, StoreStats } from '../types.js';
import { sqliteStoreError, WriteProbe } from './availability.js';
import { claimTransaction, finishTransaction } from './claims.js';
import { FanoutFeed, type AppendListener } from './fanout.js';
import { fencedProbe, type StoreRollback } from './fence.js';
import { appendTransaction, headOf, readTransaction } from './history.js';
import { openDatabase, type OpenSettings, type SqliteContext } from './open.js';
import { SqlitePresence } from './presence.js';
import { PresenceFeed } from './presence-feed.js';
import { deleteSessionTransaction, loadSession, saveSessionTransaction, updateSessionTransaction } from './sessions.js';
import { claimSweepTransaction, sweepStepTransaction } from './sweep.js';

/** {@link OpenSettings}, how often to probe a database that cannot serve, and to read the fan-out feed. */
export interface SqliteSettings extends OpenSettings {
  readonly probeIntervalMs: number;
  readonly watchIntervalMs: number;
}

/** Wait `ms` without holding the process open. */
function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/**
 * The SQLite engine behind the guard. better-sqlite3 is synchronous: each operation does its work before
 * it returns, so calls never interleave within a process.
 */
export class SqliteCore implements StoreCore {
  readonly label: string;
  readonly #ctx: SqliteContext;
  readonly #probe: WriteProbe;
  readonly #append: ReturnType<typeof appendTransaction>;
  readonly #read: ReturnType<typeof readTransaction>;
  readonly #claim: ReturnType<typeof claimTransaction>;
  readonly #finish: ReturnType<typeof finishTransaction>;
  readonly #saveSession: ReturnType<typeof saveSessionTransaction>;
  readonly #updateSession: ReturnType<typeof updateSessionTransaction>;
  readonly #deleteSession: ReturnType<typeof deleteSessionTransaction>;
  readonly #sweepStep: ReturnType<typeof sweepStepTransaction>;
  /** Presence records (`presence.ts`). */
  readonly presence: SqlitePresence;
  readonly #claimSweep: ReturnType<typeof claimSweepTransaction>;
  readonly #feed: FanoutFeed;
  /** The presence feed (`presence-feed.ts`); undefined for a private `':memory:'` database. */
  readonly #presenceFeed: PresenceFeed | undefined;
  #closed = false;
  /** The channels the rollback fence rotated at open (`fence.ts`). */
  readonly rollbacksAtOpen: readonly StoreRollback[];

  /**
   * Open the database (synchronously, like better-sqlite3).
   * @throws see {@link openDatabase}
   */
  constructor(path: string, settings: SqliteSettings, options: ResolvedStoreOptions) {
    this.label = `the sqlite store (${path})`;
    const ctx = openDatabase(path, settings, options);
    this.#ctx = ctx;
    this.rollbacksAtOpen = ctx.rollbacksAtOpen;
    // With the fence attached the probe writes both files, as an append does: a full disk under the fence
    // alone keeps the store down until it has room again.
    const writeMain = (now: number): void => void ctx.sql.upsertMeta.run('probe', String(now));
    const probe = ctx.fenceUpdate === undefined ? () => writeMain(Date.now()) : fencedProbe(ctx.db, writeMain);
    this.#probe = new WriteProbe(probe, settings.probeIntervalMs, path);
    this.#append = appendTransaction(ctx);
    this.#read = readTransaction(ctx);
    this.#claim = claimTransaction(ctx);
    this.#finish = finishTransaction(ctx);
    this.#saveSession = saveSessionTransaction(ctx);
    this.#updateSession = updateSessionTransaction(ctx);
    this.#deleteSession = deleteSessionTransaction(ctx);
    this.#sweepStep = sweepStepTransaction(ctx);
    this.#presenceFeed = path === ':memory:' ? undefined : new PresenceFeed(ctx, settings.watchIntervalMs);
    this.presence = new SqlitePresence(ctx, (what, work, write) => (write ? this.#write(what, work) : this.#run(what, work)), this.#presenceFeed);
    this.#claimSweep = claimSweepTransaction(ctx);
    this.#feed = new FanoutFeed(ctx, settings.watchIntervalMs);
  }

  /** Whether writes succeed: false after one failed for a reason of the engine's, until a probe write succeeds. */
  get availability(): Availability {
    return this.#probe.availability;
  }

  append(channel: string, data: JsonValue, json: string, options: AppendOptions | undefined, now: number): AppendResult {
    let result: AppendResult;
    try {
      result = this.#write('append', () => this.#append(channel, data, json, options, now));
    } catch (error) {
      if (error instanceof StoreOutcomeUnknownError) this.#feed.lookAgain();
      throw error;
    }
    if (!result.duplicate) this.#feed.appended(channel, result.message.offset);
    return result;
  }

  read(channel: string, from: ChannelPosition, limit: number, maxBytes: number, now: number): ReadResult {
    return this.#run('read', () => this.#read(channel, from, limit, maxBytes, now));
  }

  head(channel: string): ChannelPosition {
    return this.#run('head', () => headOf(this.#ctx, channel));
  }

  saveSession(session: SessionRecord): void {
    this.#write('saveSession', () => this.#saveSession(session));
  }

  updateSession(id: string, patch: SessionPatch, now: number): boolean {
    return this.#write('updateSession', () => this.#updateSession(id, patch, now));
  }

  loadSession(id: string, now: number): SessionRecord | undefined {
    return this.#run('loadSession', () => loadSession(this.#ctx, id, now));
  }

  deleteSession(id: string): void {
    this.#write('deleteSession', () => this.#deleteSession(id));
  }

  claimMessage(scope: string, messageId: number, options: ClaimOptions | undefined, now: number): ClaimResult {
    return this.#write('claimMessage', () => this.#claim(scope, messageId, options, now));
  }

  finishMessage(scope: string, messageId: number, outcome: MessageOutcome, now: number): void {
    this.#write('finishMessage', () => this.#finish(scope, messageId, outcome, now));
  }

  /** A full count of each table: for metrics scrapes and tests, not hot paths. */
  stats(): StoreStats {
    return this.#run('stats', () => {
      const count = (table: string): number => this.#ctx.db.prepare<[], number>(`SELECT COUNT(*) FROM ${table}`).pluck().get()!;
      return {
        channels: count('channels'),
        messages: count('messages'),
        sessions: count('sessions'),
        sessionChannels: count('session_channels'),
        claims: count('message_claims'),
        keys: count('idempotency_keys'),
        presenceMembers: count('presence'),
        presenceNodes: count('presence_nodes'),
      };
    });
  }

  /**
   * Call `listener` for every message appended from now on by any other process on this file (any other
   * store object), in commit order: the fan-out feed (`fanout.ts`). Returns the function that removes it.
   */
  watch(listener: AppendListener): () => void {
    return this.#run('watch', () => this.#feed.add(listener));
  }

  /** Step by step, each a short transaction, until nothing expired is left. */
  async sweep(now: number): Promise<void> {
    this.#write('sweep', () => this.#claimSweep(now, true));
    while (this.#write('sweep', () => this.#sweepStep(now))) await new Promise<void>((r) => setImmediate(r));
  }

  /**
   * One step inside the write that found a sweep due, then further steps in the background while more is
   * left, so no call pays for a whole sweep. A failed step ends the sweep: the availability already says
   * what is wrong, and the next due sweep tries again. Coordinated across the processes on the file: one
   * that finds a sweep started by another less than the interval ago does none.
   */
  autoSweep(now: number): Promise<void> | undefined {
    let claimed: boolean;
    try {
      claimed = this.#write('sweep', () => this.#claimSweep(now, false));
    } catch {
      return undefined;
    }
    if (!claimed || !this.#autoStep(now)) return undefined;
    return (async () => {
      do await pause(10);
      while (!this.#closed && this.#autoStep(now));
    })();
  }

  /** Close the database (SQLite checkpoints the WAL into the main file). */
  close(): void {
    this.#closed = true;
    this.#probe.stop();
    this.#feed.close();
    this.#presenceFeed?.close();
    try {
      this.#ctx.db.close();
    } catch (error) {
      throw sqliteStoreError(error, 'close');
    }
  }

  #autoStep(now: number): boolean {
    try {
      return this.#write('sweep', () => this.#sweepStep(now));
    } catch {
      return false;
    }
  }

  /** Run engine work, turning engine errors into store errors. */
  #run<T>(what: string, work: () => T): T {
    try {
      return work();
    } catch (error) {
      throw sqliteStoreError(error, what);
    }
  }

  /** Run a write: as {@link SqliteCore.#run}, and a failure of the engine's own turns availability false. */
  #write<T>(what: string, work: () => T): T {
    try {
      return this.#run(what, work);
    } catch (error) {
      if (error instanceof StoreUnavailableError && !this.#closed) this.#probe.lost(error.message);
      throw error;
    }
  }
}
