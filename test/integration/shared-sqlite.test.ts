/**
 * Several server processes on one SQLite file: `serve --workers 2` and a second `serve` on the same data
 * directory, behind two ports, with a drill whose clients are spread over both (each reconnect goes to
 * the other port) and publish on every channel while a publisher posts over HTTP to the first. Every
 * message reaches every subscriber whichever process stored it (the fan-out feed): 0 lost, 0
 * duplicated, 0 out of order in both directions, through a SIGHUP restart of the workers too.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startDrill } from '../support/drill-process.js';
import { killAll, startServe, tempDataDir } from '../support/serve-process.js';

const KEY = 'shared-sqlite-key-0123456789';

afterEach(async () => {
  await killAll();
});

describe('processes sharing one sqlite file', () => {
  it('--workers 2 and another serve on one data directory: a drill across both ports loses, repeats and reorders nothing', async () => {
    const dir = tempDataDir();
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ drainWindowMs: 800, graceMs: 500 }));
    const args = ['--data-dir', dir, '--config', config, '--publish-key', KEY, '--client-publish', 'drill.*'];
    const a = await startServe([...args, '--workers', '2']);
    await a.waitForLog((e) => e.msg === 'listening' && e.workers === 2);
    const b = await startServe(args);
    const drill = startDrill([a.url, b.url], ['--clients', '40', '--channels', '4', '--duration', '12s', '--rate', '20', '--client-rate', '2', '--settle', '15s', '--publish-key', KEY]);
    await new Promise((r) => setTimeout(r, 5000));
    a.kill('SIGHUP');
    await a.waitForLog((e) => e.msg === 'rolling restart finished', 30_000);

    const { code, report, stderr } = await drill.done;
    console.log(`shared sqlite: ${JSON.stringify(report.totals)}`);
    expect(report.totals.publishedHttp, stderr.slice(-1000)).toBeGreaterThan(150);
    expect(report.totals.publishedByClients).toBeGreaterThan(500);
    expect(report.unacknowledged).toBe(0);
    expect(report.totals.lost).toBe(0);
    expect(report.totals.duplicated).toBe(0);
    expect(report.totals.outOfOrder).toBe(0);
    // Every published message reached every one of its channel's 10 subscribers, on either port.
    expect(report.totals.delivered).toBe(report.totals.published * 10);
    expect(code).toBe(0);
  }, 120_000);
});
