/**
 * systemd socket activation: `lifeline serve` listens on the socket it inherits (fd 3, `LISTEN_FDS`,
 * `LISTEN_PID`), as `systemd-socket-activate` (the same protocol as a `.socket` unit) hands it over.
 * The socket belongs to the service manager, so across a cold restart (SIGTERM, the process exits, a new
 * one starts) a connection attempt is never refused: it waits in the kernel's backlog until the new
 * process accepts it. A SIGHUP restart keeps serving on the same socket.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { freePort } from '../support/ports.js';
import { killAll, startServe, tempDataDir, type ServeProcess } from '../support/serve-process.js';

const ACTIVATE = '/usr/bin/systemd-socket-activate';
const available = existsSync(ACTIVATE);
if (!available) console.log(`skipped: ${ACTIVATE} is not installed (systemd's socket activation tool)`);

/** What became of each cleanup: the pid files of servers whose parent is a shell, not the test. */
const cleanups: (() => void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) cleanup();
  await killAll();
});

/**
 * Outcome of one connection attempt: opened; answered (an HTTP refusal such as 503); refused (nothing
 * listening: ECONNREFUSED, or no answer in 5 s); reset (accepted, then cut: a process that exits drops the
 * connections it accepted in its last instant, which socket activation does not change).
 */
type Outcome = 'opened' | 'answered' | 'refused' | 'reset';

function attempt(url: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    // Generous: a connection waiting in the backlog through a cold restart is slow, not refused.
    const timer = setTimeout(() => {
      ws.terminate();
      resolve('refused');
    }, 5000);
    ws.on('open', () => {
      clearTimeout(timer);
      ws.close();
      resolve('opened');
    });
    ws.on('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      res.resume();
      ws.terminate();
      resolve('answered');
    });
    ws.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (error.code !== 'ECONNREFUSED') console.log(`reset: ${error.code ?? ''} ${error.message}`);
      resolve(error.code === 'ECONNREFUSED' ? 'refused' : 'reset');
    });
  });
}

function startProber(url: string) {
  const outcomes: { at: number; doneAt: number; outcome: Outcome }[] = [];
  let running = true;
  const done = (async () => {
    while (running) {
      const at = Date.now();
      const outcome = await attempt(url);
      outcomes.push({ at, doneAt: Date.now(), outcome });
      await new Promise((r) => setTimeout(r, Math.max(0, 50 - (Date.now() - at))));
    }
  })();
  return {
    outcomes,
    stop: async () => {
      running = false;
      await done;
    },
  };
}

/**
 * `lifeline serve` under systemd-socket-activate. `restartLoop`: a shell between them starts it again
 * each time it exits, holding the socket meanwhile (what systemd does with `Restart=always`); each run
 * gets `LISTEN_PID` set to its own pid, as systemd sets it.
 */
async function activated(args: string[], options: { restartLoop: boolean }): Promise<{ serve: ServeProcess; port: number; primaryPid: () => number }> {
  const port = await freePort();
  const dir = tempDataDir();
  const pidFile = join(dir, 'serve.pid');
  const stopFile = join(dir, 'stop');
  const shell = options.restartLoop
    ? ['bash', '-c', 'while [ ! -e "$0" ]; do (LISTEN_PID=$BASHPID exec "$@"); done', stopFile]
    : [];
  const primaryPid = () => Number(readFileSync(pidFile, 'utf8'));
  cleanups.push(() => {
    writeFileSync(stopFile, '');
    try {
      process.kill(primaryPid(), 'SIGKILL');
    } catch {
      // Already gone.
    }
  });
  const starting = startServe(['--data-dir', dir, '--pid-file', pidFile, ...args], { wrap: [ACTIVATE, '-l', `127.0.0.1:${port}`, ...shell] });
  // systemd-socket-activate starts the service on the first connection, which waits in the backlog
  // meanwhile (until the tool has bound the port, the attempt is refused: try again).
  const first = (async () => {
    for (let i = 0; ; i++) {
      try {
        return await fetch(`http://127.0.0.1:${port}/healthz`);
      } catch (error) {
        if (i >= 100) throw error;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  })();
  const serve = await starting;
  expect((await first).status).toBe(200);
  return { serve, port, primaryPid };
}

describe.skipIf(!available)('systemd socket activation', () => {
  it('listens on the inherited socket (memory store: one process), not on --port', async () => {
    const { serve, port } = await activated(['--store', 'memory'], { restartLoop: false });
    expect(serve.port).toBe(port);
    expect(await attempt(`ws://127.0.0.1:${port}/`)).toBe('opened');
    expect(serve.pid).toBe(serve.child.pid);
  });

  it('sqlite: a SIGHUP restart serves on the same socket throughout; a cold restart (SIGTERM, exit, a new process) refuses no connection', async () => {
    const { serve, port, primaryPid } = await activated(['--drain-window', '500ms'], { restartLoop: true });
    const url = `ws://127.0.0.1:${port}/`;
    const prober = startProber(url);
    await new Promise((r) => setTimeout(r, 500));

    const first = primaryPid();
    process.kill(first, 'SIGHUP');
    await serve.waitForLog((e) => e.msg === 'rolling restart finished');
    await new Promise((r) => setTimeout(r, 500));
    const hupEnd = Date.now();

    // Cold: the whole service exits, the loop starts a new one; meanwhile the socket stays open.
    process.kill(first, 'SIGTERM');
    const drained = await serve.waitForLog((e) => e.msg === 'all workers drained; exiting');
    const exitedAt = drained.time as number;
    // The first `listening` after the old service drained: the new process.
    const back = await serve.waitForLog((e) => e.msg === 'listening' && serve.logs.indexOf(e) > serve.logs.indexOf(drained), 30_000);
    const backAt = back.time as number;
    await new Promise((r) => setTimeout(r, 1000));
    await prober.stop();

    const { outcomes } = prober;
    const count = (o: Outcome, from = 0, to = Infinity) => outcomes.filter((x) => x.outcome === o && x.at >= from && x.at < to).length;
    console.log(`socket activation: ${outcomes.length} attempts, ${count('opened')} opened, ${count('answered')} answered (503 while draining), ${count('reset')} reset, ${count('refused')} refused`);
    expect(outcomes.length).toBeGreaterThan(20);
    // Never refused: not during the SIGHUP restart, not while no process ran at all.
    expect(count('refused')).toBe(0);
    // The SIGHUP restart: every attempt opened.
    expect(count('answered', 0, hupEnd)).toBe(0);
    expect(count('reset', 0, hupEnd)).toBe(0);
    // Attempts under way while no process served at all (after the old one drained, before the new one
    // listened: the prober is never idle for longer than 50 ms) waited in the backlog and opened on the new one.
    expect(backAt - exitedAt).toBeGreaterThan(100);
    const spanning = outcomes.filter((x) => x.at < backAt && x.doneAt > exitedAt + 50);
    expect(spanning.length).toBeGreaterThan(0);
    expect(spanning.filter((x) => x.outcome === 'refused')).toEqual([]);
    expect(spanning.filter((x) => x.outcome === 'opened').length).toBeGreaterThan(0);
    expect(primaryPid()).not.toBe(first);
  }, 60_000);
});
