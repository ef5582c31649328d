/**
 * Durability `replicas` (issue 16) on a private primary and replica (real redis-server processes on
 * spare ports): an append is acknowledged, readable and fanned out only once the replica has it; a
 * replica that does not answer (SIGSTOP) turns appends into "outcome unknown" without stalling reads;
 * the resend commits; `replicas-aof` is refused on a Redis without WAITAOF; the rollback fence rotates
 * an epoch that Redis shows shorter than this store saw, and never on a client's claim.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { StoreError, StoreOutcomeUnknownError } from '../../src/store/errors.js';
import { createRedisStore, type RedisStore, type RedisStoreEvent, type RedisStoreOptions, type StoreRollback } from '../../src/store/redis/index.js';
import { redisKeys } from '../../src/store/redis/keys.js';
import type { StoredMessage } from '../../src/store/types.js';
import { storeConformance } from '../../src/testing/index.js';
import { freePort } from '../support/ports.js';
import { PrivateRedis } from '../support/private-redis.js';
import { killAll, startServe } from '../support/serve-process.js';

let primary: PrivateRedis;
let replica: PrivateRedis;
let admin: Redis;
let replicaAdmin: Redis;
const stores = new Set<RedisStore>();
let prefixes = 0;

beforeAll(async () => {
  primary = new PrivateRedis(await freePort());
  await primary.start();
  replica = new PrivateRedis(await freePort(), ['--replicaof', '127.0.0.1', String(primary.port)]);
  await replica.start();
  admin = new Redis(primary.url);
  replicaAdmin = new Redis(replica.url);
  await replica.waitLinked();
});
afterEach(async () => {
  await killAll();
  replica.signal('SIGCONT');
  for (const store of stores) await store.close();
  stores.clear();
});
afterAll(async () => {
  admin?.disconnect();
  replicaAdmin?.disconnect();
  await replica?.kill();
  await primary?.kill();
});

function open(options: Partial<RedisStoreOptions> = {}, prefix = `dur${++prefixes}:`): RedisStore {
  const store = createRedisStore({ url: primary.url, prefix, durability: 'replicas', replicationTimeoutMs: 300, ...options });
  stores.add(store);
  return store;
}

describe('durability options', () => {
  it('are checked synchronously', () => {
    const url = 'redis://127.0.0.1:1';
    expect(() => createRedisStore({ url, durability: 'all' as never })).toThrow(/durability must be/);
    expect(() => createRedisStore({ url, durability: 'replicas', replicas: 0 })).toThrow(RangeError);
    expect(() => createRedisStore({ url, durability: 'replicas', replicas: 1.5 })).toThrow(RangeError);
    expect(() => createRedisStore({ url, durability: 'replicas', replicationTimeoutMs: 0 })).toThrow(RangeError);
    expect(() => createRedisStore({ url, durability: 'replicas', replicationTimeoutMs: 5000, commandTimeoutMs: 5000 })).toThrow(/less than commandTimeoutMs/);
    // Without replicas to wait for, a short commandTimeoutMs is fine.
    createRedisStore({ url, commandTimeoutMs: 500 }).close().catch(() => {});
  });
});

describe('durability replicas, one primary and one replica', () => {
  it('acknowledges an append once the replica has it, and the replica has it', async () => {
    const store = open();
    const { message } = await store.append('news', { n: 1 });
    expect(message.offset).toBe(1);
    // The replica holds the entry: WAIT said so before the append resolved.
    const k = redisKeys(store.prefix).channel('news');
    expect(await replicaAdmin.xlen(k.history)).toBe(1);
    expect(await store.head('news')).toEqual({ epoch: message.epoch, offset: 1 });
    const read = await store.read('news', { epoch: message.epoch, offset: 0 }, 10);
    expect(read.messages).toEqual([message]);
  });

  it('a replica that does not answer: "outcome unknown", counted, invisible to reads and the fan-out, reads not stalled; the resend commits it once, the later commit shows earlier entries', async () => {
    const events: RedisStoreEvent[] = [];
    const store = open({ onEvent: (e) => events.push(e) });
    const other = open({}, store.prefix);
    const got: StoredMessage[] = [];
    other.watch((m) => got.push(m));
    await other.follow('room').ready;
    const first = await store.append('room', 'a1', { idempotencyKey: 'k1' });
    await expect.poll(() => got.length).toBe(1);

    replica.signal('SIGSTOP');
    // A resend of a message committed before: answered as the duplicate it is, no replica needed.
    expect(await store.append('room', 'a1', { idempotencyKey: 'k1' })).toMatchObject({ duplicate: true, message: { offset: 1 } });
    // While the append waits for the replica, a head on the same store is answered (its own connection):
    // the head settles first, whatever the machine's speed, because the append cannot settle before the WAIT times out.
    const order: string[] = [];
    const pending = store.append('room', 'a2', { idempotencyKey: 'k2' }).then(
      () => order.push('append resolved'),
      (error: unknown) => {
        order.push('append rejected');
        return error;
      },
    );
    const head = await store.head('room');
    order.push('head');
    const error = await pending;
    expect(order).toEqual(['head', 'append rejected']);
    expect(error).toBeInstanceOf(StoreOutcomeUnknownError);
    expect(head).toEqual({ epoch: first.message.epoch, offset: 1 });
    expect(store.durabilityStats().replicationShort).toBe(1);
    expect(events).toContainEqual({ type: 'replication-short', appends: 1, acknowledged: 0, replicas: 1 });
    // Stored on the primary, but neither readable nor fanned out.
    const k = redisKeys(store.prefix).channel('room');
    expect(await admin.hget(k.meta, 'last')).toBe('2');
    expect(await other.head('room')).toEqual({ epoch: first.message.epoch, offset: 1 });
    expect((await other.read('room', { epoch: first.message.epoch, offset: 0 }, 10)).messages.map((m) => m.data)).toEqual(['a1']);
    // A second unconfirmed append without a key: also stored, also invisible.
    await expect(store.append('room', 'a3')).rejects.toBeInstanceOf(StoreOutcomeUnknownError);

    replica.signal('SIGCONT');
    // The resend with its key finds the stored message and commits it (and the one before it: WAIT
    // acknowledged the replication offset, which covers every earlier write).
    const resent = await store.append('room', 'a2', { idempotencyKey: 'k2' });
    expect(resent).toMatchObject({ duplicate: true, message: { offset: 2, data: 'a2' } });
    expect(await store.head('room')).toEqual({ epoch: first.message.epoch, offset: 2 });
    const next = await store.append('room', 'a4');
    expect(next.message.offset).toBe(4);
    const all = await other.read('room', { epoch: first.message.epoch, offset: 0 }, 10);
    expect(all.messages.map((m) => `${m.offset}:${String(m.data)}`)).toEqual(['1:a1', '2:a2', '3:a3', '4:a4']);
    // The fan-out carried each once, in order.
    await expect.poll(() => got.map((m) => m.offset)).toEqual([1, 2, 3, 4]);
  });

  it('refuses replicas-aof on a Redis without WAITAOF (before 7.2), with a clear error', async () => {
    const version = /redis_version:([0-9.]+)/.exec(await admin.info('server'))![1]!;
    const [major, minor] = version.split('.').map(Number) as [number, number];
    const store = open({ durability: 'replicas-aof' });
    if (major > 7 || (major === 7 && minor >= 2)) {
      // A Redis with WAITAOF: the mode works (the replica has no AOF here... it does: appendonly yes).
      expect((await store.append('x', 1)).message.offset).toBe(1);
      return;
    }
    const error = await store.append('x', 1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).code).toBe('LIFELINE_ERR_STORE');
    expect((error as Error).message).toMatch(new RegExp(`replicas-aof' needs WAITAOF.*7\\.2.*is ${version.replace(/\./g, '\\.')}`));
    await expect(store.head('x')).rejects.toThrow(/WAITAOF/);
  });

  it('serve: --durability replicas-aof on this Redis exits with the reason; --durability replicas with sqlite is a usage error', async () => {
    const version = /redis_version:([0-9.]+)/.exec(await admin.info('server'))![1]!;
    const [major, minor] = version.split('.').map(Number) as [number, number];
    const refuse = (args: string[]) => startServe(args).then(() => undefined, (e: unknown) => e as Error);
    if (major < 7 || (major === 7 && minor < 2)) {
      const error = await refuse(['--store', primary.url, '--redis-prefix', 'serveaof:', '--durability', 'replicas-aof']);
      expect(error?.message).toMatch(/server exited before the log entry/);
      expect(error?.message).toMatch(/replicas-aof' needs WAITAOF/);
    }
    const usage = await refuse(['--store', 'sqlite', '--durability', 'replicas']);
    expect(usage?.message).toMatch(/--durability replicas needs a Redis store/);
    // And the flags reach the store: a serve with --durability replicas acknowledges a publish the replica holds.
    const served = await startServe(['--store', primary.url, '--redis-prefix', 'serverep:', '--durability', 'replicas', '--replicas', '1', '--replication-timeout', '800', '--publish-key', 'durability-key-0123456789']);
    const res = await fetch(`http://127.0.0.1:${served.port}/publish`, {
      method: 'POST',
      headers: { authorization: 'Bearer durability-key-0123456789', 'content-type': 'application/json' },
      body: JSON.stringify({ channel: 'news', data: 'hello' }),
    });
    expect(res.status).toBe(200);
    // WAIT said the replica had the entry before the 200 (the commit mark itself replicates later).
    expect(await replicaAdmin.xlen(redisKeys('serverep:').channel('news').history)).toBe(1);
  });

  it('asking for more replicas than exist: every append is "outcome unknown", nothing is fanned out or readable', async () => {
    const store = open({ replicas: 2 });
    await expect(store.append('c', 1)).rejects.toBeInstanceOf(StoreOutcomeUnknownError);
    expect((await store.head('c')).offset).toBe(0);
    expect(store.durabilityStats().replicationShort).toBe(1);
  });
});

describe('the rollback fence', () => {
  it('rotates the epoch when Redis shows fewer entries than this store saw committed; reports it once', async () => {
    const store = open({ durability: 'primary' });
    const rollbacks: StoreRollback[] = [];
    store.onRollback((r) => rollbacks.push(r));
    for (let i = 1; i <= 6; i++) await store.append('ch', `a${i}`);
    const { epoch } = await store.head('ch');
    // As a failover to a replica that had only a1-a3 leaves it: same epoch, last 3.
    const k = redisKeys(store.prefix).channel('ch');
    await admin.xdel(k.history, '4-0', '5-0', '6-0');
    await admin.hset(k.meta, 'last', '3', 'committed', '3');
    const next = await store.append('ch', 'b1');
    expect(next.message.epoch).not.toBe(epoch);
    expect(next.message.offset).toBe(1);
    expect(rollbacks).toEqual([{ channel: 'ch', epoch, seen: 6, found: 3, newEpoch: next.message.epoch }]);
    // The old epoch's history went with it: a reader of the old epoch is told it is incomplete.
    const read = await store.read('ch', { epoch, offset: 6 }, 10);
    expect(read.complete).toBe(false);
    expect(read.messages.map((m) => m.data)).toEqual(['b1']);
    expect(store.durabilityStats().rollbacks).toBe(1);
  });

  it('a read or a head finds the rollback too (another process appended nothing yet)', async () => {
    const store = open({ durability: 'primary' });
    const rollbacks: StoreRollback[] = [];
    store.onRollback((r) => rollbacks.push(r));
    await store.append('h', 1);
    const { message } = await store.append('h', 2);
    await admin.hset(redisKeys(store.prefix).channel('h').meta, 'last', '1', 'committed', '1');
    const head = await store.head('h');
    expect(head.epoch).not.toBe(message.epoch);
    expect(head.offset).toBe(0);
    expect(rollbacks).toMatchObject([{ channel: 'h', seen: 2, found: 1 }]);
  });

  it("a client's claimed position ahead of the head is told incomplete, and rotates nothing", async () => {
    const store = open({ durability: 'primary' });
    const { message } = await store.append('p', 1);
    const fresh = open({ durability: 'primary' }, store.prefix);
    const rollbacks: StoreRollback[] = [];
    fresh.onRollback((r) => rollbacks.push(r));
    const read = await fresh.read('p', { epoch: message.epoch, offset: 99 }, 10);
    expect(read.complete).toBe(false);
    expect(read.head).toEqual({ epoch: message.epoch, offset: 1 });
    expect(await fresh.head('p')).toEqual({ epoch: message.epoch, offset: 1 });
    expect(rollbacks).toEqual([]);
  });

  it('the fan-out teaches the fence what other processes committed', async () => {
    const a = open({ durability: 'primary' });
    const b = open({ durability: 'primary' }, a.prefix);
    const rollbacks: StoreRollback[] = [];
    b.onRollback((r) => rollbacks.push(r));
    const got: number[] = [];
    b.watch((m) => got.push(m.offset));
    await b.follow('f').ready;
    await a.append('f', 1);
    await a.append('f', 2);
    await expect.poll(() => got).toEqual([1, 2]);
    await admin.hset(redisKeys(a.prefix).channel('f').meta, 'last', '1', 'committed', '1');
    await b.head('f');
    expect(rollbacks).toMatchObject([{ channel: 'f', seen: 2, found: 1 }]);
  });
});

describe('conformance with durability replicas (primary + replica)', () => {
  const opened = new Map<RedisStore, string>();
  let n = 0;
  const make = (prefix: string, opts: object): RedisStore => {
    const store = createRedisStore({ ...opts, url: primary.url, prefix, durability: 'replicas', replicationTimeoutMs: 2000 });
    opened.set(store, prefix);
    return store;
  };
  storeConformance({
    name: 'redis durability replicas',
    open: (opts) => make(`conf${++n}:`, opts),
    reopen: (previous, opts) => make(opened.get(previous as RedisStore)!, opts),
    test: { describe, it, expect, afterEach },
    presence: true,
  });
});
