/**
 * The version of the key layout a prefix holds, checked each time the command connection becomes ready,
 * before the store serves: a fresh prefix is initialised (the layout record, and every partition's empty
 * epoch, so that every unwritten channel starts with the same one); data of the layout before
 * partitioning (version 1: `<prefix>channels`, `<prefix>empty-epoch`) is refused with a clear error,
 * never read as empty; a version this code does not know is refused too.
 * @packageDocumentation
 */
import type { Cluster, Redis } from 'ioredis';
import { isUnwrittenEpoch } from '../../protocol/frames.js';
import { StoreError } from '../errors.js';
import { randomEmptyEpoch } from '../rules.js';
import { allPartitions, type RedisKeys } from './keys.js';

/** The key layout this code reads and writes: 2 is the partitioned layout (hash tags, per-channel topics). */
export const LAYOUT_VERSION = '2';

/**
 * Make sure `prefix` holds this layout, initialising it when it holds nothing.
 * @throws StoreError when it holds data of another layout (the store must not serve it)
 */
export async function ensureLayout(client: Redis | Cluster, keys: RedisKeys, prefix: string, where: string): Promise<void> {
  const [version, ready] = await client.hmget(keys.layout, 'version', 'ready');
  if (version === LAYOUT_VERSION && ready === '1') return;
  if (version !== null && version !== LAYOUT_VERSION) {
    throw new StoreError(
      `redis store: the keys under prefix "${prefix}" at ${where} are in layout version ${version}, which this version of lifeline does not know (it uses ${LAYOUT_VERSION}); run the lifeline version that wrote them, or use another prefix`,
    );
  }
  if (version === null) {
    const legacy = await Promise.all(keys.legacy.map((key) => client.exists(key)));
    if (legacy.some((n) => n > 0)) {
      throw new StoreError(
        `redis store: the keys under prefix "${prefix}" at ${where} are in lifeline's first Redis layout (before partitioning for Redis Cluster), which this version does not read. ` +
          `Either start with another prefix (--redis-prefix): history starts afresh and clients are told recovered: false; ` +
          `or delete the old keys (redis-cli --scan --pattern '${prefix}*' | xargs redis-cli del) after the last old process stopped. See docs/deploy.md, "Upgrading the Redis layout".`,
      );
    }
  }
  // The empty epoch before the version: a process that sees the version (another one initialising the
  // same prefix at this moment) must find the empty epoch too. And set whenever the layout is not ready:
  // a prefix left half-initialised (by a process that died between the two, or by a version that wrote
  // them in the other order) is completed here, never read as an empty epoch of ''.
  await client.hsetnx(keys.layout, 'empty', randomEmptyEpoch());
  if (version === null) await client.hsetnx(keys.layout, 'version', LAYOUT_VERSION);
  // Every partition gets the same empty epoch while none is set (SET NX: one written by another process,
  // or one a partition already had, stays). A partition whose key is lost later (its shard lost its data)
  // gets a fresh one on first use, so readers of its channels are told they may have missed something.
  const empty = await client.hget(keys.layout, 'empty');
  if (empty === null || !isUnwrittenEpoch(empty)) {
    throw new StoreError(`redis store: the layout record ${keys.layout} at ${where} holds no valid empty epoch (${JSON.stringify(empty)}); it was changed by something other than lifeline`);
  }
  // All at once: ioredis writes them back to back (one pipeline a node), so a fresh prefix costs about one round trip.
  await Promise.all(allPartitions().map((k) => client.set(keys.partition(k).emptyEpoch, empty, 'NX')));
  await client.hset(keys.layout, 'ready', '1');
}
