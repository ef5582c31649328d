/**
 * What every scenario needs from the runner: starting server and load-generator processes, a free
 * port, CPU usage differences, and the machine facts recorded with each run.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { forkChild } from './ipc.mjs';

export const BENCH_DIR = fileURLToPath(new URL('..', import.meta.url));
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SERVER = fileURLToPath(new URL('../server.mjs', import.meta.url));
const LOADGEN = fileURLToPath(new URL('../loadgen.mjs', import.meta.url));

/**
 * Start a bench server process and its implementation. Servers run with --expose-gc (the idle scenario
 * collects garbage before it reads memory), and with --cpu-prof when the run was asked to profile.
 */
export async function startServer(ctx, config, { execArgv = [] } = {}) {
  const argv = ['--expose-gc', ...execArgv];
  if (ctx.profileDir) argv.push('--cpu-prof', '--cpu-prof-dir', ctx.profileDir, '--cpu-prof-name', `${config.label ?? config.implName}-${Date.now()}.cpuprofile`);
  const server = forkChild(SERVER, { execArgv: argv, name: `server:${config.implName}` });
  const started = await server.request('start', config, 30_000);
  server.port = started.port;
  /** Stop the implementation and end the process (gracefully, so a CPU profile gets written). */
  server.stop = async () => {
    try {
      await server.request('stop', {}, 5000);
    } catch {
      // it may have died already; the kill below is what matters
    }
    server.child.disconnect?.();
    const timer = setTimeout(() => server.kill('SIGKILL'), 3000);
    await server.exited;
    clearTimeout(timer);
  };
  return server;
}

/** Start `count` load-generator processes (profiled too when the run profiles). */
export function startLoadgens(count, ctx, name = 'loadgen') {
  // Load generators keep Node's default profile name (CPU.<date>.<pid>...); servers are named after their run.
  const execArgv = ctx?.profileDir ? ['--cpu-prof', '--cpu-prof-dir', ctx.profileDir] : [];
  return Array.from({ length: count }, (_, i) => forkChild(LOADGEN, { name: `${name}${i}`, execArgv }));
}

export async function stopLoadgens(loadgens) {
  await Promise.all(
    loadgens.map(async (lg) => {
      try {
        await lg.request('close', {}, 10_000);
      } catch {
        // best effort
      }
      // Disconnecting lets the process exit by itself (writing its CPU profile, if any).
      lg.child.disconnect?.();
      const timer = setTimeout(() => lg.kill('SIGKILL'), 3000);
      await lg.exited;
      clearTimeout(timer);
    }),
  );
}

/** Split `total` into `parts` near-equal counts. */
export function split(total, parts) {
  return Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0));
}

/** A port nobody listens on right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** CPU percentage (of one core) and event-loop utilisation between two `usage` answers of a server. */
export function usageBetween(a, b) {
  const ms = b.at - a.at;
  const cpuUs = b.cpu.user - a.cpu.user + (b.cpu.system - a.cpu.system);
  const active = b.elu.active - a.elu.active;
  const idle = b.elu.idle - a.elu.idle;
  return { cpuPct: (cpuUs / 1000 / ms) * 100, cpuUs, elu: active / (active + idle), ms };
}

function versionOf(pkg) {
  try {
    return JSON.parse(readFileSync(new URL(`../../node_modules/${pkg}/package.json`, import.meta.url), 'utf8')).version;
  } catch {
    return 'unknown';
  }
}

function git(args) {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

/** Versions and machine facts, recorded in every result file. */
export function machineFacts() {
  const cpuinfo = (() => {
    try {
      return readFileSync('/proc/cpuinfo', 'utf8');
    } catch {
      return '';
    }
  })();
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  const dirty = git(['status', '--porcelain', '--', 'src']);
  const ulimit = spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim();
  return {
    node: process.version,
    versions: {
      lifeline: JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version,
      ws: versionOf('ws'),
      'socket.io': versionOf('socket.io'),
      'socket.io-client': versionOf('socket.io-client'),
      'reconnecting-websocket': versionOf('reconnecting-websocket'),
      'better-sqlite3': versionOf('better-sqlite3'),
    },
    commit: git(['rev-parse', '--short', 'HEAD']) ?? 'unknown',
    srcDirty: dirty === undefined ? 'unknown' : dirty !== '',
    cpuModel: model,
    cores: os.cpus().length,
    ramGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    fdLimit: ulimit,
    loadAvgAtStart: os.loadavg().map((v) => Math.round(v * 100) / 100),
  };
}
