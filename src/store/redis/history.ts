/**
 * Channel history in Redis: appends (in the channel's slot, one script: the dedupe checks, the offset,
 * the stream entry, the trimming, the dedupe records and the fan-out publish, atomically; with the steps
 * a global idempotency key or a client message id adds in their own slots), reads, heads, and the age sweep.
 * @packageDocumentation
 */
import { IdempotencyConflictError, IdempotencyWindowError, StoreOutcomeUnknownError } from '../errors.js';
import { decodeData } from '../records.js';
import { ageCutoff, duplicateOfClaim, duplicateOfKey, keyConflict, planRead, randomEmptyEpoch, randomEpoch } from '../rules.js';
import type { AppendOptions, AppendResult, ChannelPosition, JsonValue, ReadResult, StoredMessage } from '../types.js';
import { outcomeOfFields, recordPublished, reservePublish } from './claims.js';
import type { RedisContext } from './context.js';
import { allPartitions, keyPart, pxFor, type ChannelKeys } from './keys.js';
import { keySlot } from './partitions.js';

/**
 * `append`, in up to four steps, each one script on one slot (see APPEND_LUA, OWN_KEY_LUA, CLAIM_LUA):
 * 1. with an idempotency key: take it for this channel in its owner record, or learn that another channel
 *    has it (a conflict: keys are global across channels);
 * 2. with a client message id: reserve it in its scope, where `claimMessage` sees it too (a recorded
 *    outcome answers at once: a duplicate or a conflict);
 * 3. the append itself in the channel's slot: the dedupe checks (the key's record, the id's record on
 *    this channel), the offset, the entry, the trimming, the records, the publish; with durability
 *    `replicas`, the publish waits for the replicas' acknowledgement and the commit (see {@link commitAppend});
 * 4. with a client message id: record the outcome in its scope.
 * An attempt that dies between steps leaves a reservation that its resend completes: step 3 then finds
 * the channel's own record and answers a duplicate, so a message is never stored twice.
 */
export async function append(ctx: RedisContext, channel: string, data: JsonValue, json: string, options: AppendOptions | undefined, now: number): Promise<AppendResult> {
  const { connection, keys: k, options: o } = ctx;
  const key = options?.idempotencyKey;
  const scope = options?.idempotencyScope;
  const claim = options?.claim;
  const ck = k.channel(channel);
  const channelJson = JSON.stringify(channel);
  const px = pxFor(o.dedupeTtlMs);
  const until = o.dedupeTtlMs === Infinity ? '' : String(now + o.dedupeTtlMs);
  if (key !== undefined) {
    const owner = (await connection.exec('append', () => connection.script('lifelineOwnKey')(k.keyOwner(key), channelJson, String(now), until, px))) as string[];
    if (owner[0] === 'other') throw await conflictElsewhere(ctx, key, JSON.parse(owner[1]!) as string);
  }
  if (claim !== undefined) {
    const reserved = await reservePublish(ctx, claim.scope, claim.id, claim.fingerprint, channelJson, now, claim.legacyFingerprint);
    if (reserved[0] === 'forgotten') throw new IdempotencyWindowError();
    if (reserved[0] !== 'go') {
      const [state, incident, result, fp] = reserved as [string, string, string, string];
      return duplicateOfClaim(outcomeOfFields(state, incident, result), fp === '' ? undefined : fp, claim.fingerprint, data, claim.legacyFingerprint);
    }
  }
  const keys = [ck.meta, ck.history, ck.channels];
  let keyMode = '';
  if (key !== undefined) {
    keys.push(ck.idempotency(key));
    keyMode = 'key';
    if (scope !== undefined) {
      keys.push(ck.idempotencyScope(scope));
      keyMode = 'scoped-key';
    }
  }
  if (claim !== undefined) keys.push(ck.publishedIds(claim.scope));
  const [fenceEpoch, fenceSeen] = ctx.fence.args(channel);
  const args = [
    String(keys.length),
    ...keys,
    randomEpoch(),
    String(now),
    channelJson,
    json,
    o.maxCount === Infinity ? '' : String(o.maxCount),
    o.maxAgeMs === Infinity ? '' : String(ageCutoff(now, o.maxAgeMs)),
    until,
    px,
    ctx.fanout.topic(ck),
    ctx.fanout.command,
    ck.part,
    keyMode,
    key === undefined ? '' : keyPart(key),
    String(o.maxKeysPerScope),
    ck.idempotencyHead,
    claim === undefined ? '' : 'pub',
    claim === undefined ? '' : String(claim.id),
    claim?.fingerprint ?? '',
    String(o.maxClaimsPerScope),
    ctx.replication === undefined ? 'primary' : 'replicas',
    fenceEpoch,
    fenceSeen,
  ];
  let reply: string[];
  let acknowledged = Infinity;
  if (ctx.replication === undefined) {
    reply = (await connection.exec('append', () => connection.script('lifelineAppend')(...args))) as string[];
  } else {
    ({ reply, acknowledged } = await ctx.replication.append(keySlot(ck.meta), args));
  }
  const base = BASE_LENGTH[reply[0]!] ?? 4;
  if (reply.length === base + 3 && reply[base] === 'rolled') {
    ctx.fence.rotated(channel, reply[base + 1]!, Number(reply[base + 2]), reply[0] === 'new' ? reply[1]! : (await head(ctx, channel)).epoch);
  }
  let message: StoredMessage;
  let duplicate = false;
  switch (reply[0]) {
    case 'dup': {
      const [, channelJson, epoch, offset, time, dataJson] = reply as [string, string, string, string, string, string];
      const first = { channel: JSON.parse(channelJson) as string, epoch, offset: Number(offset), time: Number(time), json: dataJson };
      // The script compared the channel; the data is compared here, as JSON values (a conflict throws
      // before anything is committed).
      const result = duplicateOfKey(key!, first, channel, json);
      // Stored by an attempt that was answered "outcome unknown": committed now, or still unknown.
      await commitAppend(ctx, ck, channelJson, result.message, acknowledged, false);
      return result;
    }
    case 'conflict': {
      const [, channelJson, epoch, offset] = reply as [string, string, string, string];
      throw keyConflict(key!, { channel: JSON.parse(channelJson) as string, epoch, offset: Number(offset) });
    }
    case 'pubdup': {
      // Stored by an earlier attempt of this publish (step 2 checked the fingerprint against the reservation).
      const [, fp, epoch, offset, time] = reply as [string, string, string, string, string];
      const first = { channel, epoch, offset: Number(offset), time: Number(time) };
      const result = duplicateOfClaim({ state: 'done', result: first }, fp, claim!.fingerprint, data, claim!.legacyFingerprint);
      message = result.message;
      duplicate = true;
      break;
    }
    default: {
      const [, epoch, offset, time] = reply as [string, string, string, string];
      message = { channel, epoch, offset: Number(offset), data: decodeData(json), time: Number(time) };
    }
  }
  await commitAppend(ctx, ck, channelJson, message, acknowledged, !duplicate);
  if (claim !== undefined) {
    const result = { channel, epoch: message.epoch, offset: message.offset, time: message.time };
    try {
      await recordPublished(ctx, claim.scope, claim.id, claim.fingerprint, channelJson, result, now);
    } catch (error) {
      // Stored, not yet recorded in the scope: a resend finishes it (and is answered a duplicate).
      throw new StoreOutcomeUnknownError(`redis store: the message was stored but its id's outcome was not recorded (${(error as Error).message}); resend it to learn its offset`, { cause: error });
    }
  }
  return { message, duplicate };
}

/** The length of each append reply before the fence's `'rolled', oldEpoch, found` (see APPEND_LUA). */
const BASE_LENGTH: Readonly<Record<string, number>> = { new: 4, dup: 6, conflict: 4, pubdup: 5 };

/**
 * Durability `replicas`: an append (or a duplicate of one) is answered only once replicas hold it.
 * Short of them, "outcome unknown" (the publisher resends with its idempotency key, and the resend
 * commits it once they are back); else the commit script moves the channel's committed offset to it and
 * publishes what it passes. The fence learns the committed position in both modes.
 * @param fresh - whether this call stored the message (its loss by a rotation is then "outcome unknown")
 */
async function commitAppend(ctx: RedisContext, ck: ChannelKeys, channelJson: string, message: StoredMessage, acknowledged: number, fresh: boolean): Promise<void> {
  const { connection, replication } = ctx;
  if (replication === undefined) {
    // A duplicate may name an older epoch: only what this call committed is news to the fence.
    if (fresh) ctx.fence.observe(message.channel, message.epoch, message.offset);
    return;
  }
  if (acknowledged < replication.replicas) {
    // A resend of a message committed long ago needs no replica now: it was acknowledged then.
    if (!fresh && (await committedAlready(ctx, ck, message))) return;
    replication.countShort(1, acknowledged);
    throw new StoreOutcomeUnknownError(
      `redis store: the message was stored but only ${acknowledged} of the ${replication.replicas} replica(s) asked for acknowledged it in time; it is not delivered yet: resend it with its idempotency key`,
    );
  }
  const reply = await replication.commits.commit(`${message.epoch}\n${ck.meta}`, message.offset, (offset) =>
    connection.exec('append', async () =>
      (await connection.script('lifelineCommit')(ck.meta, ck.history, message.epoch, String(offset), channelJson, ctx.fanout.topic(ck), ctx.fanout.command)) as string[],
    ),
  );
  if (reply[0] === 'gone') {
    // The channel's epoch changed since (the fence rotated it): this copy of the message is gone with it.
    if (fresh) throw new StoreOutcomeUnknownError('redis store: the message was stored, then its channel\'s history was rotated (a failover lost data); resend it with its idempotency key');
    return;
  }
  ctx.fence.observe(message.channel, message.epoch, Number(reply[1]));
}

/** Whether `message` is at or below its channel's committed offset, in its epoch (a read of the meta hash). */
async function committedAlready({ connection }: RedisContext, ck: ChannelKeys, message: StoredMessage): Promise<boolean> {
  const [epoch, committed, last] = await connection.exec('append', () => connection.client.hmget(ck.meta, 'epoch', 'committed', 'last'));
  return epoch === message.epoch && Number(committed ?? last ?? 0) >= message.offset;
}

/** The conflict of a key another channel holds, with where its first message went when that is still known. */
async function conflictElsewhere({ connection, keys: k }: RedisContext, key: string, other: string): Promise<IdempotencyConflictError> {
  const [epoch, offset] = await connection.exec('append', () => connection.client.hmget(k.channel(other).idempotency(key), 'epoch', 'offset'));
  if (epoch == null || offset == null) return new IdempotencyConflictError(`idempotency key ${key} was used for another message`);
  return keyConflict(key, { channel: other, epoch, offset: Number(offset) });
}

/** `read` from a position: see READ_LUA; `complete` is decided here by the shared rule, on the script's snapshot. */
export async function read(
  ctx: RedisContext,
  channel: string,
  from: ChannelPosition,
  limit: number,
  maxBytes: number,
  now: number,
): Promise<ReadResult> {
  const { connection, keys: k, options: o } = ctx;
  const ck = k.channel(channel);
  const [fenceEpoch, fenceSeen] = ctx.fence.args(channel);
  const reply = (await connection.exec('read', () =>
    connection.script('lifelineRead')(
      ck.meta,
      ck.history,
      ck.emptyEpoch,
      randomEmptyEpoch(),
      o.maxAgeMs === Infinity ? '' : String(ageCutoff(now, o.maxAgeMs)),
      from.epoch,
      String(from.offset),
      String(limit + 1),
      maxBytes === Infinity ? '' : String(maxBytes),
      fenceEpoch,
      fenceSeen,
      randomEpoch(),
    ),
  )) as string[];
  const head: ChannelPosition = { epoch: reply[0]!, offset: Number(reply[1]) };
  fenced(ctx, channel, head, reply[4]!, reply[5]!);
  const plan = planRead(head, Number(reply[2]), from, reply[3]!);
  const messages: StoredMessage[] = [];
  const rows = (reply.length - 6) / 3;
  for (let i = 6; i + 2 < reply.length && messages.length < limit; i += 3) {
    // A row with empty data is the look-ahead past a byte bound: proof of more, not a message.
    if (reply[i + 2] === '') break;
    messages.push({ channel, epoch: head.epoch, offset: Number(reply[i]), data: decodeData(reply[i + 2]!), time: Number(reply[i + 1]) });
  }
  return { messages, complete: plan.complete, more: rows > messages.length, head };
}

/** `head`: see HEAD_LUA; creates nothing but the store's empty epoch (and the fence's rotation). */
export async function head(ctx: RedisContext, channel: string): Promise<ChannelPosition> {
  const { connection, keys: k } = ctx;
  const ck = k.channel(channel);
  const [fenceEpoch, fenceSeen] = ctx.fence.args(channel);
  const [epoch, last, rolledEpoch, rolledFound] = (await connection.exec('head', () =>
    connection.script('lifelineHead')(ck.meta, ck.emptyEpoch, ck.history, randomEmptyEpoch(), fenceEpoch, fenceSeen, randomEpoch()),
  )) as [string, string, string, string];
  const position = { epoch, offset: Number(last) };
  fenced(ctx, channel, position, rolledEpoch, rolledFound);
  return position;
}

/** After a read or head: report the fence's rotation, if the script made one, and remember what was seen. */
function fenced(ctx: RedisContext, channel: string, head: ChannelPosition, rolledEpoch: string, rolledFound: string): void {
  if (rolledEpoch !== '') ctx.fence.rotated(channel, rolledEpoch, Number(rolledFound), head.epoch);
  // An unwritten channel's empty epoch is not worth remembering: nothing in it can be lost.
  if (head.offset > 0) ctx.fence.observe(channel, head.epoch, head.offset);
}

/**
 * Trim history older than `maxAgeMs` in every channel (appends and reads trim their own channel; this
 * reaches channels nobody touches): each partition's channel set, a hundred channels a round, a few
 * partitions at a time. Expired sessions, idempotency keys and claims need no sweep: they are invisible
 * from their expiry on, and Redis deletes them.
 * @param stopped - whether to stop between rounds (the store closed)
 */
export async function sweepHistory({ connection, keys: k, options: o }: RedisContext, now: number, stopped: () => boolean): Promise<void> {
  if (o.maxAgeMs === Infinity) return;
  const cutoff = String(ageCutoff(now, o.maxAgeMs));
  const partitions = allPartitions();
  for (let i = 0; i < partitions.length && !stopped(); i += SWEEP_PARTITIONS) {
    await Promise.all(
      partitions.slice(i, i + SWEEP_PARTITIONS).map(async (n) => {
        const p = k.partition(n);
        let cursor = '0';
        do {
          const [next, parts] = await connection.exec('sweep', () => connection.client.sscan(p.channels, cursor, 'COUNT', 100));
          cursor = next;
          await Promise.all(parts.map((part) => connection.exec('sweep', () => connection.script('lifelineTrim')(p.meta(part), p.history(part), p.channels, cutoff, part))));
        } while (cursor !== '0' && !stopped());
      }),
    );
  }
}

/** Partitions a sweep works on at once. */
const SWEEP_PARTITIONS = 16;
