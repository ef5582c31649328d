/**
 * Issue 16's failover, automated, on real processes: a private Redis primary and replica, a server (in
 * this process, on a real port) whose store reaches Redis through a small TCP proxy (the "service
 * address" a failover moves), and raw lifeline.v1 subscribers.
 *
 * The scenario: a1–a3 published; the replica frozen (SIGSTOP); tens of MB of filler written so the
 * replication stream outgrows every socket buffer; a4–a6 published; the primary SIGKILLed; the replica
 * continued and promoted (REPLICAOF NO ONE); the proxy moved to it; publishing goes on.
 * - durability `replicas`: a4–a6 are refused ("outcome unknown") while the replica is frozen, so no
 *   acknowledged message is lost; their resends (same idempotency keys) land after the failover; no
 *   offset is ever seen with two different data; the epoch does not change.
 * - durability `primary`: a4–a6 are acknowledged and lost with the primary; the fence rotates the epoch
 *   at the next publish: a live subscriber and a resuming one are both told (`recovered: false`, a new
 *   epoch), never handed other data under offsets they had.
 */
import { once } from 'node:events';
import { createServer as createTcpServer, connect, type Server, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { EventFrame, ServerFrame } from '../../src/protocol/index.js';
import { createServer, type LifelineServer } from '../../src/server/index.js';
import { createMetrics } from '../../src/server/metrics/index.js';
import { StoreOutcomeUnknownError } from '../../src/store/errors.js';
import { createRedisStore, type RedisDurability, type RedisStore } from '../../src/store/redis/index.js';
import { freePort } from '../support/ports.js';
import { PrivateRedis } from '../support/private-redis.js';
import { connectV1, type V1Peer } from '../support/v1-peer.js';

/** A TCP proxy to one Redis; `moveTo` points it elsewhere and cuts every connection (as a failover does). */
class Proxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #target: number;
  port = 0;
  constructor(target: number) {
    this.#target = target;
    this.#server = createTcpServer((client) => {
      const upstream = connect(this.#target, '127.0.0.1');
      this.#sockets.add(client).add(upstream);
      const drop = (): void => {
        client.destroy();
        upstream.destroy();
        this.#sockets.delete(client);
        this.#sockets.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream).pipe(client);
    });
  }
  async listen(): Promise<void> {
    this.#server.listen(0, '127.0.0.1');
    await once(this.#server, 'listening');
    this.port = (this.#server.address() as { port: number }).port;
  }
  moveTo(target: number): void {
    this.#target = target;
    for (const socket of this.#sockets) socket.destroy();
  }
  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise((r) => this.#server.close(r));
  }
}

/** Wait until `replica` has processed everything `primary` had written when this was called. */
async function caughtUp(primary: PrivateRedis, replica: PrivateRedis): Promise<void> {
  const [p, r] = [new Redis(primary.url), new Redis(replica.url)];
  try {
    const target = Number(/master_repl_offset:(\d+)/.exec(await p.info('replication'))![1]);
    while (Number(/master_repl_offset:(\d+)/.exec(await r.info('replication'))?.[1] ?? 0) < target) await new Promise((resolve) => setTimeout(resolve, 20));
  } finally {
    p.disconnect();
    r.disconnect();
  }
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Retry a publish while the store is away or unsure, with the same idempotency key, until it is acknowledged. */
async function publishUntilAcknowledged(server: LifelineServer, channel: string, data: string): Promise<{ epoch: string; offset: number }> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const { message } = await server.publish(channel, data, { idempotencyKey: data });
      return { epoch: message.epoch, offset: message.offset };
    } catch (error) {
      const code = (error as { code?: string }).code;
      if ((code !== 'LIFELINE_ERR_STORE_UNAVAILABLE' && code !== 'LIFELINE_ERR_STORE_OUTCOME_UNKNOWN') || Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Every (epoch, offset) → data a peer was sent; fails the test on one offset seen with two data. */
function history(peers: V1Peer[]): Map<string, unknown> {
  const seen = new Map<string, unknown>();
  for (const peer of peers) {
    for (const f of peer.frames as ServerFrame[]) {
      if (f.t !== 'ev') continue;
      const e = f as EventFrame;
      const key = `${e.epoch}:${e.off}`;
      if (seen.has(key)) expect(seen.get(key), `${key} seen with two data`).toEqual(e.data);
      seen.set(key, e.data);
    }
  }
  return seen;
}

async function scenario(durability: RedisDurability) {
  const primary = new PrivateRedis(await freePort());
  await primary.start();
  const replica = new PrivateRedis(await freePort(), ['--replicaof', '127.0.0.1', String(primary.port)]);
  await replica.start();
  cleanups.push(() => primary.kill(), () => replica.kill());
  await replica.waitLinked();
  const proxy = new Proxy(primary.port);
  await proxy.listen();
  cleanups.push(() => proxy.close());

  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const store: RedisStore = createRedisStore({ url: `redis://127.0.0.1:${proxy.port}`, prefix: 'fo:', durability, replicationTimeoutMs: 500, commandTimeoutMs: 2000 });
  const server = createServer({ store, logger: pino({ level: 'warn' }, sink), drainWindowMs: 0, graceMs: 0 });
  const { port } = await server.listen(0);
  cleanups.push(() => server.shutdown());
  const url = `ws://127.0.0.1:${port}/`;

  const live = await connectV1(url);
  cleanups.push(() => live.ws.terminate());
  live.send({ t: 'hello', v: 1 });
  await live.next((f) => f.t === 'welcome');
  live.send({ t: 'sub', ch: 'news' });
  await live.next((f) => f.t === 'subscribed');

  const acknowledged = new Map<string, { epoch: string; offset: number }>();
  for (const data of ['a1', 'a2', 'a3']) acknowledged.set(data, await publishUntilAcknowledged(server, 'news', data));
  const epoch = acknowledged.get('a1')!.epoch;

  // The replica has a1-a3 before it is frozen (else a1-a3 could be lost too, and the whole channel with them).
  await caughtUp(primary, replica);
  replica.signal('SIGSTOP');
  // Filler the replication stream must carry before a4-a6: more than the loopback socket buffers hold
  // (the kernel's ceilings here are a few MB to 32 MB), so a4-a6 are still in the primary's memory when it dies.
  const raw = new Redis(primary.url);
  const mb = 'x'.repeat(1024 * 1024);
  const pipeline = raw.pipeline();
  for (let i = 0; i < 48; i++) pipeline.set(`filler:${i}`, mb);
  await pipeline.exec();
  raw.disconnect();

  const refused: string[] = [];
  for (const data of ['a4', 'a5', 'a6']) {
    try {
      const { message } = await server.publish('news', data, { idempotencyKey: data });
      acknowledged.set(data, { epoch: message.epoch, offset: message.offset });
    } catch (error) {
      expect(error).toBeInstanceOf(StoreOutcomeUnknownError);
      refused.push(data);
    }
  }
  // What the live subscriber had before the failover.
  if (durability === 'primary') await live.next((f) => f.t === 'ev' && (f as EventFrame).off === 6);
  else await live.next((f) => f.t === 'ev' && (f as EventFrame).off === 3);
  const before = [...history([live]).entries()];

  await primary.kill();
  replica.signal('SIGCONT');
  const promoted = new Redis(replica.url);
  // Promoted once it noticed its primary is gone (it read what reached its socket first), as Sentinel would.
  while (!/master_link_status:down/.test(await promoted.info('replication'))) await new Promise((r) => setTimeout(r, 50));
  await promoted.replicaof('NO', 'ONE');
  promoted.disconnect();
  // A replica for the new primary (durability replicas needs one to acknowledge anything).
  const spare = new PrivateRedis(await freePort(), ['--replicaof', '127.0.0.1', String(replica.port)]);
  await spare.start();
  cleanups.push(() => spare.kill());
  await spare.waitLinked();
  proxy.moveTo(replica.port);

  for (const data of refused) acknowledged.set(data, await publishUntilAcknowledged(server, 'news', data));
  for (const data of ['b1', 'b2', 'b3']) acknowledged.set(data, await publishUntilAcknowledged(server, 'news', data));
  return { server, store, url, live, epoch, refused, acknowledged, before, logs };
}

describe('a Redis failover to a replica that was behind', () => {
  it("durability 'replicas': nothing acknowledged is lost, no offset is reused with other data, the epoch stays", async () => {
    const { server, store, url, live, epoch, refused, acknowledged, before } = await scenario('replicas');
    // The frozen replica could not acknowledge a4-a6: refused (the publisher resent them after the failover).
    expect(refused).toEqual(['a4', 'a5', 'a6']);
    // Every acknowledged message is there, where its acknowledgement said, in the one epoch.
    const read = await store.read('news', { epoch, offset: 0 }, 100);
    expect(read.complete).toBe(true);
    const stored = new Map(read.messages.map((m) => [m.data as string, { epoch: m.epoch, offset: m.offset }]));
    for (const [data, position] of acknowledged) expect(stored.get(data), data).toEqual(position);
    expect(read.messages.map((m) => m.data)).toEqual(['a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'b1', 'b2', 'b3']);
    expect(read.messages.every((m) => m.epoch === epoch)).toBe(true);
    expect(server.stats().storeRollbacks).toBe(0);
    const metrics = createMetrics(server);
    const text = await metrics.metrics();
    metrics.close();
    // a4-a6, each refused once for want of the frozen replica (their resends then waited for the new primary's replica).
    expect(Number(/^lifeline_store_replication_short_total (\d+)/m.exec(text)?.[1])).toBeGreaterThanOrEqual(3);
    expect(text).toMatch(/^lifeline_store_rollbacks_total 0$/m);
    // The live subscriber got everything once, in order, and nothing it had changed meaning.
    await live.next((f) => f.t === 'ev' && (f as EventFrame).off === 9, 15_000);
    const got = (live.frames as ServerFrame[]).filter((f) => f.t === 'ev').map((f) => `${(f as EventFrame).off}:${String((f as EventFrame).data)}`);
    expect(got).toEqual(['1:a1', '2:a2', '3:a3', '4:a4', '5:a5', '6:a6', '7:b1', '8:b2', '9:b3']);
    const after = history([live]);
    for (const [key, data] of before) expect(after.get(key)).toEqual(data);
    // A client resuming from where the live one was before the failover: exact.
    const resumed = await connectV1(url);
    resumed.send({ t: 'hello', v: 1 });
    await resumed.next((f) => f.t === 'welcome');
    resumed.send({ t: 'sub', ch: 'news', from: { epoch, offset: 3 } });
    expect(await resumed.next((f) => f.t === 'subscribed')).toMatchObject({ epoch, offset: 3, recovered: true });
    resumed.ws.terminate();
  }, 120_000);

  it("durability 'primary': the loss is detected, the epoch rotated, every client told, no offset handed out twice", async () => {
    const { server, store, url, live, epoch, refused, acknowledged, before, logs } = await scenario('primary');
    expect(refused).toEqual([]);
    // a4-a6 were acknowledged and are gone with the primary: the fence rotated the channel's epoch.
    expect(acknowledged.get('a6')).toEqual({ epoch, offset: 6 });
    const b1 = acknowledged.get('b1')!;
    expect(b1.epoch).not.toBe(epoch);
    expect(b1.offset).toBe(1);
    expect(server.stats().storeRollbacks).toBe(1);
    expect(store.durabilityStats().rollbacks).toBe(1);
    const metrics = createMetrics(server);
    const text = await metrics.metrics();
    metrics.close();
    expect(text).toMatch(/^lifeline_store_rollbacks_total 1$/m);
    expect(text).toMatch(/^lifeline_store_replication_short_total 0$/m);
    expect(logs).toContainEqual(expect.objectContaining({ level: 40, channel: 'news', epoch, newEpoch: b1.epoch, seen: 6, found: 3 }));
    // A client resuming with the position it had (epoch, 6): told recovered false, in the new epoch.
    const resumed = await connectV1(url);
    resumed.send({ t: 'hello', v: 1 });
    await resumed.next((f) => f.t === 'welcome');
    resumed.send({ t: 'sub', ch: 'news', from: { epoch, offset: 6 } });
    expect(await resumed.next((f) => f.t === 'subscribed')).toMatchObject({ epoch: b1.epoch, recovered: false });
    resumed.ws.terminate();
    // The live subscriber is told, unasked: a subscribed in the new epoch, recovered false, then its messages.
    const told = await live.next((f) => f.t === 'subscribed', 15_000);
    expect(told).toMatchObject({ ch: 'news', epoch: b1.epoch, recovered: false });
    const next = await live.next<EventFrame>((f) => f.t === 'ev' && (f as EventFrame).epoch === b1.epoch, 15_000);
    expect(next.off).toBeGreaterThan((told as { offset: number }).offset);
    // ... and nothing it had was ever handed out again with other data under the same epoch and offset.
    const after = history([live]);
    for (const [key, data] of before) expect(after.get(key)).toEqual(data);
    expect([...after.keys()].filter((k) => k.startsWith(`${epoch}:`)).sort()).toEqual([1, 2, 3, 4, 5, 6].map((n) => `${epoch}:${n}`));
  }, 120_000);
});
