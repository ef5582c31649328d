/**
 * Sessions in Redis: a hash per session (the record as JSON, its expiry) and a hash of its channels (each
 * with its position and the session's presence there), so a `sub` writes one field, not the whole session
 * (see SAVE_SESSION_LUA, UPDATE_SESSION_LUA).
 * @packageDocumentation
 */
import { StoreError, StoreUnavailableError } from '../errors.js';
import { bareRecord, copySession, decodeData, encodeData } from '../records.js';
import { isExpired } from '../rules.js';
import type { ChannelPosition, JsonValue, SessionPatch, SessionPresence, SessionRecord } from '../types.js';
import type { RedisContext } from './context.js';
import { keyPart, pxFor } from './keys.js';

/** A session as stored (its channels and expiry are kept beside it). */
interface SessionJson {
  id: string;
  tokenHash: string;
  user?: string;
}

/**
 * The channels of a session as the scripts take them: triples of (key part, `epoch|offset` or '',
 * presence as JSON or ''). Each channel's value in Redis is `seq|epoch|offset|presence` (epoch, offset and
 * presence may be empty; values written before presence end after the offset).
 */
function channelArgs(channels: readonly { channel: string; position?: ChannelPosition | undefined; presence?: SessionPresence | undefined }[]): string[] {
  return channels.flatMap(({ channel, position, presence }) => [
    keyPart(channel),
    position ? `${position.epoch}|${position.offset}` : '',
    presence === undefined ? '' : encodeData(presence as JsonValue),
  ]);
}

/** A channel's value (`seq|epoch|offset|presence`, see {@link channelArgs}) read back. */
function channelValue(value: string): { seq: number; position?: ChannelPosition; presence?: SessionPresence } {
  const bar1 = value.indexOf('|');
  const seq = Number(bar1 === -1 ? value : value.slice(0, bar1));
  const rest = bar1 === -1 ? '' : value.slice(bar1 + 1);
  const bar2 = rest.indexOf('|');
  const epoch = bar2 === -1 ? rest : rest.slice(0, bar2);
  const afterEpoch = bar2 === -1 ? '' : rest.slice(bar2 + 1);
  const bar3 = afterEpoch.indexOf('|');
  const offset = bar3 === -1 ? afterEpoch : afterEpoch.slice(0, bar3);
  const presence = bar3 === -1 ? '' : afterEpoch.slice(bar3 + 1);
  return {
    seq,
    ...(epoch !== '' ? { position: { epoch, offset: Number(offset) } } : {}),
    ...(presence !== '' ? { presence: decodeData(presence) as SessionPresence } : {}),
  };
}

/** `saveSession`: the record and all its channels replaced, with a Redis expiry after its own. */
export async function saveSession({ connection, keys: k }: RedisContext, session: SessionRecord, now: number): Promise<void> {
  const record: SessionJson = { id: session.id, tokenHash: session.tokenHash, ...(session.user === undefined ? {} : { user: session.user }) };
  const channels = session.channels.map((channel) => ({ channel, position: session.positions?.[channel], presence: session.presence?.[channel] }));
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
  const entries: { channel: string; seq: number; position?: ChannelPosition; presence?: SessionPresence }[] = [];
  for (const [field, value] of Object.entries(fields)) {
    if (field === '') continue;
    entries.push({ channel: JSON.parse(`"${field}"`) as string, ...channelValue(value) });
  }
  entries.sort((a, b) => a.seq - b.seq);
  const positions = bareRecord<ChannelPosition>();
  const presence = bareRecord<SessionPresence>();
  for (const e of entries) {
    if (e.position) positions[e.channel] = e.position;
    if (e.presence) presence[e.channel] = e.presence;
  }
  return copySession({ id: record.id, tokenHash: record.tokenHash, ...(record.user === undefined ? {} : { user: record.user }), channels: entries.map((e) => e.channel), positions, presence, expiresAt });
}

/** `deleteSession`: the session, its channels and its claims (see DELETE_SESSION_LUA). */
export async function deleteSession({ connection, keys: k }: RedisContext, id: string): Promise<void> {
  await connection.exec('deleteSession', () =>
    connection.script('lifelineDeleteSession')(k.session(id), k.claims(id), k.sessionChannels(id), k.claimHead(id)),
  );
}
