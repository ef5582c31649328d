/**
 * Durability `replicas` on a Redis Cluster of 3 masters and 3 replicas (real processes, issue 16):
 * - each batch's WAIT runs on the connection that wrote it, to the master of its slot: a frozen replica
 *   makes exactly its master's appends "outcome unknown", and no other's;
 * - the drill: three `lifeline serve` processes with `--durability replicas`, clients and publishers
 *   (HTTP and the protocol) under load, one master SIGKILLed mid-run; the cluster promotes its replica,
 *   and the killed node comes back as the new master's replica. The verdict: 0 acknowledged lost,
 *   0 duplicated, 0 out of order, every client exact or told. Skipped, with one line, without redis-server 7.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { StoreOutcomeUnknownError } from '../../src/store/errors.js';
import { createRedisStore, type RedisStore } from '../../src/store/redis/index.js';
import { redisKeys } from '../../src/store/redis/keys.js';
import { keySlot } from '../../src/store/redis/partitions.js';
import { startDrill } from '../support/drill-process.js';
import { clusterSkipReason, RedisCluster } from '../support/redis-cluster.js';
import { killAll, startServe, tempDataDir, type ServeProcess } from '../support/serve-process.js';

const KEY = 'cluster-failover-key-0123456789';
const skip = clusterSkipReason();
if (skip) console.log(`redis cluster failover drill skipped: ${skip}`);

let cluster: RedisCluster;
const stores = new Set<RedisStore>();
beforeAll(async () => {
  if (skip) return;
  cluster = await RedisCluster.start(3, 1);
  await cluster.waitForReplicas(1);
  console.log(`redis cluster: 3 masters + 3 replicas up in ${cluster.startMs} ms`);
}, 60_000);
afterEach(async () => {
  for (const store of stores) await store.close();
  stores.clear();
  await killAll();
});
afterAll(async () => {
  await cluster?.stop();
});

/** The port of the (first) replica of the master at `port`. */
async function replicaOf(port: number): Promise<number> {
  const redis = cluster.connect(port);
  try {
    const info = await redis.info('replication');
    return Number(/^slave0:.*port=(\d+)/m.exec(info)![1]);
  } finally {
    redis.disconnect();
  }
}

describe.skipIf(skip !== undefined)('durability replicas on a Redis Cluster (3 masters, 3 replicas)', () => {
  it("WAIT runs where the append was written: a frozen replica stops exactly its own master's appends", async () => {
    const prefix = 'clw:';
    const store = createRedisStore({ cluster: cluster.urls, prefix, durability: 'replicas', replicationTimeoutMs: 400 });
    stores.add(store);
    const keys = redisKeys(prefix);
    // Channels on every master, and which master each is on.
    const byMaster = new Map<number, string[]>();
    for (let i = 0; i < 60; i++) {
      const channel = `c${i}`;
      const owner = await cluster.ownerOf(keySlot(keys.channel(channel).meta));
      byMaster.set(owner, [...(byMaster.get(owner) ?? []), channel]);
    }
    expect(byMaster.size).toBe(3);
    // All at once: batched per master, each batch behind one WAIT.
    await Promise.all([...byMaster.values()].flat().map((channel) => store.append(channel, 'first')));
    expect(store.durabilityStats().replicationShort).toBe(0);

    const [frozenMaster, ...others] = [...byMaster.keys()];
    const frozen = cluster.nodes.find((n) => n.port === frozenMaster)!;
    const replicaPort = await replicaOf(frozen.port);
    const replica = cluster.nodes.find((n) => n.port === replicaPort)!;
    replica.child.kill('SIGSTOP');
    try {
      const onFrozen = await Promise.allSettled(byMaster.get(frozenMaster!)!.map((channel) => store.append(channel, 'second')));
      const elsewhere = await Promise.allSettled(others.flatMap((port) => byMaster.get(port)!).map((channel) => store.append(channel, 'second')));
      expect(onFrozen.every((r) => r.status === 'rejected' && r.reason instanceof StoreOutcomeUnknownError)).toBe(true);
      expect(elsewhere.every((r) => r.status === 'fulfilled')).toBe(true);
      // Invisible to readers: the frozen master's channels still end at offset 1.
      for (const channel of byMaster.get(frozenMaster!)!) expect((await store.head(channel)).offset).toBe(1);
    } finally {
      replica.child.kill('SIGCONT');
    }
    // Resent once the replica answers again: committed.
    for (const channel of byMaster.get(frozenMaster!)!) expect((await store.append(channel, 'third')).message.offset).toBe(3);
    for (const channel of byMaster.get(frozenMaster!)!) expect((await store.head(channel)).offset).toBe(3);
  }, 60_000);

  it('drill: a master SIGKILLed under load; 0 acknowledged lost, 0 duplicated, 0 out of order, every client exact or told', async () => {
    const config = join(tempDataDir(), 'config.json');
    writeFileSync(config, JSON.stringify({ drainWindowMs: 800, graceMs: 1000, retryHint: { minMs: 200, maxMs: 1000 } }));
    const args = ['--store', cluster.storeUrl, '--redis-prefix', `fodrill${process.pid}:`, '--durability', 'replicas', '--replication-timeout', '500', '--config', config, '--publish-key', KEY, '--client-publish', 'drill.*'];
    const servers: ServeProcess[] = [];
    for (let i = 0; i < 3; i++) servers.push(await startServe(args));
    const drill = startDrill(
      servers.map((s) => s.url),
      ['--clients', '60', '--channels', '6', '--duration', '25s', '--rate', '10', '--client-rate', '0.5', '--settle', '20s', '--expect-restarts', '0', '--publish-key', KEY],
    );
    await new Promise((r) => setTimeout(r, 8000));
    // Not the node every helper asks first: any other master.
    const victim = (await cluster.masterPorts()).find((port) => port !== cluster.nodes[0]!.port)!;
    await cluster.kill(victim);
    const killedAt = Date.now();
    // Promoted: the victim's slots are served by another node (its replica), and every node says ok.
    // Restarting the victim before that would bring it back as a master without its data.
    for (;;) {
      const masters = await cluster.masterPorts().catch(() => [victim]);
      if (masters.length === 3 && !masters.includes(victim)) break;
      expect(Date.now() - killedAt, 'the cluster did not promote a replica').toBeLessThan(30_000);
      await new Promise((r) => setTimeout(r, 50));
    }
    await cluster.waitUntilOk();
    console.log(`cluster failover: replica promoted, cluster_state ok ${Date.now() - killedAt} ms after the SIGKILL of master ${victim}`);
    // The killed node comes back as the new master's replica: appends of its slots are acknowledged again.
    await cluster.restart(victim);
    await cluster.waitForReplicas(1);
    console.log(`cluster failover: every master has an online replica again ${Date.now() - killedAt} ms after the SIGKILL`);
    const { code, report, stderr } = await drill.done;
    console.log(`cluster failover drill: ${JSON.stringify(report.totals)}; HTTP publish retries ${report.publishRetries}, client rejects ${JSON.stringify(report.rejectReasons)}`);
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    const rollbacks = servers.flatMap((s) => s.logs.filter((l) => typeof l.msg === 'string' && l.msg.includes('epoch was rotated')));
    expect(rollbacks, 'no acknowledged message lost: the fence never had to rotate an epoch').toEqual([]);
    expect(report.totals.publishedHttp, stderr.slice(-1000)).toBeGreaterThan(300);
    expect(report.totals.publishedByClients).toBeGreaterThan(300);
    expect(report.totals.lost).toBe(0);
    expect(report.totals.duplicated).toBe(0);
    expect(report.totals.outOfOrder).toBe(0);
    expect(report.unacknowledged).toBe(0);
    expect(code).toBe(0);
  }, 180_000);
});
