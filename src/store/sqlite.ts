/**
 * The SQLite engine (better-sqlite3): lifeline's embedded default. History, sessions and dedupe records
 * live in one database file in WAL mode and survive a process restart; a restarted process continues
 * every channel's epoch and offsets.
 * @packageDocumentation
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type Database from 'better-sqlite3';
import { requireOptional } from '../optional-dependency.js';
import { LifelineError } from '../errors.js';
import { StoreError, StoreUnavailableError } from './errors.js';
import {
  AUTO_SWEEP_INTERVAL_MS,
  ageCutoff,
  checkChannel,
  checkId,
  checkLimit,
  checkMessageId,
  checkOutcome,
  checkPosition,
  checkSession,
  copySession,
  decodeData,
  encodeData,
  isExpired,
  planRead,
  randomEpoch,
  readClock,
  resolveStoreOptions,
  type ResolvedStoreOptions,
} from './internal.js';
import type {
  AppendResult,
  ChannelPosition,
  ClaimResult,
  JsonValue,
  MessageOutcome,
  ReadResult,
  SessionRecord,
  Store,
  StoredMessage,
  StoreOptions,
} from './types.js';

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
}

/** The schema version this code writes (`PRAGMA user_version`). */
export const SQLITE_SCHEMA_VERSION = 1;

const SCHEMA_V1 = `
CREATE TABLE IF NOT EXISTS channels (
  name        TEXT PRIMARY KEY,
  epoch       TEXT NOT NULL,
  last_offset INTEGER NOT NULL,   -- newest offset ever given out; never decreases
  last_time   INTEGER             -- time of the newest message; NULL before the first
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages (
  channel TEXT NOT NULL,
  seq     INTEGER NOT NULL,       -- the offset
  time    INTEGER NOT NULL,       -- non-decreasing in seq within a channel
  data    TEXT NOT NULL,          -- JSON
  PRIMARY KEY (channel, seq)
);
CREATE INDEX IF NOT EXISTS messages_by_time ON messages (channel, time, seq);
CREATE TABLE IF NOT EXISTS idempotency_keys (
  key        TEXT PRIMARY KEY,
  channel    TEXT NOT NULL,
  epoch      TEXT NOT NULL,
  seq        INTEGER NOT NULL,
  time       INTEGER NOT NULL,
  data       TEXT NOT NULL,       -- a copy: a duplicate gets the first message even once history dropped it
  expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS idempotency_keys_by_expiry ON idempotency_keys (expires_at);
CREATE TABLE IF NOT EXISTS sessions (
  id         TEXT PRIMARY KEY,
  token_hash TEXT NOT NULL,
  user       TEXT,
  channels   TEXT NOT NULL,       -- JSON array of strings
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sessions_by_expiry ON sessions (expires_at);
CREATE TABLE IF NOT EXISTS message_claims (
  session    TEXT NOT NULL,
  message_id INTEGER NOT NULL,
  state      TEXT NOT NULL,       -- running | done | failed
  incident   TEXT,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (session, message_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS message_claims_by_expiry ON message_claims (expires_at);
`;

/** SQLite result codes meaning the engine cannot serve (as opposed to refusing one operation). */
const UNAVAILABLE = /^SQLITE_(IOERR|FULL|CANTOPEN|BUSY|LOCKED|READONLY|CORRUPT|NOTADB|PROTOCOL|NOMEM|NOLFS|PERM|AUTH)/;

function wrapError(error: unknown, what: string): Error {
  if (error instanceof LifelineError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const detail = error instanceof Error ? error.message : String(error);
  if (typeof code === 'string' && UNAVAILABLE.test(code)) {
    return new StoreUnavailableError(`sqlite store: ${what} failed: ${detail}`, { cause: error });
  }
  return new StoreError(`sqlite store: ${what} failed: ${detail}`, { cause: error });
}

interface ChannelRow {
  epoch: string;
  last: number;
  lastTime: number | null;
}
interface MessageRow {
  seq: number;
  time: number;
  data: string;
}
interface KeyRow {
  channel: string;
  epoch: string;
  seq: number;
  time: number;
  data: string;
  expiresAt: number;
}
interface SessionRow {
  id: string;
  tokenHash: string;
  user: string | null;
  channels: string;
  expiresAt: number;
}
interface ClaimRow {
  state: string;
  incident: string | null;
  expiresAt: number;
}

function outcomeFromRow(row: ClaimRow): MessageOutcome {
  if (row.state === 'failed') return { state: 'failed', incident: row.incident ?? '' };
  return row.state === 'done' ? { state: 'done' } : { state: 'running' };
}

function prepareStatements(db: Database.Database) {
  return {
    selectChannel: db.prepare<[string], ChannelRow>(
      'SELECT epoch, last_offset AS last, last_time AS lastTime FROM channels WHERE name = ?',
    ),
    insertChannel: db.prepare<[string, string]>(
      'INSERT OR IGNORE INTO channels (name, epoch, last_offset, last_time) VALUES (?, ?, 0, NULL)',
    ),
    advanceChannel: db.prepare<[number, number, string]>('UPDATE channels SET last_offset = ?, last_time = ? WHERE name = ?'),
    listChannels: db.prepare<[], { name: string; last: number }>('SELECT name, last_offset AS last FROM channels'),
    insertMessage: db.prepare<[string, number, number, string]>('INSERT INTO messages (channel, seq, time, data) VALUES (?, ?, ?, ?)'),
    trimByCount: db.prepare<[string, number]>('DELETE FROM messages WHERE channel = ? AND seq <= ?'),
    trimByAge: db.prepare<[string, number]>('DELETE FROM messages WHERE channel = ? AND time < ?'),
    // Times are non-decreasing in seq, so the first row by (time, seq) is the oldest retained one.
    firstRetained: db
      .prepare<[string, number], number>('SELECT seq FROM messages WHERE channel = ? AND time >= ? ORDER BY time, seq LIMIT 1')
      .pluck(),
    selectMessages: db.prepare<[string, number, number], MessageRow>(
      'SELECT seq, time, data FROM messages WHERE channel = ? AND seq > ? ORDER BY seq LIMIT ?',
    ),
    selectKey: db.prepare<[string], KeyRow>(
      'SELECT channel, epoch, seq, time, data, expires_at AS expiresAt FROM idempotency_keys WHERE key = ?',
    ),
    upsertKey: db.prepare<[string, string, string, number, number, string, number]>(
      'INSERT OR REPLACE INTO idempotency_keys (key, channel, epoch, seq, time, data, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    expireKeys: db.prepare<[number]>('DELETE FROM idempotency_keys WHERE expires_at <= ?'),
    upsertSession: db.prepare<[string, string, string | null, string, number]>(
      'INSERT OR REPLACE INTO sessions (id, token_hash, user, channels, expires_at) VALUES (?, ?, ?, ?, ?)',
    ),
    selectSession: db.prepare<[string], SessionRow>(
      'SELECT id, token_hash AS tokenHash, user, channels, expires_at AS expiresAt FROM sessions WHERE id = ?',
    ),
    deleteSession: db.prepare<[string]>('DELETE FROM sessions WHERE id = ?'),
    expireSessions: db.prepare<[number]>('DELETE FROM sessions WHERE expires_at <= ?'),
    selectClaim: db.prepare<[string, number], ClaimRow>(
      'SELECT state, incident, expires_at AS expiresAt FROM message_claims WHERE session = ? AND message_id = ?',
    ),
    upsertClaim: db.prepare<[string, number, string, string | null, number]>(
      'INSERT OR REPLACE INTO message_claims (session, message_id, state, incident, expires_at) VALUES (?, ?, ?, ?, ?)',
    ),
    deleteClaimsOf: db.prepare<[string]>('DELETE FROM message_claims WHERE session = ?'),
    expireClaims: db.prepare<[number]>('DELETE FROM message_claims WHERE expires_at <= ?'),
  };
}

/** Create the schema on a new file; refuse a file written by a newer version. */
function migrate(db: Database.Database): void {
  const version = (): number => db.pragma('user_version', { simple: true }) as number;
  const check = (found: number): void => {
    if (found > SQLITE_SCHEMA_VERSION) {
      throw new StoreError(
        `sqlite store: ${db.name} has schema version ${found}, newer than ${SQLITE_SCHEMA_VERSION} which this version of lifeline understands`,
      );
    }
  };
  check(version());
  if (version() === SQLITE_SCHEMA_VERSION) return;
  db.transaction(() => {
    // Re-read under the write lock: another process may have created the schema meanwhile.
    const found = version();
    check(found);
    if (found === SQLITE_SCHEMA_VERSION) return;
    db.exec(SCHEMA_V1);
    db.pragma(`user_version = ${SQLITE_SCHEMA_VERSION}`);
  }).immediate();
}

/**
 * A store in a SQLite database file, through better-sqlite3. `durable: true`: history (with each
 * channel's epoch and offsets), sessions and dedupe records survive a process restart.
 *
 * - WAL journal mode; `synchronous` NORMAL by default (durable against a process crash, SIGKILL
 *   included) or FULL (also against power loss), see {@link SqliteStoreOptions.synchronous}.
 * - An append, its idempotency record and the trimming it causes are one transaction: a crash can
 *   never leave a message without its idempotency record, or a record without its message.
 * - Writes take the write lock up front (`BEGIN IMMEDIATE`), so several processes may share a file.
 * - Statements are prepared once. better-sqlite3 is synchronous: each method does its work before
 *   its promise resolves, and calls never interleave within a process.
 */
export class SqliteStore implements Store {
  /** Always `sqlite`. */
  readonly kind = 'sqlite';
  /** `true`, except for a `':memory:'` database. */
  readonly durable: boolean;
  /** The database file, as given. */
  readonly path: string;

  readonly #options: ResolvedStoreOptions;
  readonly #db: Database.Database;
  readonly #sql: ReturnType<typeof prepareStatements>;
  readonly #appendTx: (channel: string, json: string, key: string | undefined, now: number) => AppendResult;
  readonly #readTx: (channel: string, from: ChannelPosition, limit: number, now: number) => ReadResult;
  readonly #claimTx: (session: string, messageId: number, now: number) => ClaimResult;
  readonly #sweepTx: (now: number) => void;
  #lastSweep = -Infinity;
  #closed = false;

  /**
   * Open (and if needed create) the database. Synchronous, like better-sqlite3.
   * @throws TypeError or RangeError for an invalid option; {@link StoreUnavailableError} when the file
   *   cannot be opened; {@link StoreError} when it was written by a newer schema version
   */
  constructor(options: SqliteStoreOptions) {
    if (typeof options !== 'object' || options === null) throw new TypeError('sqlite store options must be an object');
    this.#options = resolveStoreOptions(options);
    const { path, synchronous = 'normal', busyTimeoutMs = 5000 } = options;
    if (typeof path !== 'string' || path.length === 0) throw new TypeError('path must be a non-empty string');
    if (synchronous !== 'normal' && synchronous !== 'full') throw new RangeError("synchronous must be 'normal' or 'full'");
    if (!Number.isSafeInteger(busyTimeoutMs) || busyTimeoutMs < 0) throw new RangeError('busyTimeoutMs must be an integer >= 0');
    const inMemory = path === ':memory:';
    this.path = path;
    this.durable = !inMemory;

    // Outside the try: a missing package is not an unavailable store, and its error names what to install.
    const Sqlite = requireOptional<typeof Database>('better-sqlite3', 'the sqlite store');
    let db: Database.Database;
    try {
      if (!inMemory) mkdirSync(dirname(resolve(path)), { recursive: true });
      db = new Sqlite(path, { timeout: busyTimeoutMs });
    } catch (error) {
      throw new StoreUnavailableError(`sqlite store: cannot open ${path}: ${(error as Error).message}`, { cause: error });
    }
    try {
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (!inMemory && mode !== 'wal') throw new StoreError(`sqlite store: ${path} could not be switched to WAL mode (got ${String(mode)})`);
      db.pragma(`synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
      migrate(db);
      this.#sql = prepareStatements(db);
    } catch (error) {
      db.close();
      throw wrapError(error, `opening ${path}`);
    }
    this.#db = db;
    this.#appendTx = this.#makeAppend();
    this.#readTx = this.#makeRead();
    this.#claimTx = this.#makeClaim();
    this.#sweepTx = this.#makeSweep();
  }

  async append(channel: string, data: JsonValue, options?: { idempotencyKey?: string }): Promise<AppendResult> {
    this.#checkOpen();
    checkChannel(channel);
    const key = options?.idempotencyKey;
    if (key !== undefined) checkId(key, 'idempotencyKey');
    const json = encodeData(data);
    const now = this.#beginWrite();
    return this.#run('append', () => this.#appendTx(channel, json, key, now));
  }

  async read(channel: string, from: ChannelPosition | undefined, limit: number): Promise<ReadResult> {
    this.#checkOpen();
    checkChannel(channel);
    if (from !== undefined) checkPosition(from);
    checkLimit(limit);
    const now = readClock(this.#options.now);
    return this.#run('read', () => {
      const row = this.#ensureChannel(channel);
      if (from === undefined) return { messages: [], complete: true, more: false, head: { epoch: row.epoch, offset: row.last } };
      return this.#readTx(channel, from, limit, now);
    });
  }

  async head(channel: string): Promise<ChannelPosition> {
    this.#checkOpen();
    checkChannel(channel);
    return this.#run('head', () => {
      const row = this.#ensureChannel(channel);
      return { epoch: row.epoch, offset: row.last };
    });
  }

  async saveSession(session: SessionRecord): Promise<void> {
    this.#checkOpen();
    checkSession(session);
    const channels = JSON.stringify(session.channels);
    this.#beginWrite();
    this.#run('saveSession', () => {
      this.#sql.upsertSession.run(session.id, session.tokenHash, session.user ?? null, channels, session.expiresAt);
    });
  }

  async loadSession(id: string): Promise<SessionRecord | undefined> {
    this.#checkOpen();
    checkId(id, 'session id');
    const now = readClock(this.#options.now);
    return this.#run('loadSession', () => {
      const row = this.#sql.selectSession.get(id);
      if (!row || isExpired(row.expiresAt, now)) return undefined;
      return copySession({
        id: row.id,
        tokenHash: row.tokenHash,
        channels: JSON.parse(row.channels) as string[],
        expiresAt: row.expiresAt,
        ...(row.user === null ? {} : { user: row.user }),
      });
    });
  }

  async deleteSession(id: string): Promise<void> {
    this.#checkOpen();
    checkId(id, 'session id');
    this.#run('deleteSession', () => {
      this.#db.transaction(() => {
        this.#sql.deleteSession.run(id);
        this.#sql.deleteClaimsOf.run(id);
      }).immediate();
    });
  }

  async claimMessage(session: string, messageId: number): Promise<ClaimResult> {
    this.#checkOpen();
    checkId(session, 'session');
    checkMessageId(messageId);
    const now = this.#beginWrite();
    return this.#run('claimMessage', () => this.#claimTx(session, messageId, now));
  }

  async finishMessage(session: string, messageId: number, outcome: MessageOutcome): Promise<void> {
    this.#checkOpen();
    checkId(session, 'session');
    checkMessageId(messageId);
    checkOutcome(outcome);
    const now = this.#beginWrite();
    this.#run('finishMessage', () => {
      const incident = outcome.state === 'failed' ? outcome.incident : null;
      this.#sql.upsertClaim.run(session, messageId, outcome.state, incident, now + this.#options.dedupeTtlMs);
    });
  }

  async sweep(): Promise<void> {
    this.#checkOpen();
    const now = readClock(this.#options.now);
    this.#run('sweep', () => this.#sweepTx(now));
    this.#lastSweep = now;
  }

  /**
   * Close the database (SQLite checkpoints the WAL into the main file). Idempotent; afterwards every
   * other method rejects with {@link StoreUnavailableError}.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#db.close();
    } catch (error) {
      throw wrapError(error, 'close');
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new StoreUnavailableError(`the sqlite store (${this.path}) is closed`);
  }

  /** Run engine work, turning engine errors into store errors. */
  #run<T>(what: string, work: () => T): T {
    try {
      return work();
    } catch (error) {
      throw wrapError(error, what);
    }
  }

  /** Read the clock for a write; sweep first (its own transaction) when the last sweep is old enough. */
  #beginWrite(): number {
    const now = readClock(this.#options.now);
    if (now - this.#lastSweep >= AUTO_SWEEP_INTERVAL_MS) {
      this.#run('sweep', () => this.#sweepTx(now));
      this.#lastSweep = now;
    }
    return now;
  }

  /** The channel's row, created with a fresh epoch the first time the channel is touched. */
  #ensureChannel(channel: string): ChannelRow {
    const row = this.#sql.selectChannel.get(channel);
    if (row) return row;
    this.#sql.insertChannel.run(channel, randomEpoch());
    return this.#sql.selectChannel.get(channel)!;
  }

  #trim(channel: string, last: number, now: number): void {
    const { maxCount, maxAgeMs } = this.#options;
    if (maxCount !== Infinity && last > maxCount) this.#sql.trimByCount.run(channel, last - maxCount);
    if (maxAgeMs !== Infinity) this.#sql.trimByAge.run(channel, ageCutoff(now, maxAgeMs));
  }

  #makeAppend(): (channel: string, json: string, key: string | undefined, now: number) => AppendResult {
    const sql = this.#sql;
    const tx = this.#db.transaction((channel: string, json: string, key: string | undefined, now: number): AppendResult => {
      if (key !== undefined) {
        const found = sql.selectKey.get(key);
        if (found && !isExpired(found.expiresAt, now)) {
          const message: StoredMessage = {
            channel: found.channel,
            epoch: found.epoch,
            offset: found.seq,
            data: decodeData(found.data),
            time: found.time,
          };
          return { message, duplicate: true };
        }
      }
      let row = sql.selectChannel.get(channel);
      if (!row) {
        row = { epoch: randomEpoch(), last: 0, lastTime: null };
        sql.insertChannel.run(channel, row.epoch);
      }
      const offset = row.last + 1;
      const time = row.lastTime === null ? now : Math.max(now, row.lastTime);
      sql.insertMessage.run(channel, offset, time, json);
      sql.advanceChannel.run(offset, time, channel);
      if (key !== undefined) sql.upsertKey.run(key, channel, row.epoch, offset, time, json, now + this.#options.dedupeTtlMs);
      this.#trim(channel, offset, now);
      return { message: { channel, epoch: row.epoch, offset, data: decodeData(json), time }, duplicate: false };
    });
    return (channel, json, key, now) => tx.immediate(channel, json, key, now);
  }

  #makeRead(): (channel: string, from: ChannelPosition, limit: number, now: number) => ReadResult {
    const sql = this.#sql;
    // Deferred: a read-only snapshot, so the head and the messages agree even with another writer.
    const tx = this.#db.transaction((channel: string, from: ChannelPosition, limit: number, now: number): ReadResult => {
      const row = sql.selectChannel.get(channel)!;
      const head: ChannelPosition = { epoch: row.epoch, offset: row.last };
      const first = sql.firstRetained.get(channel, ageCutoff(now, this.#options.maxAgeMs)) ?? row.last + 1;
      const plan = planRead(head, first, from);
      const rows = sql.selectMessages.all(channel, Math.max(plan.after, first - 1), limit + 1);
      const more = rows.length > limit;
      const messages = rows
        .slice(0, limit)
        .map((r): StoredMessage => ({ channel, epoch: row.epoch, offset: r.seq, data: decodeData(r.data), time: r.time }));
      return { messages, complete: plan.complete, more, head };
    });
    return (channel, from, limit, now) => tx.deferred(channel, from, limit, now);
  }

  #makeClaim(): (session: string, messageId: number, now: number) => ClaimResult {
    const sql = this.#sql;
    const tx = this.#db.transaction((session: string, messageId: number, now: number): ClaimResult => {
      const found = sql.selectClaim.get(session, messageId);
      if (found && !isExpired(found.expiresAt, now)) return { claimed: false, outcome: outcomeFromRow(found) };
      sql.upsertClaim.run(session, messageId, 'running', null, now + this.#options.dedupeTtlMs);
      return { claimed: true };
    });
    return (session, messageId, now) => tx.immediate(session, messageId, now);
  }

  #makeSweep(): (now: number) => void {
    const sql = this.#sql;
    const tx = this.#db.transaction((now: number): void => {
      sql.expireKeys.run(now);
      sql.expireClaims.run(now);
      sql.expireSessions.run(now);
      for (const { name, last } of sql.listChannels.all()) this.#trim(name, last, now);
    });
    return (now) => tx.immediate(now);
  }
}

/**
 * Open a SQLite store (see {@link SqliteStore}), creating the file, its directory and the schema when
 * missing.
 * @param options - `path` and engine settings, plus history bounds, dedupe TTL and clock
 * @throws TypeError or RangeError for an invalid option; {@link StoreUnavailableError} when the file
 *   cannot be opened; {@link StoreError} when it was written by a newer schema version
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
