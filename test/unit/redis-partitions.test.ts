/**
 * The Redis engine's partitions and key layout, as pure functions: the slot of a key is Redis's
 * (CRC16/XMODEM of the hash tag, checked against values Redis Cluster documents and computes), the
 * partitions' tags spread evenly over the slots (so over masters with equal slot ranges), a channel's
 * partition is stable, and every key of a channel (or of a session) shares one slot.
 */
import { describe, expect, it } from 'vitest';
import { redisKeys } from '../../src/store/redis/keys.js';
import { CLUSTER_SLOTS, keySlot, PARTITIONS, partitionOf, partitionTags } from '../../src/store/redis/partitions.js';

describe('redis partitions', () => {
  it('computes the slot Redis computes, hash tags included', () => {
    // Values from the Redis Cluster specification and `CLUSTER KEYSLOT` on Redis 7.
    expect(keySlot('123456789')).toBe(0x31c3 % CLUSTER_SLOTS);
    expect(keySlot('{a}k')).toBe(15495);
    expect(keySlot('{b}k')).toBe(3300);
    expect(keySlot('{a}k')).toBe(keySlot('a'));
    // An empty tag is no tag: the whole key is hashed. Multi-byte characters are hashed as UTF-8.
    expect(keySlot('{}a')).toBe(10875);
    expect(keySlot('room:ü')).toBe(1500);
    expect(keySlot('{p0.425}')).toBe(2);
    // Only the first tag counts.
    expect(keySlot('{a}{b}')).toBe(keySlot('a'));
  });

  it('spreads the partitions evenly over the slots: partition k in the k-th equal range', () => {
    const tags = partitionTags();
    expect(tags).toHaveLength(PARTITIONS);
    expect(new Set(tags).size).toBe(PARTITIONS);
    const width = CLUSTER_SLOTS / PARTITIONS;
    for (const [k, tag] of tags.entries()) {
      expect(tag.startsWith(`p${k}`)).toBe(true);
      expect(Math.floor(keySlot(`{${tag}}`) / width)).toBe(k);
    }
    // Three masters with equal contiguous ranges (redis-cli --cluster create) get a third each, to one partition.
    const owners = [0, 0, 0];
    for (const tag of tags) owners[Math.min(2, Math.floor(keySlot(`{${tag}}`) / Math.ceil(CLUSTER_SLOTS / 3)))]! += 1;
    expect(Math.max(...owners) - Math.min(...owners)).toBeLessThanOrEqual(1);
  });

  it("a channel's partition is stable, and channels spread over the partitions", () => {
    expect(partitionOf('news')).toBe(partitionOf('news'));
    const counts = new Array<number>(PARTITIONS).fill(0);
    for (let i = 0; i < 100_000; i++) counts[partitionOf(`room:${i}`)]! += 1;
    // About 98 each; no partition holds three times its share.
    expect(Math.max(...counts)).toBeLessThan(300);
    expect(Math.min(...counts)).toBeGreaterThan(30);
  });

  it('puts every key of a channel, and of a session with its claims, in one slot', () => {
    const keys = redisKeys('app:');
    for (const channel of ['news', 'a}b', '{x}', 'ü/🎉', '\ud800']) {
      const ck = keys.channel(channel);
      const slot = keySlot(ck.meta);
      for (const key of [ck.history, ck.topic, ck.channels, ck.emptyEpoch, ck.idempotency('k}1'), ck.idempotencyScope('s'), ck.publishedIds('o'), ck.key('presence')]) {
        expect(keySlot(key), key).toBe(slot);
      }
      expect(keySlot(keys.partition(ck.partition).ping)).toBe(slot);
    }
    for (const id of ['s1', 'x}y', '{z}']) {
      const slot = keySlot(keys.session(id));
      for (const key of [keys.sessionChannels(id), keys.claims(id), keys.claim(id, 7), `${keys.claimHead(id)}8`]) expect(keySlot(key), key).toBe(slot);
    }
    // Distinct names stay distinct keys (a `}` in a name cannot end the tag early and merge two).
    expect(keys.session('a}b')).not.toBe(keys.session('a'));
    expect(keys.channel('a').idempotency('b:c')).not.toBe(keys.channel('a:b').idempotency('c'));
  });
});
