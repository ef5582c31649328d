/**
 * Every SQL statement of the SQLite engine, prepared once per database, and the rows they return.
 * @packageDocumentation
 */
import type Database from 'better-sqlite3';

/** A row of `channels`: a written channel's epoch, newest offset and newest time. */
export interface ChannelRow {
  epoch: string;
  last: number;
  lastTime: number | null;
}
/** A row of `messages` as reads return it. */
export interface MessageRow {
  seq: number;
  time: number;
  data: string;
}
/** A row of `idempotency_keys`: the first message stored under a key, a copy that outlives history. */
export interface KeyRow {
  channel: string;
  epoch: string;
  seq: number;
  time: number;
  data: string;
  expiresAt: number;
  scope: string | null;
}
/** A row of `sessions` (its channels are rows of `session_channels`). */
export interface SessionRow {
  id: string;
  tokenHash: string;
  user: string | null;
  expiresAt: number;
}
/** A row of `session_channels`: one subscription, the position to restore it from, the session's presence there. */
export interface SessionChannelRow {
  channel: string;
  epoch: string | null;
  offset: number | null;
  /** JSON `{info?, events?}`; NULL: not a member. */
  presence: string | null;
}
/** A presence member as pages and leaves return it. */
export interface MemberRow {
  channel: string;
  session: string;
  user: string | null;
  info: string | null;
}
/** A row of `message_claims`: one client message id's outcome. */
export interface ClaimRow {
  state: string;
  incident: string | null;
  result: string | null;
  fingerprint: string | null;
  expiresAt: number;
}

/** A row of the fan-out feed joined with its message (`data`/`time` null when history already dropped it). */
export interface FanoutRow {
  id: number;
  channel: string;
  seq: number;
  epoch: string;
  time: number | null;
  data: string | null;
}
/** A channel's newest message, for a feed reader that fell behind. */
export interface NewestRow {
  channel: string;
  epoch: string;
  seq: number;
  time: number;
  data: string;
}

/** A prepared statement taking the parameters `P` and giving rows `R`. */
export type Statement<P extends unknown[] = [], R = unknown> = Database.Statement<P, R>;

/** The prepared statements of one database: their parameters and their rows. */
export interface Statements {
  readonly selectChannel: Statement<[string], ChannelRow>;
  readonly insertChannel: Statement<[string, string]>;
  readonly advanceChannel: Statement<[number, number, string]>;
  readonly insertMessage: Statement<[string, number, number, string]>;
  readonly trimByCount: Statement<[string, number]>;
  readonly trimByAge: Statement<[string, number]>;
  readonly trimAllByAge: Statement<[number, number]>;
  readonly firstRetained: Statement<[string, number], number>;
  readonly selectMessages: Statement<[string, number, number], MessageRow>;
  readonly selectMeta: Statement<[string], string>;
  readonly insertMeta: Statement<[string, string]>;
  readonly upsertMeta: Statement<[string, string]>;
  readonly selectKey: Statement<[string], KeyRow>;
  readonly deleteKey: Statement<[string]>;
  readonly insertKey: Statement<[string, string, string, number, number, string, number, string | null]>;
  readonly oldestKeyOf: Statement<[string], string>;
  readonly countKey: Statement<[string, number]>;
  readonly keyCount: Statement<[string], number>;
  readonly dropEmptyKeyScopes: Statement;
  readonly expireKeys: Statement<[number, number], { scope: string | null }>;
  readonly upsertSession: Statement<[string, string, string | null, number]>;
  readonly selectSession: Statement<[string], SessionRow>;
  readonly touchSession: Statement<[number, string]>;
  readonly deleteSession: Statement<[string]>;
  readonly expireSessions: Statement<[number, number], { id: string }>;
  readonly selectSessionChannels: Statement<[string], SessionChannelRow>;
  readonly nextChannelSeq: Statement<[string], number>;
  readonly hasSessionChannel: Statement<[string, string], number>;
  readonly insertSessionChannel: Statement<[string, string, number, string | null, number | null, string | null]>;
  readonly presenceSessionChannel: Statement<[string, string, string]>;
  readonly positionSessionChannel: Statement<[string, number, string, string]>;
  readonly deleteSessionChannel: Statement<[string, string]>;
  readonly deleteSessionChannels: Statement<[string]>;
  readonly selectClaim: Statement<[string, number], ClaimRow>;
  readonly upsertClaim: Statement<[string, number, string, string | null, string | null, string | null, number]>;
  readonly claimWindow: Statement<[string], number>;
  readonly raiseWindow: Statement<[string, number]>;
  readonly dropBelowWindow: Statement<[string, number]>;
  readonly deleteClaimsOf: Statement<[string]>;
  readonly deleteWindowOf: Statement<[string]>;
  readonly expireClaims: Statement<[number, number], { session: string }>;
  readonly claimsLeft: Statement<[string], number>;
  readonly selectMemberHolder: Statement<[string, string], { node: string | null }>;
  readonly countMembers: Statement<[string], number>;
  readonly insertMember: Statement<[string, string, string | null, string | null, string, string, number]>;
  readonly holdMember: Statement<[string | null, string | null, string, string, number, string, string]>;
  readonly detachMember: Statement<[number, string, string, string, string]>;
  readonly leaveMember: Statement<[string, string], MemberRow>;
  readonly leaveHeldMember: Statement<[string, string, string, string], MemberRow>;
  readonly selectMembers: Statement<[string, string, number], MemberRow>;
  readonly expireMembers: Statement<[number, number], MemberRow>;
  readonly countAllMembers: Statement<[], number>;
  readonly selectLease: Statement<[string], number>;
  readonly upsertLease: Statement<[string, number]>;
  readonly placeholderLease: Statement<[string, number]>;
  readonly expiredLeases: Statement<[number], { node: string; expiresAt: number }>;
  readonly orphanMembers: Statement<[number, string]>;
  readonly deleteLease: Statement<[string]>;
  readonly dataVersion: Statement<[], number>;
  readonly lastFanoutId: Statement<[], number>;
  readonly firstFanoutId: Statement<[], number>;
  readonly fanoutAfter: Statement<[number, number], FanoutRow>;
  readonly newestSince: Statement<[number], NewestRow>;
}

/** Prepare every statement of the engine on `db` (its schema must be current). */
export function prepareStatements(db: Database.Database): Statements {
  return {
    selectChannel: db.prepare('SELECT epoch, last_offset AS last, last_time AS lastTime FROM channels WHERE name = ?'),
    insertChannel: db.prepare('INSERT INTO channels (name, epoch, last_offset, last_time) VALUES (?, ?, 0, NULL)'),
    advanceChannel: db.prepare('UPDATE channels SET last_offset = ?, last_time = ? WHERE name = ?'),
    insertMessage: db.prepare('INSERT INTO messages (channel, seq, time, data) VALUES (?, ?, ?, ?)'),
    trimByCount: db.prepare('DELETE FROM messages WHERE channel = ? AND seq <= ?'),
    trimByAge: db.prepare('DELETE FROM messages WHERE channel = ? AND time < ?'),
    // Times are non-decreasing in seq within a channel, so this drops a prefix of every channel.
    trimAllByAge: db.prepare('DELETE FROM messages WHERE rowid IN (SELECT rowid FROM messages WHERE time < ? LIMIT ?)'),
    // Times are non-decreasing in seq, so the first row by (time, seq) is the oldest retained one.
    firstRetained: db
      .prepare<[string, number], number>('SELECT seq FROM messages WHERE channel = ? AND time >= ? ORDER BY time, seq LIMIT 1')
      .pluck(),
    selectMessages: db.prepare('SELECT seq, time, data FROM messages WHERE channel = ? AND seq > ? ORDER BY seq LIMIT ?'),
    selectMeta: db.prepare<[string], string>('SELECT value FROM meta WHERE key = ?').pluck(),
    insertMeta: db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)'),
    upsertMeta: db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)'),
    selectKey: db.prepare('SELECT channel, epoch, seq, time, data, expires_at AS expiresAt, scope FROM idempotency_keys WHERE key = ?'),
    deleteKey: db.prepare('DELETE FROM idempotency_keys WHERE key = ?'),
    insertKey: db.prepare('INSERT INTO idempotency_keys (key, channel, epoch, seq, time, data, expires_at, scope) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
    oldestKeyOf: db.prepare<[string], string>('SELECT key FROM idempotency_keys WHERE scope = ? ORDER BY expires_at LIMIT 1').pluck(),
    countKey: db.prepare('INSERT INTO key_scopes (scope, count) VALUES (?, ?) ON CONFLICT (scope) DO UPDATE SET count = count + excluded.count'),
    keyCount: db.prepare<[string], number>('SELECT count FROM key_scopes WHERE scope = ?').pluck(),
    dropEmptyKeyScopes: db.prepare('DELETE FROM key_scopes WHERE count <= 0'),
    expireKeys: db.prepare('DELETE FROM idempotency_keys WHERE key IN (SELECT key FROM idempotency_keys WHERE expires_at <= ? LIMIT ?) RETURNING scope'),
    upsertSession: db.prepare("INSERT OR REPLACE INTO sessions (id, token_hash, user, channels, expires_at) VALUES (?, ?, ?, '[]', ?)"),
    selectSession: db.prepare('SELECT id, token_hash AS tokenHash, user, expires_at AS expiresAt FROM sessions WHERE id = ?'),
    touchSession: db.prepare('UPDATE sessions SET expires_at = ? WHERE id = ?'),
    deleteSession: db.prepare('DELETE FROM sessions WHERE id = ?'),
    expireSessions: db.prepare('DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE expires_at <= ? LIMIT ?) RETURNING id'),
    selectSessionChannels: db.prepare('SELECT channel, epoch, offset, presence FROM session_channels WHERE session = ? ORDER BY seq'),
    nextChannelSeq: db.prepare<[string], number>('SELECT COALESCE(MAX(seq), 0) + 1 FROM session_channels WHERE session = ?').pluck(),
    hasSessionChannel: db.prepare<[string, string], number>('SELECT 1 FROM session_channels WHERE session = ? AND channel = ?').pluck(),
    insertSessionChannel: db.prepare('INSERT INTO session_channels (session, channel, seq, epoch, offset, presence) VALUES (?, ?, ?, ?, ?, ?)'),
    presenceSessionChannel: db.prepare('UPDATE session_channels SET presence = ? WHERE session = ? AND channel = ?'),
    positionSessionChannel: db.prepare('UPDATE session_channels SET epoch = ?, offset = ? WHERE session = ? AND channel = ?'),
    deleteSessionChannel: db.prepare('DELETE FROM session_channels WHERE session = ? AND channel = ?'),
    deleteSessionChannels: db.prepare('DELETE FROM session_channels WHERE session = ?'),
    selectClaim: db.prepare('SELECT state, incident, result, fingerprint, expires_at AS expiresAt FROM message_claims WHERE session = ? AND message_id = ?'),
    upsertClaim: db.prepare('INSERT OR REPLACE INTO message_claims (session, message_id, state, incident, result, fingerprint, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)'),
    claimWindow: db.prepare<[string], number>('SELECT max_id FROM claim_scopes WHERE scope = ?').pluck(),
    raiseWindow: db.prepare('INSERT INTO claim_scopes (scope, max_id) VALUES (?, ?) ON CONFLICT (scope) DO UPDATE SET max_id = MAX(max_id, excluded.max_id)'),
    dropBelowWindow: db.prepare('DELETE FROM message_claims WHERE session = ? AND message_id <= ?'),
    deleteClaimsOf: db.prepare('DELETE FROM message_claims WHERE session = ?'),
    deleteWindowOf: db.prepare('DELETE FROM claim_scopes WHERE scope = ?'),
    expireClaims: db.prepare('DELETE FROM message_claims WHERE (session, message_id) IN (SELECT session, message_id FROM message_claims WHERE expires_at <= ? LIMIT ?) RETURNING session'),
    claimsLeft: db.prepare<[string], number>('SELECT 1 FROM message_claims WHERE session = ? LIMIT 1').pluck(),
    selectMemberHolder: db.prepare('SELECT node FROM presence WHERE channel = ? AND session = ?'),
    countMembers: db.prepare<[string], number>('SELECT COUNT(*) FROM presence WHERE channel = ?').pluck(),
    insertMember: db.prepare('INSERT INTO presence (channel, session, user, info, node, connection, deadline, grace_ms) VALUES (?, ?, ?, ?, ?, ?, NULL, ?)'),
    holdMember: db.prepare('UPDATE presence SET user = ?, info = ?, node = ?, connection = ?, deadline = NULL, grace_ms = ? WHERE channel = ? AND session = ?'),
    detachMember: db.prepare('UPDATE presence SET node = NULL, connection = NULL, deadline = ? WHERE channel = ? AND session = ? AND node = ? AND connection = ?'),
    leaveMember: db.prepare('DELETE FROM presence WHERE channel = ? AND session = ? RETURNING channel, session, user, info'),
    leaveHeldMember: db.prepare('DELETE FROM presence WHERE channel = ? AND session = ? AND node = ? AND connection = ? RETURNING channel, session, user, info'),
    selectMembers: db.prepare('SELECT channel, session, user, info FROM presence WHERE channel = ? AND session > ? ORDER BY session LIMIT ?'),
    // Claimed by the delete itself: two processes sweeping at once never both return one member.
    expireMembers: db.prepare(
      'DELETE FROM presence WHERE (channel, session) IN (SELECT channel, session FROM presence WHERE node IS NULL AND deadline <= ? LIMIT ?) RETURNING channel, session, user, info',
    ),
    countAllMembers: db.prepare<[], number>('SELECT COUNT(*) FROM presence').pluck(),
    selectLease: db.prepare<[string], number>('SELECT expires_at FROM presence_nodes WHERE node = ?').pluck(),
    upsertLease: db.prepare('INSERT INTO presence_nodes (node, expires_at) VALUES (?, ?) ON CONFLICT (node) DO UPDATE SET expires_at = excluded.expires_at'),
    placeholderLease: db.prepare('INSERT OR IGNORE INTO presence_nodes (node, expires_at) VALUES (?, ?)'),
    expiredLeases: db.prepare('SELECT node, expires_at AS expiresAt FROM presence_nodes WHERE expires_at <= ?'),
    // The grace of a dead node's members counts from its lease's end (presence-rules.ts, orphanDeadline).
    orphanMembers: db.prepare('UPDATE presence SET node = NULL, connection = NULL, deadline = ? + grace_ms WHERE node = ?'),
    deleteLease: db.prepare('DELETE FROM presence_nodes WHERE node = ?'),
    // Changes when another connection (another process) committed since this connection last asked.
    dataVersion: db.prepare<[], number>('PRAGMA data_version').pluck(),
    lastFanoutId: db.prepare<[], number>('SELECT COALESCE(MAX(id), 0) FROM fanout').pluck(),
    firstFanoutId: db.prepare<[], number>('SELECT COALESCE(MIN(id), 0) FROM fanout').pluck(),
    fanoutAfter: db.prepare(
      'SELECT f.id, f.channel, f.seq, c.epoch, m.time, m.data FROM fanout f JOIN channels c ON c.name = f.channel ' +
        'LEFT JOIN messages m ON m.channel = f.channel AND m.seq = f.seq WHERE f.id > ? ORDER BY f.id LIMIT ?',
    ),
    // A scan of the channels table: only for a feed reader that fell behind the trimming (rare).
    newestSince: db.prepare(
      'SELECT c.name AS channel, c.epoch, m.seq, m.time, m.data FROM channels c JOIN messages m ON m.channel = c.name AND m.seq = c.last_offset WHERE c.last_time >= ?',
    ),
  };
}

