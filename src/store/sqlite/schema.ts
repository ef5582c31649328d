/**
 * The SQLite engine's schema, its versions, and the migration that brings an older file up to date.
 * @packageDocumentation
 */
import type Database from 'better-sqlite3';
import { StoreError } from '../errors.js';

/** The schema version this code writes (`PRAGMA user_version`). */
export const SQLITE_SCHEMA_VERSION = 3;

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

/**
 * Version 3: presence.
 * - `presence`: one row per member of a channel (a session), held by a node's connection, or by nobody
 *   until its `deadline`; the primary key orders a channel's members by session, as pages are cut.
 * - `presence_nodes`: each server process's lease; a node whose lease ran out has its members detached.
 * - `session_channels.presence`: the session's presence in the channel (JSON `{info?, events?}`), so a
 *   resume restores it.
 */
const SCHEMA_V3 = `
CREATE TABLE IF NOT EXISTS presence (
  channel    TEXT NOT NULL,
  session    TEXT NOT NULL,
  user       TEXT,
  info       TEXT,                -- JSON
  node       TEXT,                -- the holder's node; NULL while nobody holds it
  connection TEXT,                -- the holder's connection
  deadline   INTEGER,             -- when it leaves, while nobody holds it
  grace_ms   INTEGER NOT NULL,    -- its grace, counted from its node's lease's end if the node dies
  PRIMARY KEY (channel, session)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS presence_by_node ON presence (node) WHERE node IS NOT NULL;
CREATE INDEX IF NOT EXISTS presence_by_deadline ON presence (deadline) WHERE node IS NULL;
CREATE TABLE IF NOT EXISTS presence_nodes (node TEXT PRIMARY KEY, expires_at INTEGER NOT NULL) WITHOUT ROWID;
ALTER TABLE session_channels ADD COLUMN presence TEXT;
`;

/**
 * Rows of `fanout` kept: the append trigger drops the oldest beyond this. A process reading the feed
 * that falls further behind than this (its event loop blocked while that many appends landed) notices
 * the hole and falls back to each changed channel's newest message (`fanout.ts`).
 */
export const FANOUT_ROWS_KEPT = 65_536;

/**
 * The cross-process fan-out feed: a row per appended message, in commit order, written by a trigger on
 * `messages` and so by every process on the file, whatever version of lifeline it runs (a process of
 * an older version that opened the file before these objects existed fires the trigger too). The ids are
 * contiguous (`INTEGER PRIMARY KEY` is max + 1 and only the oldest rows are deleted), so a reader that
 * finds a hole knows it fell behind the trimming.
 *
 * Additive, outside the version number on purpose: older versions of lifeline ignore them, so a file
 * stays usable by the previous release and a zero-dark restart can roll back.
 */
const FANOUT_OBJECTS = `
CREATE TABLE IF NOT EXISTS fanout (
  id      INTEGER PRIMARY KEY,
  channel TEXT NOT NULL,
  seq     INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS messages_fanout AFTER INSERT ON messages BEGIN
  INSERT INTO fanout (channel, seq) VALUES (NEW.channel, NEW.seq);
  DELETE FROM fanout WHERE id <= last_insert_rowid() - ${FANOUT_ROWS_KEPT};
END;
`;

/** Rows of `presence_feed` kept: the presence triggers drop the oldest beyond this (see {@link FANOUT_ROWS_KEPT}). */
export const PRESENCE_FEED_ROWS_KEPT = 65_536;

/**
 * The cross-process presence feed, the same way as the fan-out feed: a row per change of membership (a
 * new member: a row inserted into `presence`; a member gone: a row deleted), written by triggers in the
 * changing transaction, whichever process (and version of lifeline) changes the table. Each change is
 * counted in its channel's version (`presence_versions`: an epoch made when the channel gets a member
 * with no version kept, and `seq`, one more per change), which the feed row carries: a process that
 * missed rows (it fell behind the trimming) reads the channel again and tells the difference. A channel's
 * version goes with its last member. Additive, outside the version number, as the fan-out feed.
 */
const PRESENCE_FEED_OBJECTS = `
CREATE TABLE IF NOT EXISTS presence_versions (
  channel TEXT PRIMARY KEY,
  epoch   TEXT NOT NULL,
  seq     INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS presence_feed (
  id      INTEGER PRIMARY KEY,
  kind    TEXT NOT NULL,            -- join | leave
  channel TEXT NOT NULL,
  session TEXT NOT NULL,
  user    TEXT,
  info    TEXT,                     -- JSON
  epoch   TEXT NOT NULL,
  seq     INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS presence_feed_joins AFTER INSERT ON presence BEGIN
  INSERT INTO presence_versions (channel, epoch, seq) VALUES (NEW.channel, lower(hex(randomblob(8))), 1)
    ON CONFLICT (channel) DO UPDATE SET seq = seq + 1;
  INSERT INTO presence_feed (kind, channel, session, user, info, epoch, seq)
    SELECT 'join', NEW.channel, NEW.session, NEW.user, NEW.info, epoch, seq FROM presence_versions WHERE channel = NEW.channel;
  DELETE FROM presence_feed WHERE id <= last_insert_rowid() - ${PRESENCE_FEED_ROWS_KEPT};
END;
CREATE TRIGGER IF NOT EXISTS presence_feed_leaves AFTER DELETE ON presence BEGIN
  INSERT INTO presence_versions (channel, epoch, seq) VALUES (OLD.channel, lower(hex(randomblob(8))), 1)
    ON CONFLICT (channel) DO UPDATE SET seq = seq + 1;
  INSERT INTO presence_feed (kind, channel, session, user, info, epoch, seq)
    SELECT 'leave', OLD.channel, OLD.session, OLD.user, OLD.info, epoch, seq FROM presence_versions WHERE channel = OLD.channel;
  DELETE FROM presence_feed WHERE id <= last_insert_rowid() - ${PRESENCE_FEED_ROWS_KEPT};
  DELETE FROM presence_versions WHERE channel = OLD.channel AND NOT EXISTS (SELECT 1 FROM presence WHERE channel = OLD.channel);
END;
`;

/** Create additive objects when some are missing (under the write lock: several processes may open at once). */
function ensureObjects(db: Database.Database, names: readonly string[], sql: string): void {
  const list = names.map((n) => `'${n}'`).join(', ');
  const present = (): number => db.prepare<[], number>(`SELECT COUNT(*) FROM sqlite_master WHERE name IN (${list})`).pluck().get()!;
  if (present() === names.length) return;
  db.transaction(() => {
    if (present() !== names.length) db.exec(sql);
  }).immediate();
}

/**
 * Create or upgrade the schema, the fan-out feed and the presence feed; refuse a file written by a newer
 * version. Safe when several processes open the same file at once: every change happens under the write
 * lock (`BEGIN IMMEDIATE`, waiting up to the busy timeout), after reading the version again.
 */
export function migrate(db: Database.Database): void {
  migrateTables(db);
  ensureObjects(db, ['fanout', 'messages_fanout'], FANOUT_OBJECTS);
  ensureObjects(db, ['presence_versions', 'presence_feed', 'presence_feed_joins', 'presence_feed_leaves'], PRESENCE_FEED_OBJECTS);
}

function migrateTables(db: Database.Database): void {
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
    if (found < 2) migrateToV2(db);
    db.exec(SCHEMA_V3);
    db.pragma(`user_version = ${SQLITE_SCHEMA_VERSION}`);
  }).immediate();
}


/** Version 1 to 2, inside the migration's transaction. */
function migrateToV2(db: Database.Database): void {
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
}
