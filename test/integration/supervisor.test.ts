/**
 * The supervising primary of `lifeline serve` (sqlite) as operators meet it: one pid to signal, no
 * orphan when that pid is SIGKILLed, a restart whose new worker cannot start leaves the old one serving,
 * a worker that dies on its own is replaced, and `/metrics` and `/readyz` answer for the worker serving.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { killAll, startServe, tempDataDir } from '../support/serve-process.js';
import { closeAllPeers, connectPeer, tryUpgrade } from '../support/ws-peer.js';

afterEach(async () => {
  closeAllPeers();
  await killAll();
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('lifeline serve: the supervising primary', () => {
  it('the pid file names the primary; a SIGKILL of it leaves no worker serving', async () => {
    const dir = tempDataDir();
    const pidFile = join(dir, 'serve.pid');
    const server = await startServe(['--data-dir', dir, '--pid-file', pidFile]);
    await until(() => {
      try {
        return Number(readFileSync(pidFile, 'utf8')) === server.child.pid;
      } catch {
        return false;
      }
    });
    const worker = server.pid;
    expect(worker).not.toBe(server.child.pid);
    expect(alive(worker)).toBe(true);
    const peer = await connectPeer(server.url);
    server.kill('SIGKILL');
    // The worker exits when its channel to the primary closes: its connections drop, nothing listens.
    await until(() => !alive(worker));
    expect((await peer.closed).code).toBe(1006);
    const refused = await tryUpgrade(server.url);
    expect(refused.opened).toBe(false);
  });

  it('a restart whose new worker cannot start keeps the old one serving, and says so', async () => {
    const dir = tempDataDir();
    const config = join(dir, 'config.json');
    // The data directory in the config file (a flag would win over any reload of it).
    writeFileSync(config, JSON.stringify({ drainWindowMs: 300, dataDir: dir }));
    const server = await startServe(['--demo', '--store', 'sqlite', '--config', config]);
    const worker = server.pid;
    const peer = await connectPeer(server.url);
    // A valid file whose data directory cannot be made: the new worker exits before it is ready.
    writeFileSync(config, JSON.stringify({ drainWindowMs: 300, dataDir: join(config, 'not-a-directory') }));
    server.kill('SIGHUP');
    const stopped = await server.waitForLog((e) => e.msg === 'restart stopped: the new worker exited before it was ready; the current workers keep serving');
    expect(stopped.worker).toBe(worker);
    expect(await peer.request('still')).toBe('still');
    expect(server.pid).toBe(worker);
    expect(server.logs.some((e) => e.msg === 'replacement ready; draining old worker')).toBe(false);
  });

  it('a worker that dies on its own is replaced on the same port; /readyz and /metrics answer for the worker serving', async () => {
    const server = await startServe(['--data-dir', tempDataDir()]);
    const first = server.pid;
    const base = `http://127.0.0.1:${server.port}`;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    process.kill(first, 'SIGKILL');
    await server.waitForLog((e) => e.msg === 'worker exited unexpectedly; starting a replacement');
    await server.waitForLog((e) => e.msg === 'listening' && e.pid !== first);
    expect(server.pid).not.toBe(first);
    expect(server.child.exitCode).toBeNull();
    await until(async () => (await fetch(`${base}/readyz`).catch(() => undefined))?.status === 200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    // The new worker's own counters, from its start: one open connection is none yet.
    expect(metrics).toMatch(/^lifeline_connections_open 0$/m);
    expect(metrics).toMatch(/^process_cpu_user_seconds_total /m);
    const peer = await connectPeer(server.url);
    expect(peer.ws.readyState).toBe(peer.ws.OPEN);
  });
});
