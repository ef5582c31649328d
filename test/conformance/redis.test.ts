/**
 * The store conformance suite against the Redis engine, on the Redis at `REDIS_URL`
 * (default `redis://127.0.0.1:6379`). Each store gets its own key prefix, deleted after the test,
 * so runs share one Redis without seeing each other.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStore, type RedisStore, type RedisStoreEvent } from '../../src/store/redis/index.js';
import { redisKeys } from '../../src/store/redis/keys.js';
import { createMemoryStore } from '../../src/store/memory.js';
import type { PresenceChange, Store, StoredMessage, StoreOptions } from '../../src/store/types.js';
import { storeConformance } from '../../src/testing/index.js';
import { isUnwrittenEpoch } from '../../src/protocol/frames.js';

// Importing the shared helper checks that Redis answers: without it, these tests fail at once, in one line.
import { REDIS_URL } from '../support/redis.js';

/** A prefix no other test or process uses. */
function uniquePrefix(): string {
  return `lifeline-test:${process.pid}:${randomBytes(6).toString('hex')}:`;
}

let admin: Redis;
const used = new Set<string>();

/** Delete every key under `prefix` (SCAN, never KEYS: other users of this Redis are not blocked). */
async function deletePrefix(prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await admin.del(...keys);
  } while (cursor !== '0');
}

beforeAll(() => {
  admin = new Redis(REDIS_URL, { lazyConnect: false });
});
afterEach(async () => {
  for (const prefix of used) await deletePrefix(prefix);
  used.clear();
});
afterAll(async () => {
  await admin.quit();
});

describe('redis engine', () => {
  const prefixes = new WeakMap<RedisStore, string>();

  function open(prefix: string, opts: object): RedisStore {
    used.add(prefix);
    const store = createRedisStore({ ...opts, url: REDIS_URL, prefix });
    prefixes.set(store, prefix);
    return store;
  }

  storeConformance({
    name: 'redis',
    open: (opts) => open(uniquePrefix(), opts),
    reopen: (previous, opts) => open(prefixes.get(previous as RedisStore)!, opts),
    test: { describe, it, expect, afterEach },
    presence: true,
  });
});

describe('redis engine specifics', () => {
  const stores = new Set<RedisStore>();
  afterEach(async () => {
    for (const store of stores) await store.close();
    stores.clear();
  });

  function open(prefix: string, extra: Partial<Parameters<typeof createRedisStore>[0]> = {}): RedisStore {
    used.add(prefix);
    const store = createRedisStore({ url: REDIS_URL, prefix, ...extra });
    stores.add(store);
    return store;
  }

  async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Resolves with the first event of `type` the store reports. */
  function nextEvent(events: RedisStoreEvent[], type: RedisStoreEvent['type'], timeoutMs = 10_000): Promise<RedisStoreEvent> {
    const start = events.length;
    return new Promise((resolve, reject) => {
      const started = Date.now();
      const poll = setInterval(() => {
        const found = events.slice(start).find((e) => e.type === type);
        if (found) {
          clearInterval(poll);
          resolve(found);
        } else if (Date.now() - started > timeoutMs) {
          clearInterval(poll);
          reject(new Error(`no ${type} event within ${timeoutMs} ms`));
        }
      }, 10);
    });
  }

  it('validates its options synchronously', () => {
    expect(() => createRedisStore({ url: '' })).toThrow(TypeError);
    expect(() => createRedisStore({ url: REDIS_URL, prefix: '' })).toThrow(TypeError);
    expect(() => createRedisStore({ url: REDIS_URL, livenessIntervalMs: 0 })).toThrow(RangeError);
    expect(() => createRedisStore({ url: REDIS_URL, commandTimeoutMs: Number.NaN })).toThrow(RangeError);
    expect(() => createRedisStore({ url: REDIS_URL, history: { maxCount: -1 } })).toThrow(RangeError);
  });

  it('keeps every key under its prefix, and reports itself available once connected', async () => {
    const prefix = uniquePrefix();
    const changes: [boolean, string | undefined][] = [];
    const store = open(prefix);
    store.onAvailability((up, reason) => changes.push([up, reason]));
    await store.append('news', { n: 1 }, { idempotencyKey: 'k' });
    await store.saveSession({ id: 's', tokenHash: 'h', channels: ['news'], expiresAt: Date.now() + 60_000 });
    await store.claimMessage('s', 1);
    expect(store.available).toBe(true);
    expect(changes.map(([up]) => up)).toEqual([true]);
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, found] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      keys.push(...found);
    } while (cursor !== '0');
    expect(keys.length).toBeGreaterThanOrEqual(5);
    expect(keys.every((k) => k.startsWith(prefix))).toBe(true);
  });

  for (const fanout of ['interest', 'broadcast'] as const) {
    it(`presence (${fanout} fan-out): every change reaches the other store's presence watch with its channel's version; a node's records keep to the prefix and go with the last member`, async () => {
      const prefix = uniquePrefix();
      const [a, b] = [open(prefix, { fanout }), open(prefix, { fanout })];
      const got: PresenceChange[] = [];
      b.presence!.watch!((c) => got.push(c));
      const follow = b.follow('room'); // interest: a node hears the channels it follows
      await follow.ready;
      const A = { node: 'na', connection: 'c1' };
      const join = { graceMs: 100, maxMembers: 10 };
      await a.presence!.refreshNode('na', 60_000);
      await a.presence!.join('room', { session: 's1', user: 'u', info: { k: [1] } }, A, join);
      await a.presence!.join('room', { session: 's2' }, A, join);
      await a.presence!.detach('s2', ['room'], A, 100);
      await a.presence!.leave('s1', ['room']);
      await new Promise((r) => setTimeout(r, 150));
      const swept = await b.presence!.expire(10);
      expect(swept.map((c) => c.member.session)).toEqual(['s2']);
      await until(() => got.length === 4);
      expect(got.map((c) => `${c.kind} ${c.member.session} ${c.version!.seq}`)).toEqual(['join s1 1', 'join s2 2', 'leave s1 3', 'leave s2 4']);
      expect(got[0]).toEqual({ kind: 'join', channel: 'room', member: { session: 's1', user: 'u', info: { k: [1] } }, version: got[0]!.version });
      expect(await b.presence!.snapshot!('room')).toEqual({ members: [] });
      // Nothing of the channel's presence is left; the indexes and the node's lease stay under the prefix.
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, found] = await admin.scan(cursor, 'MATCH', `${prefix}*pres*`, 'COUNT', 1000);
        cursor = next;
        keys.push(...found);
      } while (cursor !== '0');
      expect(keys.filter((k) => /pres:|pidx:/.test(k))).toEqual([]);
      follow.release();
    });
  }

  it('a new epoch appears when Redis lost the channel (its meta key)', async () => {
    const prefix = uniquePrefix();
    const store = open(prefix);
    const first = await store.append('a', 1);
    await store.append('a', 2);
    await admin.del(redisKeys(prefix).channel('a').meta); // as if Redis restarted without persistence (for this channel)
    const head = await store.head('a');
    expect(isUnwrittenEpoch(head.epoch)).toBe(true);
    expect(head.offset).toBe(0);
    const read = await store.read('a', { epoch: first.message.epoch, offset: 2 }, 10);
    expect(read.complete).toBe(false);
    expect(read.messages).toEqual([]);
    const next = await store.append('a', 3);
    expect(next.message.offset).toBe(1);
    expect(next.message.epoch).not.toBe(first.message.epoch);
    expect(isUnwrittenEpoch(next.message.epoch)).toBe(false);
  });

  it('watch: listeners of two instances that follow a channel both receive an append made through a third', async () => {
    const prefix = uniquePrefix();
    const a = open(prefix);
    const b = open(prefix);
    const c = open(prefix);
    const gotA: StoredMessage[] = [];
    const gotB: StoredMessage[] = [];
    a.watch((m) => gotA.push(m));
    b.watch((m) => gotB.push(m));
    await Promise.all([a.follow('room:1').ready, b.follow('room:1').ready]);

    const { message } = await c.append('room:1', { text: 'hello' });
    const dup = await c.append('room:1', { text: 'again' }, { idempotencyKey: 'k' });
    await c.append('room:1', { text: 'again' }, { idempotencyKey: 'k' }); // a duplicate: not published again
    await c.append('room:2', 'not followed');
    await expect.poll(() => gotA.length).toBe(2);
    await expect.poll(() => gotB.length).toBe(2);
    expect(gotA).toEqual([message, dup.message]);
    expect(gotB).toEqual([message, dup.message]);
    expect(gotA[0]).not.toBe(gotB[0]); // no shared objects
    // Another prefix's appends are not seen, nor channels not followed.
    await open(uniquePrefix()).append('room:1', 'elsewhere');
    await new Promise((r) => setTimeout(r, 100));
    expect(gotA).toHaveLength(2);
    expect(a.fanoutStats()).toMatchObject({ received: 2, followed: 1, connections: 1 });
  });

  it('watch: unsubscribing stops delivery; a listener that throws does not stop the others', async () => {
    const prefix = uniquePrefix();
    const events: RedisStoreEvent[] = [];
    const store = open(prefix, { onEvent: (e) => events.push(e) });
    const got: number[] = [];
    const offThrowing = store.watch(() => {
      throw new Error('listener bug');
    });
    const off = store.watch((m) => got.push(m.offset));
    await store.follow('a').ready;
    await store.append('a', 1);
    await expect.poll(() => got).toEqual([1]);
    expect(events.some((e) => e.type === 'listener-error')).toBe(true);
    off();
    offThrowing();
    await store.append('a', 2);
    await new Promise((r) => setTimeout(r, 100));
    expect(got).toEqual([1]);
  });

  it('follow: the topic is subscribed once per channel, and given up a linger after the last release', async () => {
    const prefix = uniquePrefix();
    const store = open(prefix, { lingerMs: 200 });
    const topic = redisKeys(prefix).channel('room').topic;
    const subscribers = async (): Promise<number> => Number(((await admin.call('PUBSUB', 'NUMSUB', topic)) as [string, number])[1]);
    const one = store.follow('room');
    const two = store.follow('room');
    await Promise.all([one.ready, two.ready]);
    expect(await subscribers()).toBe(1);
    one.release();
    one.release(); // idempotent
    two.release();
    // Still there during the linger (a client that comes back finds it subscribed)...
    expect(await subscribers()).toBe(1);
    const again = store.follow('room');
    await again.ready;
    await new Promise((r) => setTimeout(r, 400));
    expect(await subscribers()).toBe(1);
    again.release();
    // ...and gone after it.
    await expect.poll(subscribers, { timeout: 5000 }).toBe(0);
    expect(store.fanoutStats().followed).toBe(0);
  });

  it('broadcast: every append reaches every watcher, followed or not', async () => {
    const prefix = uniquePrefix();
    const a = open(prefix, { fanout: 'broadcast' });
    const b = open(prefix, { fanout: 'broadcast' });
    const got: string[] = [];
    a.watch((m) => got.push(m.channel));
    await a.follow('x').ready;
    await b.append('x', 1);
    await b.append('y', 2);
    await expect.poll(() => got).toEqual(['x', 'y']);
  });

  it('refuses, with a clear error, a prefix that holds the layout before partitioning', async () => {
    const prefix = uniquePrefix();
    used.add(prefix);
    await admin.sadd(`${prefix}channels`, 'old-channel');
    const store = open(prefix);
    const error = await store.append('a', 1).catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe('LIFELINE_ERR_STORE');
    expect((error as Error).message).toMatch(/first Redis layout/);
    expect(store.available).toBe(false);
    // Nothing was written beside the old data.
    expect(await admin.exists(redisKeys(prefix).layout)).toBe(0);
  });
});

describe('redis engine against the reference (memory), random operations', () => {
  /** A small deterministic PRNG (mulberry32), so a failure names its seed. */
  function rng(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  const optionSets: StoreOptions[] = [
    { history: { maxCount: 4, maxAgeMs: 1000 }, dedupeTtlMs: 700 },
    { history: { maxCount: 0, maxAgeMs: 0 }, dedupeTtlMs: 0 },
    { history: { maxCount: Infinity, maxAgeMs: Infinity }, dedupeTtlMs: Infinity },
  ];
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8, 9]) {
    const storeOptions = optionSets[seed % optionSets.length]!;
    it(`gives the same answers as the memory store (seed ${seed}, ${JSON.stringify(storeOptions)})`, async () => {
      const random = rng(seed);
      const pick = <T,>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
      let t = 1_700_000_000_000;
      const options = { ...storeOptions, now: () => t };
      const prefix = uniquePrefix();
      used.add(prefix);
      const redis = createRedisStore({ ...options, url: REDIS_URL, prefix });
      const memory = createMemoryStore(options);
      // Epochs are random per engine: compare them by the order each engine first showed them.
      const labels = [new Map<string, string>(), new Map<string, string>()];
      const label = (engine: number, epoch: string): string => {
        const map = labels[engine]!;
        if (!map.has(epoch)) map.set(epoch, `epoch${map.size}`);
        return map.get(epoch)!;
      };
      const normalize = (engine: number, value: unknown): unknown =>
        JSON.parse(JSON.stringify(value ?? null), (key, v: unknown) => (key === 'epoch' && typeof v === 'string' ? label(engine, v) : v));
      // Lone surrogates: distinct names that UTF-8 would merge must stay distinct channels.
      const channels = ['a', 'b', 'ü/🎉', '\ud800', '\ud801', 'x"\\'];
      const sessions = ['s1', 's2'];
      try {
        for (let step = 0; step < 250; step++) {
          const op = Math.floor(random() * 10);
          const channel = pick(channels);
          let run: (store: Store) => Promise<unknown>;
          if (op <= 2) {
            const key = random() < 0.5 ? pick(['k1', 'k2', 'k3']) : undefined;
            const data = { step, r: random() };
            run = (s) => s.append(channel, data, key === undefined ? {} : { idempotencyKey: key });
          } else if (op <= 4) {
            const mode = random();
            const offset = Math.floor(random() * 12);
            const limit = Math.floor(random() * 6);
            run = async (s) => {
              const head = await s.head(channel);
              const from = mode < 0.1 ? undefined : { epoch: mode < 0.2 ? 'foreign' : head.epoch, offset };
              return s.read(channel, from, limit);
            };
          } else if (op === 5) {
            run = (s) => s.head(channel);
          } else if (op === 6) {
            const id = pick(sessions);
            const expiresAt = random() < 0.1 ? Infinity : t + Math.floor(random() * 2000) - 200;
            const record = { id, tokenHash: `h${step}`, channels: [channel], expiresAt, ...(random() < 0.5 ? { user: 'u' } : {}) };
            run = async (s) => {
              await s.saveSession(record);
              return s.loadSession(id);
            };
          } else if (op === 7) {
            const id = pick(sessions);
            const messageId = Math.floor(random() * 4) - 1;
            const finish = random() < 0.4;
            const outcome = random() < 0.5 ? { state: 'done' as const } : { state: 'failed' as const, incident: `i${step}` };
            run = (s) => (finish ? s.finishMessage(id, messageId, outcome) : s.claimMessage(id, messageId));
          } else if (op === 8) {
            const id = pick(sessions);
            const remove = random() < 0.3;
            run = async (s) => (remove ? s.deleteSession(id) : s.loadSession(id));
          } else {
            run = (s) => s.sweep();
          }
          // `random` is consumed while building `run`, never inside it, so both engines see the same operation.
          // Rejections are answers too (a reused key is a conflict): compare their codes.
          const settle = (p: Promise<unknown>) => p.catch((e: unknown) => ({ rejected: (e as { code?: string }).code ?? (e as Error).name }));
          const [got, want] = [await settle(run(redis)), await settle(run(memory))];
          expect(normalize(0, got), `step ${step}, op ${op}`).toEqual(normalize(1, want));
          if (random() < 0.4) t += Math.floor(random() * 400);
        }
      } finally {
        await redis.close();
        await memory.close();
      }
    });
  }
});
