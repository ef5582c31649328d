/**
 * Private Redis servers for the multi-node scenario: one standalone `redis-server`, or a Redis Cluster of
 * N masters (`redis-cli --cluster create`), on spare loopback ports in a temp dir; every process is
 * tracked (ipc.mjs) and stopped by its pid. Needs `redis-server` and `redis-cli` 7+ on PATH.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './context.mjs';
import { spawnChild } from './ipc.mjs';
import { sleep } from './stats.mjs';

/** Why Redis servers cannot be started here, or undefined. */
export function redisMissing() {
  try {
    const version = execFileSync('redis-server', ['--version'], { encoding: 'utf8' });
    if (Number(/v=(\d+)/.exec(version)?.[1] ?? 0) < 7) return 'redis-server 7+ is needed (sharded pub/sub)';
    execFileSync('redis-cli', ['--version'], { encoding: 'utf8' });
    return undefined;
  } catch {
    return 'redis-server/redis-cli not on PATH';
  }
}

function cli(port, ...args) {
  return execFileSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] });
}

async function untilPing(port) {
  for (let i = 0; i < 300; i++) {
    try {
      if (cli(port, 'ping').trim() === 'PONG') return;
    } catch {
      // not up yet
    }
    await sleep(20);
  }
  throw new Error(`redis-server on ${port} did not start`);
}

/**
 * Start Redis: `masters` 0 for one standalone server, else a cluster of that many masters. Resolves with
 * `{ kind, urls, startMs, stop() }` (`urls`: one URL, or every master's).
 */
export async function startRedis(masters) {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-bench-redis-'));
  const started = Date.now();
  const nodes = [];
  const count = Math.max(1, masters);
  for (let i = 0; i < count; i++) {
    const port = await freePort();
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--dbfilename', `dump-${port}.rdb`];
    if (masters > 0) {
      const busPort = await freePort();
      args.push('--cluster-enabled', 'yes', '--cluster-port', String(busPort), '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--cluster-node-timeout', '2000');
    }
    nodes.push({ port, proc: spawnChild('redis-server', args) });
  }
  const stop = async () => {
    for (const n of nodes) n.proc.kill('SIGKILL');
    await Promise.all(nodes.map((n) => n.proc.exited));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const n of nodes) await untilPing(n.port);
    if (masters > 0) {
      execFileSync('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'], { stdio: 'ignore', timeout: 30_000 });
      for (let i = 0; ; i++) {
        if (nodes.every((n) => cli(n.port, 'cluster', 'info').includes('cluster_state:ok'))) break;
        if (i > 600) throw new Error('the cluster did not reach cluster_state:ok');
        await sleep(50);
      }
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { kind: masters > 0 ? 'cluster' : 'standalone', urls: nodes.map((n) => `redis://127.0.0.1:${n.port}`), startMs: Date.now() - started, stop };
}

/**
 * Start a standalone primary and `replicas` replicas of it (`replicaof`), each with an append-only file
 * fsynced every second (the production setting the durability docs recommend), and wait until every
 * replica's link is up. Resolves with `{ url, startMs, stop() }` (`url`: the primary's).
 */
export async function startReplicated(replicas = 1) {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-bench-replicated-'));
  const started = Date.now();
  const nodes = [];
  const spawnNode = async (replicaOf) => {
    const port = await freePort();
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec', '--appendfilename', `aof-${port}.aof`, '--appenddirname', `aof-${port}`];
    if (replicaOf !== undefined) args.push('--replicaof', '127.0.0.1', String(replicaOf));
    nodes.push({ port, proc: spawnChild('redis-server', args) });
    await untilPing(port);
    return port;
  };
  const stop = async () => {
    for (const n of nodes) n.proc.kill('SIGKILL');
    await Promise.all(nodes.map((n) => n.proc.exited));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const primary = await spawnNode();
    for (let i = 0; i < replicas; i++) await spawnNode(primary);
    for (let i = 0; ; i++) {
      const info = cli(primary, 'info', 'replication');
      if ((info.match(/state=online/g) ?? []).length >= replicas) break;
      if (i > 600) throw new Error('the replicas did not come online');
      await sleep(50);
    }
    return { url: `redis://127.0.0.1:${primary}`, startMs: Date.now() - started, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
