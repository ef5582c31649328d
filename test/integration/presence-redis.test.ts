/**
 * Presence on Redis between two servers in this process (each its own store, one prefix, as two nodes):
 * a member of either node is seen by watchers on both, leaves claimed by either reach both, queries on
 * both agree; and a subscription that breaks for real (node B's subscriber connects through a TCP relay
 * the test cuts) loses no leave: once B subscribes again it reads the channel and tells its watcher the
 * leave that happened meanwhile, counted in /metrics' figures; and Redis itself away for longer than a
 * lease and a grace period: nobody leaves, nobody joins again. (Restarts of real processes, the cluster
 * and SIGKILL: test/integration/presence-nodes.test.ts.)
 */
import { createServer as createTcpServer, connect, type Server as TcpServer, type Socket } from 'node:net';
import pino from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createSession, type LifelineSession, type PresenceEvent } from '../../src/client/index.js';
import { createServer, type LifelineServer } from '../../src/server/index.js';
import { createRedisStore } from '../../src/store/redis/index.js';
import { freePort } from '../support/ports.js';
import { PrivateRedis } from '../support/private-redis.js';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../support/redis.js';

const servers: LifelineServer[] = [];
const sessions: LifelineSession[] = [];
const prefixes: string[] = [];
afterEach(async () => {
  for (const s of sessions.splice(0)) s.close();
  await Promise.all(servers.splice(0).map((s) => s.shutdown()));
});
afterAll(async () => {
  for (const prefix of prefixes) await deletePrefix(REDIS_URL, prefix);
});

/** A node: a server on its own Redis store under `prefix`. */
async function node(prefix: string, extra: Partial<Parameters<typeof createRedisStore>[0]> = {}, presence = { presenceGraceMs: 1000, presenceLeaseMs: 1500 }) {
  const store = createRedisStore({ url: REDIS_URL, prefix, livenessIntervalMs: 500, ...extra });
  const server = createServer({
    logger: pino({ level: 'silent' }),
    store,
    drainWindowMs: 200,
    graceMs: 100,
    closeTimeoutMs: 200,
    retryHint: { minMs: 10, maxMs: 50 },
    ...presence,
  });
  servers.push(server);
  const { port } = await server.listen(0);
  return { server, store, url: `ws://127.0.0.1:${port}/` };
}

function open(url: string) {
  const session = createSession({ url, soon: { minMs: 10, maxMs: 50 }, backoff: { baseMs: 20, capMs: 100 } });
  sessions.push(session);
  const seen = { joins: [] as PresenceEvent[], leaves: [] as PresenceEvent[], subscribed: false };
  session.on('join', (e) => seen.joins.push(e));
  session.on('leave', (e) => seen.leaves.push(e));
  session.on('subscribed', () => void (seen.subscribed = true));
  session.on('error', () => undefined);
  return { session, seen };
}

async function until(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A TCP relay to Redis that the test can cut (every connection dropped, new ones refused at once) and restore. */
async function relay(target: URL): Promise<{ url: string; cut: () => void; restore: () => void; close: () => Promise<void> }> {
  let up = true;
  const sockets = new Set<Socket>();
  const server: TcpServer = createTcpServer((client) => {
    if (!up) {
      client.destroy();
      return;
    }
    const upstream = connect(Number(target.port || 6379), target.hostname);
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `redis://127.0.0.1:${port}`,
    cut: () => {
      up = false;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    restore: () => void (up = true),
    close: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

describe('presence on Redis between two nodes', () => {
  it('a member of either node is seen by the watchers of both; leaves claimed by either reach both; both nodes list the same members', async () => {
    const prefix = uniquePrefix('presence-nodes');
    prefixes.push(prefix);
    const [a, b] = [await node(prefix), await node(prefix)];
    const [watchA, watchB] = [open(a.url), open(b.url)];
    watchA.session.subscribe('room', { presence: { events: true } });
    await until(() => watchA.seen.subscribed, 'the watcher on A');
    watchB.session.subscribe('room', { presence: { events: true } });
    await until(() => watchB.seen.subscribed, 'the watcher on B');
    await until(() => watchA.seen.joins.length === 1, "A's watcher to see B's join");
    const onA = Array.from({ length: 5 }, () => open(a.url));
    const onB = Array.from({ length: 5 }, () => open(b.url));
    [...onA, ...onB].forEach((m, i) => m.session.subscribe('room', { presence: { info: { i } } }));
    await until(() => watchA.seen.joins.length === 11 && watchB.seen.joins.length === 10, 'the ten joins at both watchers');

    onA[0]!.session.close(); // ends its session: a leave at once, claimed by A
    onB[0]!.session.unsubscribe('room'); // a leave claimed by B
    await until(() => watchA.seen.leaves.length === 2 && watchB.seen.leaves.length === 2, 'two leaves at both watchers');
    const leftAt = (w: typeof watchA) => w.seen.leaves.map((e) => e.member.session).sort();
    expect(leftAt(watchA)).toEqual([onA[0]!.session.session, onB[0]!.session.session].sort());
    expect(leftAt(watchB)).toEqual(leftAt(watchA));

    const pageA = await a.server.presence('room');
    const pageB = await b.server.presence('room');
    expect(pageA.count).toBe(10);
    expect(pageB).toEqual(pageA);
    expect(pageA.members.map((m) => m.session).sort()).toEqual([watchA, watchB, ...onA.slice(1), ...onB.slice(1)].map((m) => m.session.session).sort());
    expect(watchA.seen.joins.filter((e) => e.member.session === onB[1]!.session.session)).toEqual([
      { channel: 'room', member: { session: onB[1]!.session.session!, info: { i: 6 } } },
    ]);
  });

  it("a leave made while node B's subscription was cut off reaches B's watcher once B subscribes again (read, not replayed), and is counted", async () => {
    const prefix = uniquePrefix('presence-catch-up');
    prefixes.push(prefix);
    const cutter = await relay(new URL(REDIS_URL));
    try {
      const a = await node(prefix);
      const b = await node(prefix, { subscriberUrl: cutter.url });
      const watcher = open(b.url);
      watcher.session.subscribe('room', { presence: { events: true } });
      await until(() => watcher.seen.subscribed, 'the watcher');
      const members = Array.from({ length: 3 }, () => open(a.url));
      members.forEach((m) => m.session.subscribe('room', { presence: {} }));
      await until(() => watcher.seen.joins.length === 3, 'three joins at B');

      cutter.cut();
      members[0]!.session.close();
      members[1]!.session.unsubscribe('room');
      const joiner = open(a.url);
      joiner.session.subscribe('room', { presence: { info: 'late' } });
      await until(() => joiner.seen.subscribed, 'a member joining during the cut');
      await until(() => (a.server.stats().presence.leaves >= 2), 'the two leaves to be made on A');
      expect(watcher.seen.leaves).toHaveLength(0);
      cutter.restore();

      await until(() => watcher.seen.leaves.length === 2 && watcher.seen.joins.length === 4, 'the missed leaves and join at B');
      await new Promise((r) => setTimeout(r, 300));
      expect(watcher.seen.leaves.map((e) => e.member.session).sort()).toEqual([members[0]!.session.session, members[1]!.session.session].sort());
      expect(watcher.seen.joins.at(-1)).toEqual({ channel: 'room', member: { session: joiner.session.session!, info: 'late' } });
      const stats = b.server.stats().presence;
      expect(stats.resyncs).toBeGreaterThanOrEqual(1);
      expect(stats.recovered).toBe(3);
      // After the catch-up, changes flow as before, each told once.
      members[2]!.session.close();
      await until(() => watcher.seen.leaves.length === 3, 'a leave after the catch-up');
      await new Promise((r) => setTimeout(r, 200));
      expect(watcher.seen.leaves).toHaveLength(3);
    } finally {
      await cutter.close();
    }
  });

  it('Redis away for longer than a lease and a grace period: once it is back, no member leaves and none joins again', async () => {
    const redis = new PrivateRedis(await freePort());
    await redis.start();
    try {
      const prefix = uniquePrefix('presence-outage');
      const timing = { presenceGraceMs: 1000, presenceLeaseMs: 600 };
      const a = await node(prefix, { url: redis.url, commandTimeoutMs: 500 }, timing);
      const b = await node(prefix, { url: redis.url, commandTimeoutMs: 500 }, timing);
      const watcher = open(b.url);
      watcher.session.subscribe('room', { presence: { events: true } });
      await until(() => watcher.seen.subscribed, 'the watcher');
      const members = [...Array.from({ length: 3 }, () => open(a.url)), ...Array.from({ length: 3 }, () => open(b.url))];
      members.forEach((m) => m.session.subscribe('room', { presence: {} }));
      await until(() => watcher.seen.joins.length === 6 && members.every((m) => m.seen.subscribed), 'six joins');
      // Each sub's last step (its session record) done too: the outage starts with every member settled.
      await new Promise((r) => setTimeout(r, 500));
      await redis.kill();
      await new Promise((r) => setTimeout(r, 2500)); // > lease + grace
      await redis.start();
      await until(() => a.server.stats().presence.leaseLapses >= 1 && b.server.stats().presence.leaseLapses >= 1, 'both nodes to renew their lease after the outage');
      await new Promise((r) => setTimeout(r, 3000)); // several leases and graces
      expect(watcher.seen.leaves).toEqual([]);
      expect(watcher.seen.joins).toHaveLength(6);
      expect((await a.server.presence('room')).count).toBe(7);
      expect(await b.server.presenceCount('room')).toBe(7);
    } finally {
      for (const s of sessions.splice(0)) s.close();
      await Promise.all(servers.splice(0).map((s) => s.shutdown()));
      await redis.kill();
    }
  });
});
