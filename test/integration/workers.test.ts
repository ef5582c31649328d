/**
 * `lifeline serve --workers 3` with SIGHUP: a rolling restart where a new worker is ready before an old
 * one drains, so a client connecting every 50 ms is never refused for longer than one drain step, and
 * the drill loses nothing.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startDrill } from '../support/drill-process.js';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../support/redis.js';
import { killAll, startServe, tempDataDir } from '../support/serve-process.js';
import { opens } from '../support/connect-probe.js';

const KEY = 'workers-test-key-0123456789';
const prefix = uniquePrefix('workers');
const DRAIN_MS = 1000;

afterEach(async () => {
  await killAll();
});
afterAll(async () => {
  await deletePrefix(REDIS_URL, prefix);
});

describe('--workers and SIGHUP rolling restarts', () => {
  it('refuses to start several workers on a store they cannot share (memory)', async () => {
    await expect(startServe(['--workers', '2', '--store', 'memory'])).rejects.toThrow(/store the workers share/);
  });

  it('a rolling restart never leaves the port without a ready worker, and the drill loses nothing', async () => {
    const config = join(tempDataDir(), 'config.json');
    writeFileSync(config, JSON.stringify({ drainWindowMs: DRAIN_MS, graceMs: 500, retryHint: { minMs: 200, maxMs: 800 } }));
    const server = await startServe(['--workers', '3', '--store', REDIS_URL, '--redis-prefix', prefix, '--config', config, '--publish-key', KEY, '--client-publish', 'drill.*']);
    await server.waitForLog((e) => e.msg === 'listening' && e.workers === 3, 60_000);
    const drill = startDrill([server.url], ['--clients', '30', '--channels', '3', '--duration', '14s', '--rate', '10', '--client-rate', '1', '--settle', '15s', '--publish-key', KEY]);

    // A client connecting every 50 ms through the whole rolling restart.
    const attempts: { at: number; ok: boolean }[] = [];
    let probing = true;
    const prober = (async () => {
      while (probing) {
        const at = Date.now();
        attempts.push({ at, ok: await opens(server.url) });
        await new Promise((r) => setTimeout(r, Math.max(0, 50 - (Date.now() - at))));
      }
    })();
    await new Promise((r) => setTimeout(r, 2000));
    server.kill('SIGHUP');
    await server.waitForLog((e) => e.msg === 'rolling restart finished', 90_000);
    await new Promise((r) => setTimeout(r, 1000));
    probing = false;
    await prober;

    const steps = server.logs.filter((e) => e.msg === 'replacement ready; draining old worker');
    expect(steps).toHaveLength(3);
    // Longest run of refused attempts, in ms.
    let worst = 0;
    let since: number | undefined;
    for (const a of attempts) {
      if (!a.ok) since ??= a.at;
      else if (since !== undefined) {
        worst = Math.max(worst, a.at - since);
        since = undefined;
      }
    }
    console.log(`workers: ${attempts.length} probes, ${attempts.filter((a) => !a.ok).length} refused, longest refusal ${worst} ms`);
    expect(attempts.length).toBeGreaterThan(50);
    expect(worst).toBeLessThanOrEqual(DRAIN_MS);
    expect(attempts.at(-1)!.ok).toBe(true);

    const { code, report, stderr } = await drill.done;
    console.log(`workers drill: ${JSON.stringify(report.totals)}`);
    expect(report.totals.published, stderr.slice(-1000)).toBeGreaterThan(200);
    expect(report.totals.reconnects).toBeGreaterThanOrEqual(30);
    expect(report.totals.lost).toBe(0);
    expect(report.totals.duplicated).toBe(0);
    expect(report.totals.outOfOrder).toBe(0);
    expect(code).toBe(0);
  }, 240_000);
});
