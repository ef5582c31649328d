/**
 * Sessions in SQLite: a row per session in `sessions`, a row per subscription in `session_channels`,
 * so a `sub` writes one row, not the whole session.
 * @packageDocumentation
 */
import { bareRecord, copySession, decodeData, encodeData } from '../records.js';
import { isExpired } from '../rules.js';
import type { ChannelPosition, SessionPatch, SessionPresence, SessionRecord } from '../types.js';
import type { SqliteContext } from './open.js';

/** `saveSession` as one write transaction: the session row and all its channel rows replaced. */
export function saveSessionTransaction(ctx: SqliteContext): (session: SessionRecord) => void {
  const { sql } = ctx;
  const tx = ctx.db.transaction((session: SessionRecord): void => {
    sql.upsertSession.run(session.id, session.tokenHash, session.user ?? null, session.expiresAt);
    sql.deleteSessionChannels.run(session.id);
    session.channels.forEach((channel, i) => {
      const p = session.positions?.[channel];
      sql.insertSessionChannel.run(session.id, channel, i + 1, p?.epoch ?? null, p?.offset ?? null, presenceText(session.presence?.[channel]));
    });
  });
  return (session) => tx.immediate(session);
}

/** `updateSession` as one write transaction: a row per channel added or removed. */
export function updateSessionTransaction(ctx: SqliteContext): (id: string, patch: SessionPatch, now: number) => boolean {
  const { sql } = ctx;
  const tx = ctx.db.transaction((id: string, patch: SessionPatch, now: number): boolean => {
    const row = sql.selectSession.get(id);
    if (!row || isExpired(row.expiresAt, now)) return false;
    if (patch.expiresAt !== undefined) sql.touchSession.run(patch.expiresAt, id);
    for (const channel of patch.unsubscribe ?? []) sql.deleteSessionChannel.run(id, channel);
    for (const { channel, position, presence } of patch.subscribe ?? []) {
      if (sql.hasSessionChannel.get(id, channel) === undefined) {
        sql.insertSessionChannel.run(id, channel, sql.nextChannelSeq.get(id)!, position?.epoch ?? null, position?.offset ?? null, presenceText(presence));
        continue;
      }
      if (position !== undefined) sql.positionSessionChannel.run(position.epoch, position.offset, id, channel);
      if (presence !== undefined) sql.presenceSessionChannel.run(presenceText(presence)!, id, channel);
    }
    return true;
  });
  return (id, patch, now) => tx.immediate(id, patch, now);
}

/** `deleteSession` as one write transaction: the session, its channels, its claims and its claim window. */
export function deleteSessionTransaction(ctx: SqliteContext): (id: string) => void {
  const { sql } = ctx;
  const tx = ctx.db.transaction((id: string): void => {
    sql.deleteSession.run(id);
    sql.deleteSessionChannels.run(id);
    sql.deleteClaimsOf.run(id);
    sql.deleteWindowOf.run(id);
  });
  return (id) => tx.immediate(id);
}

/** `loadSession`: the session with its channels in subscription order, unless unknown or expired. */
export function loadSession({ sql }: SqliteContext, id: string, now: number): SessionRecord | undefined {
  const row = sql.selectSession.get(id);
  if (!row || isExpired(row.expiresAt, now)) return undefined;
  const channels: string[] = [];
  const positions = bareRecord<ChannelPosition>();
  const presence = bareRecord<SessionPresence>();
  for (const c of sql.selectSessionChannels.all(id)) {
    channels.push(c.channel);
    if (c.epoch !== null && c.offset !== null) positions[c.channel] = { epoch: c.epoch, offset: c.offset };
    if (c.presence !== null) presence[c.channel] = decodeData(c.presence) as SessionPresence;
  }
  return copySession({
    id: row.id,
    tokenHash: row.tokenHash,
    channels,
    positions,
    presence,
    expiresAt: row.expiresAt,
    ...(row.user === null ? {} : { user: row.user }),
  });
}

/** A session's presence in a channel as its column holds it: JSON text, NULL for none. */
function presenceText(presence: SessionPresence | undefined): string | null {
  return presence === undefined ? null : encodeData(presence as Parameters<typeof encodeData>[0]);
}
