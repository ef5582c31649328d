/**
 * Issue 4, end to end: three `lifeline serve` processes on three ports share one Redis; 100 clients are
 * spread over them; a publisher posts to one; every process is restarted in turn with SIGTERM while
 * traffic flows. The drill counts every message at every subscriber.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startDrill } from '../support/drill-process.js';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../support/redis.js';
import { killAll, startServe, tempDataDir, type ServeProcess } from '../support/serve-process.js';

const KEY = 'scale-out-test-key-0123456789';
const prefix = uniquePrefix('scale');

afterEach(async () => {
  await killAll();
});
afterAll(async () => {
  await deletePrefix(REDIS_URL, prefix);
});

describe('scale-out on Redis: three processes, rolling SIGTERM restarts', () => {
  it('0 lost, 0 duplicated, 0 out of order; clients resume on other processes', async () => {
    const config = join(tempDataDir(), 'config.json');
    writeFileSync(config, JSON.stringify({ drainWindowMs: 800, graceMs: 1000, retryHint: { minMs: 200, maxMs: 1000 } }));
    const args = ['--store', REDIS_URL, '--redis-prefix', prefix, '--config', config, '--publish-key', KEY, '--client-publish', 'drill.*'];
    const servers: ServeProcess[] = [];
    for (let i = 0; i < 3; i++) servers.push(await startServe(args));
    const drill = startDrill(
      servers.map((s) => s.url),
      ['--clients', '100', '--channels', '5', '--duration', '30s', '--rate', '10', '--client-rate', '0.5', '--settle', '20s', '--publish-key', KEY],
    );
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 6000));
      const old = servers[i]!;
      old.kill('SIGTERM');
      expect(await old.exited).toEqual({ code: 0, signal: null });
      servers[i] = await startServe([...args, '--port', String(old.port)]);
    }
    const { code, report, stderr } = await drill.done;
    console.log(`scale-out: ${JSON.stringify(report.totals)}`);
    expect(report.totals.publishedHttp, stderr.slice(-1000)).toBeGreaterThan(500);
    expect(report.totals.publishedByClients).toBeGreaterThan(500);
    // Each restart closed a third of the clients; they resumed (on another process or the restarted one).
    expect(report.totals.reconnects).toBeGreaterThanOrEqual(90);
    expect(report.totals.resumed).toBe(report.totals.reconnects);
    expect(report.totals.lost).toBe(0);
    expect(report.totals.duplicated).toBe(0);
    expect(report.totals.outOfOrder).toBe(0);
    expect(report.unacknowledged).toBe(0);
    expect(report.totals.delivered).toBe(report.totals.published * 20);
    expect(code).toBe(0);
  }, 180_000);
});
