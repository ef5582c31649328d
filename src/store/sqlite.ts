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
import { IdempotencyConflictError, IdempotencyWindowError, StoreError, StoreUnavailableError } from './errors.js';
import {
  AUTO_SWEEP_INTERVAL_MS,
  SWEEP_BATCH,
  ageCutoff,
  bareRecord,
  belowWindow,
  checkChannel,
  checkClaimOptions,
  checkReadOptions,
  checkSessionPatch,
  checkId,
  checkLimit,
  checkMessageId,
  checkOutcome,
  checkPosition,
  checkSession,
  copySession,
  decodeData,
  duplicateOfClaim,
  encodeData,
  isExpired,
  planRead,
  randomEmptyEpoch,
  randomEpoch,
  readClock,
  resolveStoreOptions,
  type ResolvedStoreOptions,
} from './internal.js';
import type {
  AppendOptions,
  AppendResult,
  ChannelPosition,
  ClaimOptions,
  ClaimResult,
  JsonValue,
  MessageOutcome,
  ReadOptions,
  ReadResult,
  SessionPatch,
  SessionRecord,
  Store,
  StoredMessage,
  StoreOptions,
  StoreStats,
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
  /**
   * After a write failed because the engine cannot serve (disk full, I/O error), how often to try a
   * small write to learn whether it can again, in ms. @default 1000
   */
  probeIntervalMs?: number;
}

/** The schema version this code writes (`PRAGMA user_version`). */
export const SQLITE_SCHEMA_VERSION = 2;

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

/**
 * Version 2: bounded records and proportional writes.
 * - `meta`: the empty epoch (unwritten channels are no longer rows: reading creates nothing).
 * - `session_channels`: one row per subscription, so a `sub` writes one row, not the whole session;
 *   with the position a resume may restore the channel from.
 * - idempotency keys and claims get scopes with bounds (`key_scopes` counts, `claim_scopes` windows),
 *   claims a fingerprint and a result.
 * - `messages_by_age`: age trimming by one range over all channels, not a statement per channel.
 */
const SCHEMA_V2 = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS session_channels (
  session TEXT NOT NULL,
  channel TEXT NOT NULL,
  seq     INTEGER NOT NULL,       -- order of subscription
  epoch   TEXT,                   -- position to restore from; NULL when unknown
  offset  INTEGER,
  PRIMARY KEY (session, channel)
) WITHOUT ROWID;
ALTER TABLE idempotency_keys ADD COLUMN scope TEXT;
CREATE INDEX IF NOT EXISTS idempotency_keys_by_scope ON idempotency_keys (scope, expires_at) WHERE scope IS NOT NULL;
CREATE TABLE IF NOT EXISTS key_scopes (scope TEXT PRIMARY KEY, count INTEGER NOT NULL) WITHOUT ROWID;
ALTER TABLE message_claims ADD COLUMN fingerprint TEXT;
ALTER TABLE message_claims ADD COLUMN result TEXT;       -- JSON of a done outcome's result
CREATE TABLE IF NOT EXISTS claim_scopes (scope TEXT PRIMARY KEY, max_id INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS messages_by_age ON messages (time);
`;

/** SQLite result codes meaning the engine cannot serve (as opposed to refusing one operation). */
const UNAVAILABLE = /^SQLITE_(IOERR|FULL|CANTOPEN|BUSY|LOCKED|READONLY|CORRUPT|NOTADB|PROTOCOL|NOMEM|NOLFS|PERM|AUTH)/;

function wrapError(error: unknown, what: string): Error {
  if (error instanceof LifelineError || error instanceof TypeError || error instanceof RangeError) return error;
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
  scope: string | null;
}
interface SessionRow {
  id: string;
  tokenHash: string;
  user: string | null;
  expiresAt: number;
}
interface SessionChannelRow {
  channel: string;
  epoch: string | null;
  offset: number | null;
}
interface ClaimRow {
  state: string;
  incident: string | null;
  result: string | null;
  fingerprint: string | null;
  expiresAt: number;
}

function outcomeFromRow(row: ClaimRow): MessageOutcome {
  switch (row.state) {
    case 'failed':
      return { state: 'failed', incident: row.incident ?? '' };
    case 'done':
      return row.result === null ? { state: 'done' } : { state: 'done', result: decodeData(row.result) };
    case 'claimed':
      return { state: 'claimed' };
    default:
      return { state: 'running' };
  }
}

function prepareStatements(db: Database.Database) {
  return {
    selectChannel: db.prepare<[string], ChannelRow>(
      'SELECT epoch, last_offset AS last, last_time AS lastTime FROM channels WHERE name = ?',
    ),
    insertChannel: db.prepare<[string, string]>('INSERT INTO channels (name, epoch, last_offset, last_time) VALUES (?, ?, 0, NULL)'),
    advanceChannel: db.prepare<[number, number, string]>('UPDATE channels SET last_offset = ?, last_time = ? WHERE name = ?'),
    insertMessage: db.prepare<[string, number, number, string]>('INSERT INTO messages (channel, seq, time, data) VALUES (?, ?, ?, ?)'),
    trimByCount: db.prepare<[string, number]>('DELETE FROM messages WHERE channel = ? AND seq <= ?'),
    trimByAge: db.prepare<[string, number]>('DELETE FROM messages WHERE channel = ? AND time < ?'),
    // Times are non-decreasing in seq within a channel, so this drops a prefix of every channel.
    trimAllByAge: db.prepare<[number, number]>('DELETE FROM messages WHERE rowid IN (SELECT rowid FROM messages WHERE time < ? LIMIT ?)'),
    // Times are non-decreasing in seq, so the first row by (time, seq) is the oldest retained one.
    firstRetained: db
      .prepare<[string, number], number>('SELECT seq FROM messages WHERE channel = ? AND time >= ? ORDER BY time, seq LIMIT 1')
      .pluck(),
    selectMessages: db.prepare<[string, number, number], MessageRow>(
      'SELECT seq, time, data FROM messages WHERE channel = ? AND seq > ? ORDER BY seq LIMIT ?',
    ),
    selectMeta: db.prepare<[string], string>('SELECT value FROM meta WHERE key = ?').pluck(),
    insertMeta: db.prepare<[string, string]>('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)'),
    upsertMeta: db.prepare<[string, string]>('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)'),
    selectKey: db.prepare<[string], KeyRow>(
      'SELECT channel, epoch, seq, time, data, expires_at AS expiresAt, scope FROM idempotency_keys WHERE key = ?',
    ),
    deleteKey: db.prepare<[string]>('DELETE FROM idempotency_keys WHERE key = ?'),
    insertKey: db.prepare<[string, string, string, number, number, string, number, string | null]>(
      'INSERT INTO idempotency_keys (key, channel, epoch, seq, time, data, expires_at, scope) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    oldestKeyOf: db.prepare<[string], string>('SELECT key FROM idempotency_keys WHERE scope = ? ORDER BY expires_at LIMIT 1').pluck(),
    countKey: db.prepare<[string, number]>(
      'INSERT INTO key_scopes (scope, count) VALUES (?, ?) ON CONFLICT (scope) DO UPDATE SET count = count + excluded.count',
    ),
    keyCount: db.prepare<[string], number>('SELECT count FROM key_scopes WHERE scope = ?').pluck(),
    dropEmptyKeyScopes: db.prepare('DELETE FROM key_scopes WHERE count <= 0'),
    expireKeys: db.prepare<[number, number], { scope: string | null }>(
      'DELETE FROM idempotency_keys WHERE key IN (SELECT key FROM idempotency_keys WHERE expires_at <= ? LIMIT ?) RETURNING scope',
    ),
    upsertSession: db.prepare<[string, string, string | null, number]>(
      "INSERT OR REPLACE INTO sessions (id, token_hash, user, channels, expires_at) VALUES (?, ?, ?, '[]', ?)",
    ),
    selectSession: db.prepare<[string], SessionRow>(
      'SELECT id, token_hash AS tokenHash, user, expires_at AS expiresAt FROM sessions WHERE id = ?',
    ),
    touchSession: db.prepare<[number, string]>('UPDATE sessions SET expires_at = ? WHERE id = ?'),
    deleteSession: db.prepare<[string]>('DELETE FROM sessions WHERE id = ?'),
    expireSessions: db.prepare<[number, number], { id: string }>(
      'DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE expires_at <= ? LIMIT ?) RETURNING id',
    ),
    selectSessionChannels: db.prepare<[string], SessionChannelRow>(
      'SELECT channel, epoch, offset FROM session_channels WHERE session = ? ORDER BY seq',
    ),
    nextChannelSeq: db.prepare<[string], number>('SELECT COALESCE(MAX(seq), 0) + 1 FROM session_channels WHERE session = ?').pluck(),
    hasSessionChannel: db.prepare<[string, string], number>('SELECT 1 FROM session_channels WHERE session = ? AND channel = ?').pluck(),
    insertSessionChannel: db.prepare<[string, string, number, string | null, number | null]>(
      'INSERT INTO session_channels (session, channel, seq, epoch, offset) VALUES (?, ?, ?, ?, ?)',
    ),
    positionSessionChannel: db.prepare<[string, number, string, string]>(
      'UPDATE session_channels SET epoch = ?, offset = ? WHERE session = ? AND channel = ?',
    ),
    deleteSessionChannel: db.prepare<[string, string]>('DELETE FROM session_channels WHERE session = ? AND channel = ?'),
    deleteSessionChannels: db.prepare<[string]>('DELETE FROM session_channels WHERE session = ?'),
    selectClaim: db.prepare<[string, number], ClaimRow>(
      'SELECT state, incident, result, fingerprint, expires_at AS expiresAt FROM message_claims WHERE session = ? AND message_id = ?',
    ),
    upsertClaim: db.prepare<[string, number, string, string | null, string | null, string | null, number]>(
      'INSERT OR REPLACE INTO message_claims (session, message_id, state, incident, result, fingerprint, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    claimWindow: db.prepare<[string], number>('SELECT max_id FROM claim_scopes WHERE scope = ?').pluck(),
    raiseWindow: db.prepare<[string, number]>(
      'INSERT INTO claim_scopes (scope, max_id) VALUES (?, ?) ON CONFLICT (scope) DO UPDATE SET max_id = MAX(max_id, excluded.max_id)',
    ),
    dropBelowWindow: db.prepare<[string, number]>('DELETE FROM message_claims WHERE session = ? AND message_id <= ?'),
    deleteClaimsOf: db.prepare<[string]>('DELETE FROM message_claims WHERE session = ?'),
    deleteWindowOf: db.prepare<[string]>('DELETE FROM claim_scopes WHERE scope = ?'),
    expireClaims: db.prepare<[number, number], { session: string }>(
      'DELETE FROM message_claims WHERE (session, message_id) IN (SELECT session, message_id FROM message_claims WHERE expires_at <= ? LIMIT ?) RETURNING session',
    ),
    claimsLeft: db.prepare<[string], number>('SELECT 1 FROM message_claims WHERE session = ? LIMIT 1').pluck(),
  };
}

/** Create or upgrade the schema; refuse a file written by a newer version. */
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
    // Re-read under the write lock: another process may have migrated meanwhile.
    const found = version();
    check(found);
    if (found === SQLITE_SCHEMA_VERSION) return;
    if (found < 1) db.exec(SCHEMA_V1);
    db.exec(SCHEMA_V2);
    // Sessions of version 1 kept their channels as JSON in the row; move them to one row each.
    const rows = db.prepare<[], { id: string; channels: string }>("SELECT id, channels FROM sessions WHERE channels <> '[]'").all();
    const insert = db.prepare<[string, string, number]>('INSERT OR IGNORE INTO session_channels (session, channel, seq) VALUES (?, ?, ?)');
    for (const row of rows) {
      (JSON.parse(row.channels) as string[]).forEach((channel, i) => insert.run(row.id, channel, i + 1));
    }
    db.exec("UPDATE sessions SET channels = '[]'");
    // Channels of version 1 that were only ever read hold no message: they are simply unwritten now.
    db.exec('DELETE FROM channels WHERE last_offset = 0');
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
 * - Reads create nothing; records clients cause are bounded per scope; sweeps go a batch at a time.
 * - `available` turns false when a write fails because the engine cannot serve (a full disk, an I/O
 *   error), and true again once a small probe write succeeds.
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
  readonly #emptyEpoch: string;
  readonly #probeIntervalMs: number;
  readonly #appendTx: (channel: string, json: string, data: JsonValue, options: AppendOptions | undefined, now: number) => AppendResult;
  readonly #readTx: (channel: string, from: ChannelPosition, limit: number, maxBytes: number, now: number) => ReadResult;
  readonly #claimTx: (session: string, messageId: number, options: ClaimOptions | undefined, now: number) => ClaimResult;
  readonly #finishTx: (session: string, messageId: number, outcome: MessageOutcome, now: number) => void;
  readonly #updateSessionTx: (id: string, patch: SessionPatch, now: number) => boolean;
  readonly #saveSessionTx: (session: SessionRecord) => void;
  readonly #sweepStep: (now: number) => boolean;
  readonly #availabilityListeners = new Set<(available: boolean, reason?: string) => void>();
  #available = true;
  #probe: ReturnType<typeof setInterval> | undefined;
  #lastSweep = -Infinity;
  #sweepMore: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  /**
   * Open (and if needed create) the database. Synchronous, like better-sqlite3.
   * @throws TypeError or RangeError for an invalid option; {@link StoreUnavailableError} when the file
   *   cannot be opened; {@link StoreError} when it was written by a newer schema version
   */
  constructor(options: SqliteStoreOptions) {
    if (typeof options !== 'object' || options === null) throw new TypeError('sqlite store options must be an object');
    this.#options = resolveStoreOptions(options);
    const { path, synchronous = 'normal', busyTimeoutMs = 5000, probeIntervalMs = 1000 } = options;
    if (typeof path !== 'string' || path.length === 0) throw new TypeError('path must be a non-empty string');
    if (synchronous !== 'normal' && synchronous !== 'full') throw new RangeError("synchronous must be 'normal' or 'full'");
    if (!Number.isSafeInteger(busyTimeoutMs) || busyTimeoutMs < 0) throw new RangeError('busyTimeoutMs must be an integer >= 0');
    if (!(typeof probeIntervalMs === 'number' && probeIntervalMs > 0 && Number.isFinite(probeIntervalMs))) throw new RangeError('probeIntervalMs must be a number of ms > 0');
    this.#probeIntervalMs = probeIntervalMs;
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
      // One empty epoch per database, made once: it lives exactly as long as the data it speaks for.
      this.#sql.insertMeta.run('empty_epoch', randomEmptyEpoch());
      this.#emptyEpoch = this.#sql.selectMeta.get('empty_epoch')!;
    } catch (error) {
      db.close();
      throw wrapError(error, `opening ${path}`);
    }
    this.#db = db;
    this.#appendTx = this.#makeAppend();
    this.#readTx = this.#makeRead();
    this.#claimTx = this.#makeClaim();
    this.#finishTx = this.#makeFinish();
    this.#updateSessionTx = this.#makeUpdateSession();
    this.#saveSessionTx = this.#makeSaveSession();
    this.#sweepStep = this.#makeSweepStep();
  }

  /** Whether writes succeed: false after a write failed for a reason of the engine's (a full disk), until a probe write succeeds. */
  get available(): boolean {
    return this.#available && !this.#closed;
  }

  /** Be told when {@link SqliteStore.available} changes. Returns the unsubscribe function. */
  onAvailability(listener: (available: boolean, reason?: string) => void): () => void {
    const entry = (available: boolean, reason?: string): void => listener(available, reason);
    this.#availabilityListeners.add(entry);
    return () => {
      this.#availabilityListeners.delete(entry);
    };
  }

  async append(channel: string, data: JsonValue, options?: AppendOptions): Promise<AppendResult> {
    this.#checkOpen();
    checkChannel(channel);
    const key = options?.idempotencyKey;
    if (key !== undefined) checkId(key, 'idempotencyKey');
    if (options?.idempotencyScope !== undefined) checkId(options.idempotencyScope, 'idempotencyScope');
    const claim = options?.claim;
    if (claim !== undefined) {
      checkId(claim.scope, 'claim.scope');
      checkMessageId(claim.id);
      if (typeof claim.fingerprint !== 'string') throw new TypeError('claim.fingerprint must be a string');
    }
    const json = encodeData(data);
    const now = this.#beginWrite();
    return this.#write('append', () => this.#appendTx(channel, json, data, options, now));
  }

  async read(channel: string, from: ChannelPosition | undefined, limit: number, options?: ReadOptions): Promise<ReadResult> {
    this.#checkOpen();
    checkChannel(channel);
    if (from !== undefined) checkPosition(from);
    checkLimit(limit);
    checkReadOptions(options);
    const now = readClock(this.#options.now);
    return this.#run('read', () => {
      if (from === undefined) return { messages: [], complete: true, more: false, head: this.#head(channel) };
      return this.#readTx(channel, from, limit, options?.maxBytes ?? Infinity, now);
    });
  }

  async head(channel: string): Promise<ChannelPosition> {
    this.#checkOpen();
    checkChannel(channel);
    return this.#run('head', () => this.#head(channel));
  }

  async saveSession(session: SessionRecord): Promise<void> {
    this.#checkOpen();
    checkSession(session);
    this.#beginWrite();
    this.#write('saveSession', () => this.#saveSessionTx(session));
  }

  async updateSession(id: string, patch: SessionPatch): Promise<boolean> {
    this.#checkOpen();
    checkId(id, 'session id');
    checkSessionPatch(patch);
    const now = this.#beginWrite();
    return this.#write('updateSession', () => this.#updateSessionTx(id, patch, now));
  }

  async loadSession(id: string): Promise<SessionRecord | undefined> {
    this.#checkOpen();
    checkId(id, 'session id');
    const now = readClock(this.#options.now);
    return this.#run('loadSession', () => {
      const row = this.#sql.selectSession.get(id);
      if (!row || isExpired(row.expiresAt, now)) return undefined;
      const channels: string[] = [];
      const positions = bareRecord<ChannelPosition>();
      for (const c of this.#sql.selectSessionChannels.all(id)) {
        channels.push(c.channel);
        if (c.epoch !== null && c.offset !== null) positions[c.channel] = { epoch: c.epoch, offset: c.offset };
      }
      return copySession({
        id: row.id,
        tokenHash: row.tokenHash,
        channels,
        positions,
        expiresAt: row.expiresAt,
        ...(row.user === null ? {} : { user: row.user }),
      });
    });
  }

  async deleteSession(id: string): Promise<void> {
    this.#checkOpen();
    checkId(id, 'session id');
    this.#write('deleteSession', () => {
      this.#db.transaction(() => {
        this.#sql.deleteSession.run(id);
        this.#sql.deleteSessionChannels.run(id);
        this.#sql.deleteClaimsOf.run(id);
        this.#sql.deleteWindowOf.run(id);
      }).immediate();
    });
  }

  async claimMessage(session: string, messageId: number, options?: ClaimOptions): Promise<ClaimResult> {
    this.#checkOpen();
    checkId(session, 'session');
    checkMessageId(messageId);
    checkClaimOptions(options);
    const now = this.#beginWrite();
    return this.#write('claimMessage', () => this.#claimTx(session, messageId, options, now));
  }

  async finishMessage(session: string, messageId: number, outcome: MessageOutcome): Promise<void> {
    this.#checkOpen();
    checkId(session, 'session');
    checkMessageId(messageId);
    checkOutcome(outcome);
    const now = this.#beginWrite();
    this.#write('finishMessage', () => this.#finishTx(session, messageId, outcome, now));
  }

  /** Count the records held (a full count of each table: for metrics scrapes and tests, not hot paths). */
  async stats(): Promise<StoreStats> {
    this.#checkOpen();
    return this.#run('stats', () => {
      const count = (table: string): number => this.#db.prepare<[], number>(`SELECT COUNT(*) FROM ${table}`).pluck().get()!;
      return {
        channels: count('channels'),
        messages: count('messages'),
        sessions: count('sessions'),
        sessionChannels: count('session_channels'),
        claims: count('message_claims'),
        keys: count('idempotency_keys'),
      };
    });
  }

  async sweep(): Promise<void> {
    this.#checkOpen();
    const now = readClock(this.#options.now);
    // Step by step, each a short transaction, until nothing expired is left.
    while (this.#write('sweep', () => this.#sweepStep(now))) await new Promise<void>((r) => setImmediate(r));
    this.#lastSweep = now;
  }

  /**
   * Close the database (SQLite checkpoints the WAL into the main file). Idempotent; afterwards every
   * other method rejects with {@link StoreUnavailableError}.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#probe) clearInterval(this.#probe);
    if (this.#sweepMore) clearTimeout(this.#sweepMore);
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

  /** Run a write: as {@link SqliteStore.#run}, and a failure of the engine's own turns `available` false. */
  #write<T>(what: string, work: () => T): T {
    try {
      return this.#run(what, work);
    } catch (error) {
      if (error instanceof StoreUnavailableError && !this.#closed) this.#unavailable((error as Error).message);
      throw error;
    }
  }

  #unavailable(reason: string): void {
    if (!this.#available) return;
    this.#setAvailable(false, reason);
    // Probe with a tiny write until one succeeds (space freed, the disk back).
    this.#probe = setInterval(() => {
      try {
        this.#sql.upsertMeta.run('probe', String(Date.now()));
      } catch {
        return;
      }
      clearInterval(this.#probe);
      this.#probe = undefined;
      this.#setAvailable(true, `sqlite store: ${this.path} accepts writes again`);
    }, this.#probeIntervalMs);
    this.#probe.unref();
  }

  #setAvailable(available: boolean, reason: string): void {
    if (this.#available === available) return;
    this.#available = available;
    for (const listener of [...this.#availabilityListeners]) {
      try {
        listener(available, reason);
      } catch {
        // One listener's failure must not keep the others from hearing about it.
      }
    }
  }

  /**
   * Read the clock for a write; when a sweep is due take one step (one short transaction), and keep
   * stepping in the background while more is left, so no call pays for a whole sweep.
   */
  #beginWrite(): number {
    const now = readClock(this.#options.now);
    if (now - this.#lastSweep >= AUTO_SWEEP_INTERVAL_MS && this.#sweepMore === undefined) {
      this.#lastSweep = now;
      this.#autoSweep(now);
    }
    return now;
  }

  #autoSweep(now: number): void {
    let more: boolean;
    try {
      more = this.#write('sweep', () => this.#sweepStep(now));
    } catch {
      return; // the next due sweep tries again; availability already says what is wrong
    }
    if (!more || this.#closed) return;
    this.#sweepMore = setTimeout(() => {
      this.#sweepMore = undefined;
      if (!this.#closed) this.#autoSweep(now);
    }, 10);
    this.#sweepMore.unref();
  }

  #head(channel: string): ChannelPosition {
    const row = this.#sql.selectChannel.get(channel);
    return row ? { epoch: row.epoch, offset: row.last } : { epoch: this.#emptyEpoch, offset: 0 };
  }

  #trim(channel: string, last: number, now: number): void {
    const { maxCount, maxAgeMs } = this.#options;
    if (maxCount !== Infinity && last > maxCount) this.#sql.trimByCount.run(channel, last - maxCount);
    if (maxAgeMs !== Infinity) this.#sql.trimByAge.run(channel, ageCutoff(now, maxAgeMs));
  }

  /** A live claim row of `(scope, id)`, `'forgotten'` below the scope's window, else undefined. */
  #claimed(scope: string, id: number, now: number): ClaimRow | 'forgotten' | undefined {
    const maxId = this.#sql.claimWindow.get(scope);
    if (maxId !== undefined && belowWindow(id, maxId, this.#options.maxClaimsPerScope)) return 'forgotten';
    const row = this.#sql.selectClaim.get(scope, id);
    return row && !isExpired(row.expiresAt, now) ? row : undefined;
  }

  /** Write a claim row and keep the scope to its window (a range delete on the primary key). */
  #recordClaim(scope: string, id: number, outcome: MessageOutcome, fingerprint: string | null, expiresAt: number): void {
    const incident = outcome.state === 'failed' ? outcome.incident : null;
    const result = outcome.state === 'done' && outcome.result !== undefined ? encodeData(outcome.result) : null;
    this.#sql.upsertClaim.run(scope, id, outcome.state, incident, result, fingerprint, expiresAt);
    this.#sql.raiseWindow.run(scope, id);
    const maxId = this.#sql.claimWindow.get(scope)!;
    this.#sql.dropBelowWindow.run(scope, maxId - this.#options.maxClaimsPerScope);
  }

  /** Keep an idempotency key, forgetting its scope's oldest beyond `maxKeysPerScope`. */
  #rememberKey(key: string, row: Omit<KeyRow, 'scope'>, scope: string | undefined): void {
    const previous = this.#sql.selectKey.get(key);
    if (previous) {
      this.#sql.deleteKey.run(key);
      if (previous.scope !== null) this.#sql.countKey.run(previous.scope, -1);
    }
    this.#sql.insertKey.run(key, row.channel, row.epoch, row.seq, row.time, row.data, row.expiresAt, scope ?? null);
    if (scope === undefined) return;
    this.#sql.countKey.run(scope, 1);
    while ((this.#sql.keyCount.get(scope) ?? 0) > this.#options.maxKeysPerScope) {
      const oldest = this.#sql.oldestKeyOf.get(scope);
      if (oldest === undefined) break;
      this.#sql.deleteKey.run(oldest);
      this.#sql.countKey.run(scope, -1);
    }
  }

  #makeAppend(): (channel: string, json: string, data: JsonValue, options: AppendOptions | undefined, now: number) => AppendResult {
    const sql = this.#sql;
    const tx = this.#db.transaction((channel: string, json: string, data: JsonValue, options: AppendOptions | undefined, now: number): AppendResult => {
      const key = options?.idempotencyKey;
      if (key !== undefined) {
        const found = sql.selectKey.get(key);
        if (found && !isExpired(found.expiresAt, now)) {
          if (found.channel !== channel || found.data !== json) {
            throw new IdempotencyConflictError(`idempotency key ${key} was used for another message`, { channel: found.channel, epoch: found.epoch, offset: found.seq });
          }
          const message: StoredMessage = { channel: found.channel, epoch: found.epoch, offset: found.seq, data: decodeData(found.data), time: found.time };
          return { message, duplicate: true };
        }
      }
      const claim = options?.claim;
      if (claim !== undefined) {
        const found = this.#claimed(claim.scope, claim.id, now);
        if (found === 'forgotten') throw new IdempotencyWindowError();
        if (found !== undefined) return duplicateOfClaim(outcomeFromRow(found), found.fingerprint ?? undefined, claim.fingerprint, data);
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
      const expiresAt = now + this.#options.dedupeTtlMs;
      if (key !== undefined) this.#rememberKey(key, { channel, epoch: row.epoch, seq: offset, time, data: json, expiresAt }, options?.idempotencyScope);
      if (claim !== undefined) {
        this.#recordClaim(claim.scope, claim.id, { state: 'done', result: { channel, epoch: row.epoch, offset, time } }, claim.fingerprint, expiresAt);
      }
      this.#trim(channel, offset, now);
      return { message: { channel, epoch: row.epoch, offset, data: decodeData(json), time }, duplicate: false };
    });
    return (channel, json, data, options, now) => tx.immediate(channel, json, data, options, now);
  }

  #makeRead(): (channel: string, from: ChannelPosition, limit: number, maxBytes: number, now: number) => ReadResult {
    const sql = this.#sql;
    // Deferred: a read-only snapshot, so the head and the messages agree even with another writer.
    const tx = this.#db.transaction((channel: string, from: ChannelPosition, limit: number, maxBytes: number, now: number): ReadResult => {
      const row = sql.selectChannel.get(channel);
      const head: ChannelPosition = row ? { epoch: row.epoch, offset: row.last } : { epoch: this.#emptyEpoch, offset: 0 };
      const first = row ? (sql.firstRetained.get(channel, ageCutoff(now, this.#options.maxAgeMs)) ?? row.last + 1) : 1;
      const plan = planRead(head, first, from, this.#emptyEpoch);
      const messages: StoredMessage[] = [];
      let more = false;
      if (row) {
        let bytes = 0;
        // Iterated, not fetched whole: a page stops at its byte bound without reading past it.
        for (const r of sql.selectMessages.iterate(channel, Math.max(plan.after, first - 1), limit + 1)) {
          if (messages.length >= limit || bytes >= maxBytes) {
            more = true;
            break;
          }
          bytes += r.data.length;
          messages.push({ channel, epoch: row.epoch, offset: r.seq, data: decodeData(r.data), time: r.time });
        }
      }
      return { messages, complete: plan.complete, more, head };
    });
    return (channel, from, limit, maxBytes, now) => tx.deferred(channel, from, limit, maxBytes, now);
  }

  #makeClaim(): (session: string, messageId: number, options: ClaimOptions | undefined, now: number) => ClaimResult {
    const tx = this.#db.transaction((session: string, messageId: number, options: ClaimOptions | undefined, now: number): ClaimResult => {
      const found = this.#claimed(session, messageId, now);
      if (found === 'forgotten') return { claimed: false, forgotten: true };
      if (found !== undefined) {
        const outcome = outcomeFromRow(found);
        const conflict = options?.fingerprint !== undefined && found.fingerprint !== null && found.fingerprint !== options.fingerprint;
        return conflict ? { claimed: false, outcome, conflict: true } : { claimed: false, outcome };
      }
      const lease = options?.leaseMs ?? this.#options.dedupeTtlMs;
      this.#recordClaim(session, messageId, { state: 'claimed' }, options?.fingerprint ?? null, now + lease);
      return { claimed: true };
    });
    return (session, messageId, options, now) => tx.immediate(session, messageId, options, now);
  }

  #makeFinish(): (session: string, messageId: number, outcome: MessageOutcome, now: number) => void {
    const tx = this.#db.transaction((session: string, messageId: number, outcome: MessageOutcome, now: number): void => {
      const previous = this.#sql.selectClaim.get(session, messageId);
      this.#recordClaim(session, messageId, outcome, previous?.fingerprint ?? null, now + this.#options.dedupeTtlMs);
    });
    return (session, messageId, outcome, now) => tx.immediate(session, messageId, outcome, now);
  }

  #makeSaveSession(): (session: SessionRecord) => void {
    const sql = this.#sql;
    const tx = this.#db.transaction((session: SessionRecord): void => {
      sql.upsertSession.run(session.id, session.tokenHash, session.user ?? null, session.expiresAt);
      sql.deleteSessionChannels.run(session.id);
      session.channels.forEach((channel, i) => {
        const p = session.positions?.[channel];
        sql.insertSessionChannel.run(session.id, channel, i + 1, p?.epoch ?? null, p?.offset ?? null);
      });
    });
    return (session) => tx.immediate(session);
  }

  #makeUpdateSession(): (id: string, patch: SessionPatch, now: number) => boolean {
    const sql = this.#sql;
    const tx = this.#db.transaction((id: string, patch: SessionPatch, now: number): boolean => {
      const row = sql.selectSession.get(id);
      if (!row || isExpired(row.expiresAt, now)) return false;
      if (patch.expiresAt !== undefined) sql.touchSession.run(patch.expiresAt, id);
      for (const channel of patch.unsubscribe ?? []) sql.deleteSessionChannel.run(id, channel);
      for (const { channel, position } of patch.subscribe ?? []) {
        if (sql.hasSessionChannel.get(id, channel) === undefined) {
          sql.insertSessionChannel.run(id, channel, sql.nextChannelSeq.get(id)!, position?.epoch ?? null, position?.offset ?? null);
        } else if (position !== undefined) {
          sql.positionSessionChannel.run(position.epoch, position.offset, id, channel);
        }
      }
      return true;
    });
    return (id, patch, now) => tx.immediate(id, patch, now);
  }

  /**
   * One sweep step: at most {@link SWEEP_BATCH} expired records of each kind and aged-out messages, in
   * one transaction, whatever the number of channels. Returns whether more may be left.
   */
  #makeSweepStep(): (now: number) => boolean {
    const sql = this.#sql;
    const tx = this.#db.transaction((now: number): boolean => {
      let more = false;
      const keys = sql.expireKeys.all(now, SWEEP_BATCH);
      more ||= keys.length === SWEEP_BATCH;
      const scopes = new Map<string, number>();
      for (const { scope } of keys) if (scope !== null) scopes.set(scope, (scopes.get(scope) ?? 0) + 1);
      for (const [scope, n] of scopes) sql.countKey.run(scope, -n);
      if (scopes.size > 0) sql.dropEmptyKeyScopes.run();
      const claims = sql.expireClaims.all(now, SWEEP_BATCH);
      more ||= claims.length === SWEEP_BATCH;
      // A scope with no claims left forgets its window too: none of its ids is remembered anyway.
      for (const session of new Set(claims.map((c) => c.session))) if (sql.claimsLeft.get(session) === undefined) sql.deleteWindowOf.run(session);
      const sessions = sql.expireSessions.all(now, SWEEP_BATCH);
      more ||= sessions.length === SWEEP_BATCH;
      for (const { id } of sessions) sql.deleteSessionChannels.run(id);
      if (this.#options.maxAgeMs !== Infinity) {
        const trimmed = sql.trimAllByAge.run(ageCutoff(now, this.#options.maxAgeMs), SWEEP_BATCH);
        more ||= trimmed.changes === SWEEP_BATCH;
      }
      return more;
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
