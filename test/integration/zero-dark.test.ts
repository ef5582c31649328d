/**
 * Issue 14's "done when": `lifeline serve` on its default store (sqlite) restarts zero-dark on SIGHUP
 * with the code on disk. Five SIGHUPs under a drill (30 clients on 3 channels, HTTP and client
 * publishes) while a client connects every 50 ms: no connection refused, no message lost, duplicated or
 * out of order, and the drill's worst gap (last message before a close to the first live one after it)
 * within 2 s. The server runs from a copy of the package (dist, bin, package.json) whose version a
 * test writes before each SIGHUP: each successor reports the version on disk when it started.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startDrill } from '../support/drill-process.js';
import { killAll, startServe, tempDataDir, type ServeProcess } from '../support/serve-process.js';
import { opens } from '../support/connect-probe.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const KEY = 'zero-dark-test-key-0123456789';
const RESTARTS = 5;
const DRAIN_MS = 1500;

const copies: string[] = [];
afterEach(async () => {
  await killAll();
});
afterAll(() => {
  for (const dir of copies) rmSync(dir, { recursive: true, force: true });
});

/** A deploy directory: a copy of the built package (never the repo's own dist), sharing node_modules. */
function deployCopy(): { bin: string; setVersion: (v: string) => void } {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-deploy-'));
  copies.push(dir);
  cpSync(join(ROOT, 'dist'), join(dir, 'dist'), { recursive: true });
  cpSync(join(ROOT, 'bin'), join(dir, 'bin'), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<string, unknown>;
  const setVersion = (v: string) => writeFileSync(join(dir, 'package.json'), JSON.stringify({ ...pkg, version: v }));
  return { bin: join(dir, 'bin', 'lifeline.js'), setVersion };
}

/** A client opening a fresh connection every 50 ms until stopped. */
function startProber(url: string) {
  const attempts: { at: number; ok: boolean }[] = [];
  let probing = true;
  const done = (async () => {
    while (probing) {
      const at = Date.now();
      attempts.push({ at, ok: await opens(url) });
      await new Promise((r) => setTimeout(r, Math.max(0, 50 - (Date.now() - at))));
    }
  })();
  return {
    attempts,
    stop: async () => {
      probing = false;
      await done;
    },
  };
}

const listeningEntries = (server: ServeProcess) => server.logs.filter((e) => e.msg === 'listening');

describe('zero-dark restarts of `lifeline serve` (sqlite)', () => {
  it('five SIGHUPs under a drill: a successor on the code on disk each time, 0 refused, 0 lost, worst gap within 2 s', async () => {
    const copy = deployCopy();
    copy.setVersion('0.0.0-zerodark.0');
    const dir = tempDataDir();
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ drainWindowMs: DRAIN_MS, graceMs: 500 }));
    const server = await startServe(['--data-dir', dir, '--config', config, '--publish-key', KEY, '--client-publish', 'drill.*'], { bin: copy.bin });
    expect(listeningEntries(server)[0]!.version).toBe('0.0.0-zerodark.0');
    const drill = startDrill([server.url], ['--clients', '30', '--channels', '3', '--duration', '30s', '--rate', '10', '--client-rate', '1', '--settle', '20s', '--publish-key', KEY]);
    const prober = startProber(server.url);

    const workers = [server.pid];
    for (let k = 1; k <= RESTARTS; k++) {
      await new Promise((r) => setTimeout(r, 3000));
      // A deploy: new code on disk, then SIGHUP to the pid the operator knows.
      copy.setVersion(`0.0.0-zerodark.${k}`);
      server.kill('SIGHUP');
      await server.waitForLog((e) => e.msg === 'rolling restart finished' && server.logs.filter((x) => x.msg === 'rolling restart finished').length >= k, 30_000);
      const successor = listeningEntries(server).at(-1)!;
      expect(successor.version).toBe(`0.0.0-zerodark.${k}`);
      expect(workers).not.toContain(successor.pid);
      workers.push(successor.pid as number);
      // Ready before the old one drained: its `listening` came before the old worker's drain started.
      const step = server.logs.filter((e) => e.msg === 'replacement ready; draining old worker').at(-1)!;
      expect(step).toMatchObject({ old: workers.at(-2), new: workers.at(-1) });
    }
    await new Promise((r) => setTimeout(r, 1000));
    await prober.stop();

    const refused = prober.attempts.filter((a) => !a.ok).length;
    console.log(`zero-dark: ${prober.attempts.length} probes, ${refused} refused`);
    expect(prober.attempts.length).toBeGreaterThan(200);
    expect(refused).toBe(0);
    // One supervisor all along, one worker at the end: the last one.
    expect(server.child.exitCode).toBeNull();
    expect(server.pid).toBe(workers.at(-1));

    const { code, report, stderr } = await drill.done;
    console.log(`zero-dark drill: ${JSON.stringify(report.totals)}`);
    expect(report.totals.published, stderr.slice(-1000)).toBeGreaterThan(500);
    expect(report.totals.publishedByClients).toBeGreaterThan(200);
    expect(report.unacknowledged).toBe(0);
    // Each restart closes every client (one reconnect may span two restarts).
    expect(report.totals.reconnects).toBeGreaterThanOrEqual((RESTARTS - 1) * 30);
    expect(report.totals.lost).toBe(0);
    expect(report.totals.duplicated).toBe(0);
    expect(report.totals.outOfOrder).toBe(0);
    expect(report.totals.worstGapMs).toBeLessThanOrEqual(2000);
    expect(code).toBe(0);

    server.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
  }, 180_000);
});
