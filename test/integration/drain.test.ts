import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseReason } from '../../src/protocol/index.js';
import { SUCCESSOR_RETRY_JITTER_MS } from '../../src/server/core/drain.js';
import { killAll, startServe } from '../support/serve-process.js';
import { closeAllPeers, connectPeer, tryUpgrade } from '../support/ws-peer.js';

afterEach(async () => {
  closeAllPeers();
  await killAll();
});

const WINDOW_MS = 2000;

describe('planned restart of a real server process', () => {
  it('SIGTERM: every client gets 1012 with a retry hint, spread over the drain window; upgrades get 503; exit 0', async () => {
    const server = await startServe(['--demo', '--drain-window', `${WINDOW_MS}ms`]);
    const peers = await Promise.all(Array.from({ length: 12 }, () => connectPeer(server.url)));
    const healthUrl = `http://127.0.0.1:${server.port}`;
    expect((await fetch(`${healthUrl}/readyz`)).status).toBe(200);

    server.kill('SIGTERM');
    await server.waitForLog((e) => e.msg === 'drain started');

    // While draining: not ready, still alive, and new upgrades are refused with 503 + Retry-After.
    const readyz = await fetch(`${healthUrl}/readyz`);
    expect(readyz.status).toBe(503);
    expect((await fetch(`${healthUrl}/healthz`)).status).toBe(200);
    const refused = await tryUpgrade(server.url);
    expect(refused.opened).toBe(false);
    if (!refused.opened) {
      expect(refused.status).toBe(503);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    }

    const closes = await Promise.all(peers.map((p) => p.closed));
    for (const c of closes) {
      expect(c.code).toBe(1012);
      const hint = parseReason(c.reason).retry;
      // Counted from the end of the drain window: a connection closed early waits for what is left of it.
      expect(hint!.minMs).toBeGreaterThanOrEqual(1000);
      expect(hint!.minMs).toBeLessThanOrEqual(1000 + WINDOW_MS);
      expect(hint!.maxMs - hint!.minMs).toBe(4000);
      expect(c.reasonBytes.byteLength).toBeLessThanOrEqual(123);
    }
    // Where each close falls in the window (one per slot) is the drain's unit test's, on a manual clock
    // (test/unit/server-drain.test.ts); here only that they are not all at once.
    expect(new Set(closes.map((c) => c.at)).size).toBeGreaterThan(1);

    const exit = await server.exited;
    expect(exit).toEqual({ code: 0, signal: null });
  });

  it('SIGHUP: a successor process with the re-read config is ready first; the old one cycles its connections with 1012 "come back now"', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeline-'));
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ drainWindowMs: 600 }));
    const server = await startServe(['--demo', '--config', config]);
    const firstWorker = server.pid;
    const peers = await Promise.all(Array.from({ length: 5 }, () => connectPeer(server.url)));

    writeFileSync(config, JSON.stringify({ drainWindowMs: 800, retryHint: { minMs: 200, maxMs: 900 } }));
    server.kill('SIGHUP');
    const closes = await Promise.all(peers.map((p) => p.closed));
    // Something already serves: every reason says come back at once, with a small jitter.
    for (const c of closes) {
      expect(c.code).toBe(1012);
      expect(parseReason(c.reason).retry).toEqual({ minMs: 0, maxMs: SUCCESSOR_RETRY_JITTER_MS });
    }
    const reloaded = await server.waitForLog((e) => e.msg === 'configuration reloaded');
    // The reload logs which settings are in force, never their values (they may hold secrets).
    expect(reloaded.settings).toEqual(expect.arrayContaining(['drainWindowMs', 'retryHint']));
    // It was logged by the successor, a new process; the one signalled (the supervisor) is still up.
    expect(reloaded.pid).not.toBe(firstWorker);
    expect(server.child.exitCode).toBeNull();

    // The service accepts and serves new connections during and after the restart.
    const again = await connectPeer(server.url);
    expect(await again.request('back')).toBe('back');

    // A broken config on reload is logged and the old one kept: nothing restarts, the process still serves.
    writeFileSync(config, '{ not json');
    server.kill('SIGHUP');
    await server.waitForLog((e) => e.msg === 'configuration reload failed; keeping the previous configuration');
    const third = await connectPeer(server.url);
    expect(await third.request('still')).toBe('still');
    expect(await again.request('open')).toBe('open');

    // The reloaded settings are the ones in force: a SIGTERM now drains with the reloaded hint (shifted
    // past the 800 ms window: nothing serves after a cold shutdown) and exits 0.
    server.kill('SIGTERM');
    for (const c of await Promise.all([again.closed, third.closed])) {
      expect(c.code).toBe(1012);
      const hint = parseReason(c.reason).retry!;
      expect(hint.minMs).toBeGreaterThanOrEqual(200);
      expect(hint.minMs).toBeLessThanOrEqual(200 + 800);
      expect(hint.maxMs - hint.minMs).toBe(700);
    }
    expect(await server.exited).toEqual({ code: 0, signal: null });
  });

  it('--config with an unknown setting or a bad flag is a one-line error and a non-zero exit', async () => {
    const { execFile } = await import('node:child_process');
    const run = (args: string[]) =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        execFile(process.execPath, ['bin/lifeline.js', ...args], (error, _stdout, stderr) => resolve({ code: error ? (error as { code?: number }).code ?? 1 : 0, stderr }));
      });
    const bad = await run(['serve', '--drain-window', 'soon']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toContain('--drain-window');
    const unknown = await run(['serve', '--nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).not.toContain('    at ');
  });
});
