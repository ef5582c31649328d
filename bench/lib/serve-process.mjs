/**
 * The real `lifeline serve` CLI as the restart storm's server: start it, signal it the way a deploy
 * does, record its log's milestones, and stop it and whatever successor it started.
 *
 * Signals go to the process named in `--pid-file` (what a deploy script does: `kill -HUP $(cat pid)`),
 * falling back to the process started here. So the bench keeps working when SIGHUP hands over to a
 * successor process that is not this process's child (the zero-dark restart): the successor writes
 * its own pid file, and the bench signals and finally stops that one too.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnChild } from './ipc.mjs';
import { monoMs, sleep } from './stats.mjs';

const BIN = fileURLToPath(new URL('../../bin/lifeline.js', import.meta.url));

/** Log entries kept after the signal (the server's own account of the restart; they are few at info). */
const MAX_MILESTONES = 100;

/**
 * Start `lifeline serve` with `args` and wait until it logs `listening` (with `--workers`, the
 * primary's line, which comes once every worker listens).
 * @param {{args: string[], dataDir: string, workers?: boolean, profileDir?: string, t0?: number}} options
 *   `t0`: record log entries from this monotonic time on (see `arm`)
 */
export async function startServe({ args, dataDir, workers = false, profileDir, t0: armedAt = Infinity }) {
  const pidFile = join(dataDir, 'serve.pid');
  const milestones = [];
  let t0 = armedAt;
  let resolveListening;
  const listening = new Promise((resolve) => (resolveListening = resolve));
  const execArgv = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
  const proc = spawnChild(process.execPath, [...execArgv, BIN, 'serve', ...args, '--pid-file', pidFile, '--log-level', 'info', '--json'], {
    onLine: (line) => {
      let entry;
      try {
        entry = JSON.parse(line);
      } catch {
        return;
      }
      if (entry.msg === 'listening' && (!workers || entry.workers !== undefined)) resolveListening();
      const now = monoMs();
      if (now >= t0 && milestones.length < MAX_MILESTONES) milestones.push({ ms: Math.round(now - t0), pid: entry.pid, msg: entry.msg });
    },
  });
  const exited = proc.exited.then((e) => {
    resolveListening();
    return e;
  });
  await Promise.race([listening, sleep(30_000)]);
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) throw new Error(`lifeline serve exited at start:\n${proc.tail.join('\n')}`);

  /** The process serving now: the pid file's, if it names a live process, else the one started here. */
  const current = () => {
    const pid = readPid(pidFile);
    return pid !== undefined && alive(pid) ? pid : proc.pid;
  };
  return {
    pid: proc.pid,
    exited,
    tail: proc.tail,
    milestones,
    /** Record log entries from this monotonic time on (ms since it, in `milestones`). */
    arm(at) {
      t0 = at;
    },
    /** Signal the serving process, as a deploy would. */
    signal(signal) {
      const pid = current();
      if (pid === proc.pid) proc.kill(signal);
      else process.kill(pid, signal);
    },
    /**
     * SIGTERM the process started here and any successor named in the pid file, wait for both
     * (SIGKILL after `graceMs`).
     */
    async stop(graceMs = 10_000) {
      const successor = readPid(pidFile);
      const others = successor !== undefined && successor !== proc.pid && alive(successor) ? [successor] : [];
      proc.kill('SIGTERM');
      for (const pid of others) signalQuietly(pid, 'SIGTERM');
      const until = Date.now() + graceMs;
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
      for (const pid of others) {
        while (alive(pid) && Date.now() < until) await sleep(50);
        if (alive(pid)) signalQuietly(pid, 'SIGKILL');
      }
    },
  };
}

function readPid(path) {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function signalQuietly(pid, signal) {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/**
 * Redis for the `--workers` variant: check it answers (a clear error instead of a storm of failed
 * clients), and remove the run's keys afterwards (the prefix is unique to the run).
 */
export async function redisAt(url) {
  const { default: Redis } = await import('ioredis');
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2000, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    redis.disconnect();
    throw new Error(`the --workers variant needs Redis at ${url} (set BENCH_REDIS_URL): ${error.message}`);
  }
  return {
    async dropPrefix(prefix) {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await redis.del(...keys);
      } while (cursor !== '0');
    },
    close: () => redis.quit().catch(() => redis.disconnect()),
  };
}
