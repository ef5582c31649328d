/**
 * A private Redis Cluster for a test: `redis-server` processes on loopback (spare ports, a temp dir),
 * made a cluster with `redis-cli --cluster create`, each stopped by its pid at the end. Needs
 * `redis-server` and `redis-cli` on PATH (7+, for sharded pub/sub); {@link clusterSkipReason} says when
 * they are missing, so a test can skip with one clear line.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './ports.js';

/** Why cluster tests cannot run here, or undefined when they can. */
export function clusterSkipReason(): string | undefined {
  try {
    const version = execFileSync('redis-server', ['--version'], { encoding: 'utf8' });
    const major = Number(/v=(\d+)/.exec(version)?.[1] ?? 0);
    if (major < 7) return `redis-server ${major} is too old for sharded pub/sub (7+ needed)`;
    execFileSync('redis-cli', ['--version'], { encoding: 'utf8' });
    return undefined;
  } catch {
    return 'redis-server/redis-cli not on PATH (apt-get install redis-server)';
  }
}

/** One node of the cluster. */
export interface ClusterNode {
  readonly port: number;
  readonly busPort: number;
  child: ChildProcess;
}

/** A running cluster of masters (and replicas, if asked). */
export class RedisCluster {
  readonly dir = mkdtempSync(join(tmpdir(), 'lifeline-cluster-'));
  readonly nodes: ClusterNode[] = [];
  /** How long `start` took, in ms (reported by tests). */
  startMs = 0;
  /** The nodes' `cluster-node-timeout`, in ms (a restarted node gets the same). */
  private nodeTimeoutMs = 2000;

  private constructor() {}

  /** Start `masters` masters with `replicas` replicas each, and wait until the cluster answers `cluster_state:ok`. */
  static async start(masters = 3, replicas = 0, nodeTimeoutMs = 2000): Promise<RedisCluster> {
    const cluster = new RedisCluster();
    cluster.nodeTimeoutMs = nodeTimeoutMs;
    const started = Date.now();
    try {
      for (let i = 0; i < masters * (1 + replicas); i++) {
        const port = await freePort();
        const busPort = await freePort();
        cluster.nodes.push({ port, busPort, child: cluster.spawnNode(port, busPort, nodeTimeoutMs) });
      }
      for (const node of cluster.nodes) await waitForPing(node.port);
      execFileSync(
        'redis-cli',
        ['--cluster', 'create', ...cluster.nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', String(replicas), '--cluster-yes'],
        { stdio: 'ignore', timeout: 30_000 },
      );
      await cluster.waitUntilOk();
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    cluster.startMs = Date.now() - started;
    return cluster;
  }

  /** The nodes as `redis://127.0.0.1:<port>` URLs (what `createRedisStore({ cluster })` takes). */
  get urls(): string[] {
    return this.nodes.map((n) => `redis://127.0.0.1:${n.port}`);
  }

  /** `redis-cluster://127.0.0.1:p1,127.0.0.1:p2,...` (what `serve --store` takes). */
  get storeUrl(): string {
    return `redis-cluster://${this.nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`;
  }

  /** A plain connection to one node (for CLUSTER, PUBSUB, CLIENT commands). */
  connect(port: number): Redis {
    const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: false, maxRetriesPerRequest: 1 });
    redis.on('error', () => undefined);
    return redis;
  }

  /** Wait until every live node reports `cluster_state:ok`. */
  async waitUntilOk(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const states = await Promise.all(
        this.nodes
          .filter((n) => n.child.exitCode === null && n.child.signalCode === null)
          .map(async (n) => {
            const redis = this.connect(n.port);
            try {
              return String(await redis.cluster('INFO')).includes('cluster_state:ok');
            } catch {
              return false;
            } finally {
              redis.disconnect();
            }
          }),
      );
      if (states.every(Boolean)) return;
      if (Date.now() > deadline) throw new Error('the cluster did not reach cluster_state:ok');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The port of the master serving `slot`, from the node at `via`. */
  async ownerOf(slot: number, via = this.nodes[0]!.port): Promise<number> {
    const redis = this.connect(via);
    try {
      const slots = (await redis.cluster('SLOTS')) as unknown as [number, number, [string, number, string]][];
      const range = slots.find(([from, to]) => slot >= from && slot <= to);
      if (!range) throw new Error(`no master serves slot ${slot}`);
      return range[2][1];
    } finally {
      redis.disconnect();
    }
  }

  /**
   * Move one slot (and its keys) to the master at `toPort`, by hand: IMPORTING/MIGRATING, MIGRATE of each
   * key, then SETSLOT NODE on both masters (and the others learn it from the cluster bus).
   */
  async migrateSlot(slot: number, toPort: number): Promise<void> {
    const fromPort = await this.ownerOf(slot);
    if (fromPort === toPort) return;
    const from = this.connect(fromPort);
    const to = this.connect(toPort);
    try {
      const fromId = String(await from.cluster('MYID'));
      const toId = String(await to.cluster('MYID'));
      await to.cluster('SETSLOT', slot, 'IMPORTING', fromId);
      await from.cluster('SETSLOT', slot, 'MIGRATING', toId);
      for (;;) {
        const keys = (await from.cluster('GETKEYSINSLOT', slot, 100)) as string[];
        if (keys.length === 0) break;
        await from.call('MIGRATE', '127.0.0.1', String(toPort), '', '0', '5000', 'REPLACE', 'KEYS', ...keys);
      }
      await to.cluster('SETSLOT', slot, 'NODE', toId);
      await from.cluster('SETSLOT', slot, 'NODE', toId);
      for (const node of this.nodes) {
        if (node.port === fromPort || node.port === toPort || node.child.exitCode !== null) continue;
        const other = this.connect(node.port);
        try {
          await other.cluster('SETSLOT', slot, 'NODE', toId);
        } catch {
          // A replica refuses; it learns from the bus.
        } finally {
          other.disconnect();
        }
      }
    } finally {
      from.disconnect();
      to.disconnect();
    }
  }

  /** Ports of the masters. */
  async masterPorts(): Promise<number[]> {
    const redis = this.connect(this.nodes[0]!.port);
    try {
      const slots = (await redis.cluster('SLOTS')) as unknown as [number, number, [string, number, string]][];
      return [...new Set(slots.map((s) => s[2][1]))];
    } finally {
      redis.disconnect();
    }
  }

  /** SIGKILL the node at `port` (it stays down). */
  async kill(port: number): Promise<void> {
    const node = this.nodes.find((n) => n.port === port)!;
    if (node.child.exitCode !== null || node.child.signalCode !== null) return;
    node.child.kill('SIGKILL');
    await once(node.child, 'exit');
  }

  /**
   * Start the node at `port` again (after {@link RedisCluster.kill}), with its cluster config file: a
   * master that was failed over meanwhile comes back as a replica of the master that replaced it.
   */
  async restart(port: number): Promise<void> {
    const node = this.nodes.find((n) => n.port === port)!;
    node.child = this.spawnNode(node.port, node.busPort, this.nodeTimeoutMs);
    await waitForPing(node.port);
  }

  /** Wait until every master has at least `replicas` replicas whose link is up. */
  async waitForReplicas(replicas = 1, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const counts = await Promise.all(
        (await this.masterPorts()).map(async (port) => {
          const redis = this.connect(port);
          try {
            const info = await redis.info('replication');
            return [...info.matchAll(/^slave\d+:.*state=online/gm)].length;
          } catch {
            return 0;
          } finally {
            redis.disconnect();
          }
        }),
      );
      if (counts.every((n) => n >= replicas)) return;
      if (Date.now() > deadline) throw new Error(`not every master has ${replicas} online replica(s): ${counts.join(', ')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Stop every node by its pid, and remove the temp dir. */
  async stop(): Promise<void> {
    await Promise.all(
      this.nodes.map(async (n) => {
        if (n.child.exitCode !== null || n.child.signalCode !== null) return;
        n.child.kill('SIGKILL');
        await once(n.child, 'exit');
      }),
    );
    rmSync(this.dir, { recursive: true, force: true });
  }

  private spawnNode(port: number, busPort: number, nodeTimeoutMs: number): ChildProcess {
    const child = spawn(
      'redis-server',
      [
        '--port', String(port), '--cluster-port', String(busPort), '--bind', '127.0.0.1', '--cluster-enabled', 'yes',
        '--cluster-config-file', join(this.dir, `nodes-${port}.conf`), '--cluster-node-timeout', String(nodeTimeoutMs),
        '--dir', this.dir, '--save', '', '--appendonly', 'no', '--dbfilename', `dump-${port}.rdb`,
      ],
      { stdio: 'ignore' },
    );
    child.on('error', () => undefined);
    return child;
  }
}

/** Wait until a node answers PING. */
async function waitForPing(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      await redis.ping();
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not start`);
      await new Promise((r) => setTimeout(r, 30));
    } finally {
      redis.disconnect();
    }
  }
}
