/**
 * What one anonymous client can make the store keep: dedupe records for fresh message ids, channels
 * for fresh names, and session writes for subscription churn. Every one must be bounded by a default,
 * counted, and cheap per change.
 */
import { Redis } from 'ioredis';
import pino from 'pino';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type LifelineServer, type ServerOptions } from '../../src/server/index.js';
import { createMemoryStore } from '../../src/store/memory.js';
import { createSqliteStore } from '../../src/store/sqlite/index.js';
import { createRedisStore } from '../../src/store/redis/index.js';
import { allPartitions, redisKeys } from '../../src/store/redis/keys.js';
import type { ServerFrame } from '../../src/protocol/index.js';
import { connectV1, type V1Peer } from '../support/v1-peer.js';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../support/redis.js';
import { startServe } from '../support/serve-process.js';
import { useKit } from '../support/kit.js';
import { bytesWritten } from './support.js';

const { start, hello, defer } = useKit();

/** Count frames matching `predicate` until `count` arrived. */
async function count(peer: V1Peer, predicate: (f: ServerFrame) => boolean, n: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (peer.frames.filter(predicate).length < n) {
    if (Date.now() > deadline) throw new Error(`only ${peer.frames.filter(predicate).length} of ${n}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('store growth from one anonymous client', () => {
  it('30,000 fresh message ids keep at most 10,000 dedupe records, and an id beyond the window is answered honestly', async () => {
    const store = createMemoryStore();
    const { server, url } = await start({ store, onSessionMessage: () => undefined });
    const peer = await hello(url, 'fresh-ids-attacker-000001');
    const total = 30_000;
    for (let id = 1; id <= total; id++) peer.send({ t: 'msg', id, data: id });
    await count(peer, (f) => f.t === 'ack', total);
    const stats = await store.stats();
    console.log(`fresh ids: ${total} messages, ${stats.claims} claim records kept`);
    expect(stats.claims).toBeLessThanOrEqual(10_000);
    // The first id is no longer remembered: the server says it does not know, never "new" or "done".
    peer.send({ t: 'msg', id: 1, data: 1 });
    expect(await peer.next((f) => f.t === 'reject' && f.id === 1)).toMatchObject({ code: 'OUTCOME_UNKNOWN' });
    expect(server.stats().protocol.forgottenIds).toBe(1);
  });

  it('20,000 subscriptions to fresh channel names on sqlite leave no channel behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeline-growth-'));
    defer(() => rmSync(dir, { recursive: true, force: true }));
    const store = createSqliteStore({ path: join(dir, 'lifeline.db') });
    const { url } = await start({ store });
    const peer = await hello(url);
    const total = 20_000;
    for (let i = 0; i < total; i++) {
      peer.send({ t: 'sub', ch: `fresh.${i}` });
      peer.send({ t: 'unsub', ch: `fresh.${i}` });
    }
    await count(peer, (f) => f.t === 'unsubscribed', total);
    const stats = await store.stats();
    expect(stats.channels).toBe(0);
    expect(stats.sessionChannels).toBe(0);
    expect(stats.sessions).toBe(1);
  });

  for (const presence of [false, true]) it(`subscriptions to fresh channel names on Redis leave no key behind${presence ? ' (as presence members too)' : ''}`, async () => {
    const prefix = uniquePrefix('growth');
    defer(() => deletePrefix(REDIS_URL, prefix));
    const store = createRedisStore({ url: REDIS_URL, prefix });
    const { url } = await start({ store });
    const peer = await hello(url);
    const total = presence ? 1000 : 3000;
    for (let i = 0; i < total; i++) {
      peer.send({ t: 'sub', ch: `fresh.${i}`, ...(presence ? { presence: { info: { i } } } : {}) });
      peer.send({ t: 'unsub', ch: `fresh.${i}` });
    }
    await count(peer, (f) => f.t === 'unsubscribed', total);
    const admin = new Redis(REDIS_URL);
    defer(() => void admin.disconnect());
    // The layout's own keys are made once per prefix, whatever clients do: the layout record and each
    // partition's empty epoch; and presence's keys of the server processes (their leases, the index of
    // partitions with due members, the rescan's lock: under its own tag, a few per process, none per
    // channel). Everything else counts.
    const layout = redisKeys(prefix);
    const fixed = new Set([layout.layout, ...allPartitions().map((k) => layout.partition(k).emptyEpoch)]);
    const perProcess = (key: string) => key.startsWith(`${prefix}{presence}`);
    let keys = 0;
    let cursor = '0';
    do {
      const [next, batch] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      keys += batch.filter((key) => !fixed.has(key) && !perProcess(key)).length;
    } while (cursor !== '0');
    // The session's record and its channel hash: nothing per channel.
    expect(keys).toBeLessThanOrEqual(5);
  });

  it('a connection brings at most maxChannelsCreated channels into existence by publishing', async () => {
    const store = createMemoryStore();
    const { url } = await start({ store, authorizePublish: () => true, maxChannelsCreated: 100 });
    const peer = await hello(url, 'channel-creator-0000001');
    for (let i = 1; i <= 150; i++) peer.send({ t: 'pub', id: i, ch: `made.${i}`, data: i });
    await count(peer, (f) => f.t === 'ack' || f.t === 'reject', 150);
    expect(peer.frames.filter((f) => f.t === 'ack')).toHaveLength(100);
    expect(peer.frames.filter((f) => f.t === 'reject' && f.code === 'LIMIT')).toHaveLength(50);
    expect((await store.stats()).channels).toBe(100);
  });

  it('subscription churn writes one row per change: 1,000 subscriptions then 2,000 unsub/sub pairs on a real serve process', async () => {
    // The churn is the test, not the rate: serve's default rate limit would cut it short.
    const serve = await startServe(['--rate-limit', '100000/100000']);
    const peer = await hello(serve.url);
    for (let i = 0; i < 1000; i++) peer.send({ t: 'sub', ch: `churn.channel.number.${i}` });
    await count(peer, (f) => f.t === 'subscribed', 1000);
    const before = bytesWritten(serve.pid);
    for (let n = 0; n < 2000; n++) {
      const ch = `churn.channel.number.${n % 1000}`;
      peer.send({ t: 'unsub', ch });
      peer.send({ t: 'sub', ch });
    }
    await count(peer, (f) => f.t === 'subscribed', 3000);
    const written = bytesWritten(serve.pid) - before;
    console.log(`subscription churn: 4,000 changes wrote ${(written / 1024 / 1024).toFixed(1)} MiB`);
    // Rewriting the whole session (1,000 channels) per change wrote 159 MiB here; a row per change, 26 MiB.
    expect(written).toBeLessThan(80 * 1024 * 1024);
  });
});
