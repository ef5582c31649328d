/**
 * The Redis engine on a Redis Cluster started by this file (3 masters on loopback): the store
 * conformance suite, unchanged, then what only a cluster shows — topics as shard channels on the master
 * of their slot, and a subscription that breaks (its connection killed, its slot moved to another
 * master) while its channel is idle: the one append made during the break is reported and readable.
 * Skipped, with one line, where redis-server 7 is missing.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStore, type RedisStore, type RedisStoreEvent, type RedisStoreOptions } from '../../src/store/redis/index.js';
import { redisKeys } from '../../src/store/redis/keys.js';
import { keySlot } from '../../src/store/redis/partitions.js';
import type { StoredMessage } from '../../src/store/types.js';
import { storeConformance } from '../../src/testing/index.js';
import { clusterSkipReason, RedisCluster } from '../support/redis-cluster.js';

const skip = clusterSkipReason();
if (skip) console.log(`redis cluster tests skipped: ${skip}`);

let cluster: RedisCluster;
let prefixes = 0;
const open = new Set<RedisStore>();

function prefix(): string {
  return `lc${process.pid}-${prefixes++}:`;
}

beforeAll(async () => {
  if (skip) return;
  cluster = await RedisCluster.start(3);
  console.log(`redis cluster: 3 masters up in ${cluster.startMs} ms`);
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
});

describe.skipIf(skip !== undefined)('redis engine on a Redis Cluster', () => {
  const prefixOf = new WeakMap<RedisStore, string>();
  function store(p: string, opts: Partial<RedisStoreOptions> = {}): RedisStore {
    const s = createRedisStore({ ...opts, cluster: cluster.urls, prefix: p });
    prefixOf.set(s, p);
    return s;
  }

  storeConformance({
    name: 'redis cluster',
    open: (opts) => store(prefix(), opts),
    reopen: (previous, opts) => store(prefixOf.get(previous as RedisStore)!, opts),
    test: { describe, it, expect, afterEach },
    presence: true,
    timeoutMs: 60_000,
  });

  describe('cluster specifics', () => {
    afterEach(async () => {
      for (const s of open) await s.close();
      open.clear();
    });
    function tracked(p: string, opts: Partial<RedisStoreOptions> = {}): RedisStore {
      const s = store(p, opts);
      open.add(s);
      return s;
    }

    /** Subscribers of a shard channel, as the master of its slot counts them. */
    async function shardSubscribers(topic: string): Promise<number> {
      const redis = cluster.connect(await cluster.ownerOf(keySlot(topic)));
      try {
        return Number(((await redis.call('PUBSUB', 'SHARDNUMSUB', topic)) as [string, number])[1]);
      } finally {
        redis.disconnect();
      }
    }

    it('a followed channel is a shard channel on the master of its slot; an unfollowed one reaches nobody', async () => {
      const p = prefix();
      const a = tracked(p, { lingerMs: 0 });
      const b = tracked(p);
      const got: StoredMessage[] = [];
      a.watch((m) => got.push(m));
      const keys = redisKeys(p);
      const follow = a.follow('room:a');
      await follow.ready;
      expect(await shardSubscribers(keys.channel('room:a').topic)).toBe(1);
      expect(await shardSubscribers(keys.channel('room:b').topic)).toBe(0);
      await b.append('room:b', 'nobody here');
      const { message } = await b.append('room:a', 'hello');
      await expect.poll(() => got).toEqual([message]);
      expect(a.fanoutStats().received).toBe(1);
      follow.release();
      await expect.poll(() => shardSubscribers(keys.channel('room:a').topic)).toBe(0);
    });

    /** Follow `channel` on `a`, then return what its watch and resubscription listeners see. */
    async function watching(a: RedisStore, channel: string): Promise<{ got: StoredMessage[]; resubscribed: string[] }> {
      const got: StoredMessage[] = [];
      const resubscribed: string[] = [];
      a.watch((m) => got.push(m));
      a.onResubscribe((channels) => resubscribed.push(...channels));
      await a.follow(channel).ready;
      return { got, resubscribed };
    }

    it('CLIENT KILL of the subscriber connection: it resubscribes and reports the channel, which catches up', async () => {
      const p = prefix();
      const events: RedisStoreEvent[] = [];
      const a = tracked(p, { livenessIntervalMs: 300, onEvent: (e) => events.push(e) });
      const b = tracked(p);
      const seen = await watching(a, 'idle');
      const topic = redisKeys(p).channel('idle').topic;
      const master = cluster.connect(await cluster.ownerOf(keySlot(topic)));
      try {
        // The subscriber is the connection subscribed to the topic: kill it, publish once, while the channel is idle.
        const clients = String(await master.client('LIST')).split('\n').filter((line) => / cmd=ssubscribe/.test(line) || /ssub=[1-9]/.test(line));
        expect(clients.length).toBeGreaterThan(0);
        for (const line of clients) await master.client('KILL', 'ID', /id=(\d+)/.exec(line)![1]!);
        const { message } = await b.append('idle', 'during the break');
        await expect.poll(() => seen.resubscribed, { timeout: 5000 }).toContain('idle');
        // Whether the append arrived live or not, history has it for the catch-up the report triggers.
        const read = await a.read('idle', { epoch: message.epoch, offset: 0 }, 10);
        expect(read.messages.map((m) => m.data)).toEqual(['during the break']);
        expect(events.some((e) => e.type === 'fanout-subscribed' && e.resubscribed)).toBe(true);
      } finally {
        master.disconnect();
      }
    });

    it('a slot migrated to another master while its channel is idle: the topic follows it, and the channel is reported', async () => {
      const p = prefix();
      const a = tracked(p, { livenessIntervalMs: 300 });
      const b = tracked(p);
      const seen = await watching(a, 'moving');
      const keys = redisKeys(p).channel('moving');
      await b.append('moving', 'before');
      await expect.poll(() => seen.got.length).toBe(1);
      const slot = keySlot(keys.topic);
      const from = await cluster.ownerOf(slot);
      const to = (await cluster.masterPorts()).find((port) => port !== from)!;
      await cluster.migrateSlot(slot, to);
      await expect.poll(() => seen.resubscribed, { timeout: 10_000 }).toContain('moving');
      // Subscribed on the new master, and live again there.
      await expect.poll(() => shardSubscribers(keys.topic), { timeout: 5000 }).toBe(1);
      expect(await cluster.ownerOf(slot)).toBe(to);
      const { message } = await b.append('moving', 'after');
      await expect.poll(() => seen.got.map((m) => m.data), { timeout: 5000 }).toContain('after');
      expect((await a.read('moving', { epoch: message.epoch, offset: 0 }, 10)).messages.map((m) => m.data)).toEqual(['before', 'after']);
    }, 30_000);
  });
});
