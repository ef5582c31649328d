/**
 * Sessions in Redis: a hash per session (the record as JSON, its expiry) and a hash of its channels, so
 * a `sub` writes one field, not the whole session (see SAVE_SESSION_LUA, UPDATE_SESSION_LUA).
 * @packageDocumentation
 */
import { StoreError, StoreUnavailableError } from '../errors.js';
import { bareRecord, copySession } from '../records.js';
import { isExpired } from '../rules.js';
import type { ChannelPosition, SessionPatch, SessionRecord } from '../types.js';
import type { RedisContext } from './context.js';
import { keyPart, pxFor } from './keys.js';

/** A session as stored (its channels and expiry are kept beside it). */
interface SessionJson {
  id: string;
  tokenHash: string;
  user?: string;
}

/** The channels of a session as the scripts take them: pairs of (key part, `epoch|offset` or ''). */
function channelArgs(channels: readonly { channel: string; position?: ChannelPosition | undefined }[]): string[] {
  return channels.flatMap(({ channel, position }) => [keyPart(channel), position ? `${position.epoch}|${position.offset}` : '']);
}

/** `saveSession`: the record and all its channels replaced, with a Redis expiry after its own. */
export async function saveSession({ connection, keys: k }: RedisContext, session: SessionRecord, now: number): Promise<void> {
  const record: SessionJson = { id: session.id, tokenHash: session.tokenHash, ...(session.user === undefined ? {} : { user: session.user }) };
  const channels = session.channels.map((channel) => ({ channel, position: session.positions?.[channel] }));
  await connection.exec('saveSession', () =>
    connection.script('lifelineSaveSession')(
      k.session(session.id),
      k.sessionChannels(session.id),
      JSON.stringify(record),
      String(session.expiresAt),
      pxFor(session.expiresAt - now),
      ...channelArgs(channels),
    ),
  );
}

/** `updateSession`: a field per channel added or removed. */
export async function updateSession({ connection, keys: k }: RedisContext, id: string, patch: SessionPatch, now: number): Promise<boolean> {
  const expiresAt = patch.expiresAt;
  const removing = patch.unsubscribe ?? [];
  const changed = await connection.exec('updateSession', () =>
    connection.script('lifelineUpdateSession')(
      k.session(id),
      k.sessionChannels(id),
      String(now),
      expiresAt === undefined ? '' : String(expiresAt),
      expiresAt === undefined ? '' : pxFor(expiresAt - now),
      String(removing.length),
      ...removing.map(keyPart),
      ...channelArgs(patch.subscribe ?? []),
    ),
  );
  return Number(changed) === 1;
}

/** `loadSession`: both hashes in one MULTI, the channels back in subscription order. */
export async function loadSession({ connection, keys: k }: RedisContext, id: string, now: number): Promise<SessionRecord | undefined> {
  const [stored, fields] = await connection.exec('loadSession', async () => {
    const replies = await connection.client.multi().hgetall(k.session(id)).hgetall(k.sessionChannels(id)).exec();
    if (!replies) throw new StoreUnavailableError('redis store: loadSession was aborted');
    for (const [error] of replies) if (error) throw error;
    return [replies[0]![1] as Record<string, string>, replies[1]![1] as Record<string, string>];
  });
  if (stored.r === undefined || stored.e === undefined) return undefined;
  let record: SessionJson;
  try {
    record = JSON.parse(stored.r) as SessionJson;
  } catch (error) {
    throw new StoreError(`redis store: the session record ${id} is not valid JSON`, { cause: error });
  }
  const expiresAt = Number(stored.e);
  if (isExpired(expiresAt, now)) return undefined;
  const entries: { channel: string; seq: number; position?: ChannelPosition }[] = [];
  for (const [field, value] of Object.entries(fields)) {
    if (field === '') continue;
    const [seq, epoch, offset] = value.split('|') as [string, string | undefined, string | undefined];
    entries.push({ channel: JSON.parse(`"${field}"`) as string, seq: Number(seq), ...(epoch ? { position: { epoch, offset: Number(offset) } } : {}) });
  }
  entries.sort((a, b) => a.seq - b.seq);
  const positions = bareRecord<ChannelPosition>();
  for (const e of entries) if (e.position) positions[e.channel] = e.position;
  return copySession({ id: record.id, tokenHash: record.tokenHash, ...(record.user === undefined ? {} : { user: record.user }), channels: entries.map((e) => e.channel), positions, expiresAt });
}

/** `deleteSession`: the session, its channels and its claims (see DELETE_SESSION_LUA). */
export async function deleteSession({ connection, keys: k }: RedisContext, id: string): Promise<void> {
  await connection.exec('deleteSession', () =>
    connection.script('lifelineDeleteSession')(k.session(id), k.claims(id), k.sessionChannels(id), k.claimHead(id)),
  );
}
