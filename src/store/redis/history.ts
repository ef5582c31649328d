/**
 * Channel history in Redis: appends (one script: the dedupe checks, the offset, the stream entry, the
 * trimming, the dedupe records and the fan-out publish, atomically), reads, heads, and the age sweep.
 * @packageDocumentation
 */
import { IdempotencyWindowError } from '../errors.js';
import { decodeData } from '../records.js';
import { ageCutoff, duplicateOfClaim, duplicateOfKey, keyConflict, planRead, randomEmptyEpoch, randomEpoch } from '../rules.js';
import type { AppendOptions, AppendResult, ChannelPosition, JsonValue, ReadResult, StoredMessage } from '../types.js';
import { outcomeOfFields } from './claims.js';
import type { RedisContext } from './context.js';
import { keyPart, pxFor } from './keys.js';

/** `append`: see APPEND_LUA for the arguments and the replies. */
export async function append(
  { connection, keys: k, options: o }: RedisContext,
  channel: string,
  data: JsonValue,
  json: string,
  options: AppendOptions | undefined,
  now: number,
): Promise<AppendResult> {
  const key = options?.idempotencyKey;
  const scope = options?.idempotencyScope;
  const claim = options?.claim;
  const part = keyPart(channel);
  const keys = [k.meta(part), k.history(part), k.channels];
  let keyMode = '';
  if (key !== undefined) {
    keys.push(k.idempotency(key));
    keyMode = 'key';
    if (scope !== undefined) {
      keys.push(k.idempotencyScope(scope));
      keyMode = 'scoped-key';
    }
  }
  if (claim !== undefined) keys.push(k.claim(claim.scope, claim.id), k.claims(claim.scope));
  const px = pxFor(o.dedupeTtlMs);
  const reply = (await connection.exec('append', () =>
    connection.script('lifelineAppend')(
      String(keys.length),
      ...keys,
      randomEpoch(),
      String(now),
      JSON.stringify(channel),
      json,
      o.maxCount === Infinity ? '' : String(o.maxCount),
      o.maxAgeMs === Infinity ? '' : String(ageCutoff(now, o.maxAgeMs)),
      o.dedupeTtlMs === Infinity ? '' : String(now + o.dedupeTtlMs),
      px,
      k.fanout,
      part,
      keyMode,
      key === undefined ? '' : keyPart(key),
      String(o.maxKeysPerScope),
      k.idempotencyHead,
      claim === undefined ? '' : 'claim',
      claim === undefined ? '' : String(claim.id),
      claim?.fingerprint ?? '',
      String(o.maxClaimsPerScope),
      k.claimHead,
      claim === undefined ? '' : k.claimTail(claim.scope),
      px,
    ),
  )) as string[];
  switch (reply[0]) {
    case 'dup': {
      const [, channelJson, epoch, offset, time, dataJson] = reply as [string, string, string, string, string, string];
      const first = { channel: JSON.parse(channelJson) as string, epoch, offset: Number(offset), time: Number(time), json: dataJson };
      // The script compared channel and data already: this is the duplicate.
      return duplicateOfKey(key!, first, first.channel, dataJson);
    }
    case 'conflict': {
      const [, channelJson, epoch, offset] = reply as [string, string, string, string];
      throw keyConflict(key!, { channel: JSON.parse(channelJson) as string, epoch, offset: Number(offset) });
    }
    case 'forgotten':
      throw new IdempotencyWindowError();
    case 'claim': {
      const [, state, result, fp] = reply as [string, string, string, string];
      return duplicateOfClaim(outcomeOfFields(state, '', result), fp === '' ? undefined : fp, claim!.fingerprint, data);
    }
  }
  const [, epoch, offset, time] = reply as [string, string, string, string];
  return { message: { channel, epoch, offset: Number(offset), data: decodeData(json), time: Number(time) }, duplicate: false };
}

/** `read` from a position: see READ_LUA; `complete` is decided here by the shared rule, on the script's snapshot. */
export async function read(
  { connection, keys: k, options: o }: RedisContext,
  channel: string,
  from: ChannelPosition,
  limit: number,
  maxBytes: number,
  now: number,
): Promise<ReadResult> {
  const part = keyPart(channel);
  const reply = (await connection.exec('read', () =>
    connection.script('lifelineRead')(
      k.meta(part),
      k.history(part),
      k.emptyEpoch,
      randomEmptyEpoch(),
      o.maxAgeMs === Infinity ? '' : String(ageCutoff(now, o.maxAgeMs)),
      from.epoch,
      String(from.offset),
      String(limit + 1),
      maxBytes === Infinity ? '' : String(maxBytes),
    ),
  )) as string[];
  const head: ChannelPosition = { epoch: reply[0]!, offset: Number(reply[1]) };
  const plan = planRead(head, Number(reply[2]), from, reply[3]!);
  const messages: StoredMessage[] = [];
  const rows = (reply.length - 4) / 3;
  for (let i = 4; i + 2 < reply.length && messages.length < limit; i += 3) {
    // A row with empty data is the look-ahead past a byte bound: proof of more, not a message.
    if (reply[i + 2] === '') break;
    messages.push({ channel, epoch: head.epoch, offset: Number(reply[i]), data: decodeData(reply[i + 2]!), time: Number(reply[i + 1]) });
  }
  return { messages, complete: plan.complete, more: rows > messages.length, head };
}

/** `head`: see HEAD_LUA; creates nothing but the store's empty epoch. */
export async function head({ connection, keys: k }: RedisContext, channel: string): Promise<ChannelPosition> {
  const part = keyPart(channel);
  const [epoch, last] = (await connection.exec('head', () => connection.script('lifelineHead')(k.meta(part), k.emptyEpoch, randomEmptyEpoch()))) as [
    string,
    string,
  ];
  return { epoch, offset: Number(last) };
}

/**
 * Trim history older than `maxAgeMs` in every channel (appends and reads trim their own channel; this
 * reaches channels nobody touches), a hundred channels a round, until the set of channels was scanned.
 * Expired sessions, idempotency keys and claims need no sweep: they are invisible from their expiry on,
 * and Redis deletes them.
 * @param stopped - whether to stop between rounds (the store closed)
 */
export async function sweepHistory({ connection, keys: k, options: o }: RedisContext, now: number, stopped: () => boolean): Promise<void> {
  if (o.maxAgeMs === Infinity) return;
  const cutoff = String(ageCutoff(now, o.maxAgeMs));
  let cursor = '0';
  do {
    const [next, parts] = await connection.exec('sweep', () => connection.client.sscan(k.channels, cursor, 'COUNT', 100));
    cursor = next;
    await Promise.all(parts.map((part) => connection.exec('sweep', () => connection.script('lifelineTrim')(k.meta(part), k.history(part), k.channels, cutoff, part))));
  } while (cursor !== '0' && !stopped());
}
