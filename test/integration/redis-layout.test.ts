/**
 * The key layout of a Redis prefix:
 * - one that holds lifeline's first layout (before Redis Cluster support) is refused at start, with the
 *   reason and what to do, never served as if it were empty;
 * - a fresh one initialised by several processes at once, or left half-initialised, gives every
 *   unwritten channel a real empty epoch, never '' (a subscription at epoch '' once dropped the channel's
 *   first message: seen in CI with two nodes starting together on a Redis Cluster).
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { isUnwrittenEpoch } from '../../src/protocol/index.js';
import { createRedisStore, type RedisStore } from '../../src/store/redis/index.js';
import { redisKeys } from '../../src/store/redis/keys.js';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../support/redis.js';
import { killAll, startServe } from '../support/serve-process.js';

const prefix = uniquePrefix('legacy');
const prefixes = [prefix];
const stores: RedisStore[] = [];
afterEach(async () => {
  await killAll();
  await Promise.all(stores.splice(0).map((store) => store.close()));
});
afterAll(async () => {
  for (const p of prefixes) await deletePrefix(REDIS_URL, p);
});

function freshPrefix(label: string): string {
  const p = uniquePrefix(label);
  prefixes.push(p);
  return p;
}

function store(p: string): RedisStore {
  const s = createRedisStore({ url: REDIS_URL, prefix: p });
  stores.push(s);
  return s;
}

async function withAdmin<T>(work: (admin: Redis) => Promise<T>): Promise<T> {
  const admin = new Redis(REDIS_URL);
  try {
    return await work(admin);
  } finally {
    admin.disconnect();
  }
}

describe('serve on a Redis prefix in the old layout', () => {
  it('exits with the reason instead of serving', async () => {
    const admin = new Redis(REDIS_URL);
    try {
      await admin.sadd(`${prefix}channels`, 'news'); // what the first layout kept: a global set of channels
    } finally {
      admin.disconnect();
    }
    const error = await startServe(['--store', REDIS_URL, '--redis-prefix', prefix]).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.message).toMatch(/server exited before the log entry/);
    expect(error?.message).toMatch(/first Redis layout/);
  });
});

describe('the empty epoch of unwritten channels', () => {
  it('twelve stores starting at once on a fresh prefix all answer one real empty epoch', async () => {
    const p = freshPrefix('race');
    const heads = await Promise.all(Array.from({ length: 12 }, () => store(p).head('news')));
    expect(isUnwrittenEpoch(heads[0]!.epoch)).toBe(true);
    expect(new Set(heads.map((h) => `${h.epoch}/${h.offset}`))).toEqual(new Set([`${heads[0]!.epoch}/0`]));
  });

  it('a prefix left half-initialised (the version written, not the empty epoch) is completed, not read as ""', async () => {
    const p = freshPrefix('half');
    await withAdmin((admin) => admin.hset(redisKeys(p).layout, 'version', '2'));
    const head = await store(p).head('news');
    expect(isUnwrittenEpoch(head.epoch)).toBe(true);
    expect(head.epoch.length).toBeGreaterThan(1);
  });

  it("a partition's empty epoch of '' (left by an earlier version) is replaced on first use, by reads and heads alike", async () => {
    const p = freshPrefix('blank');
    const s = store(p);
    await s.head('warm-up');
    const keys = redisKeys(p);
    await withAdmin((admin) => admin.set(keys.channel('news').emptyEpoch, ''));
    const read = await s.read('news', { epoch: 'x', offset: 0 }, 10);
    expect(isUnwrittenEpoch(read.head.epoch)).toBe(true);
    await withAdmin((admin) => admin.set(keys.channel('news').emptyEpoch, ''));
    expect(isUnwrittenEpoch((await s.head('news')).epoch)).toBe(true);
  });
});
