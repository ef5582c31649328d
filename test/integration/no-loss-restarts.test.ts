/**
 * The promise of issue 3, end to end: a real `lifeline serve` process on sqlite, restarted five times
 * while 50 clients on 5 channels receive a stream published over HTTP and publish acknowledged
 * messages of their own. The drill (a separate process) counts every message at every subscriber.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startDrill } from '../support/drill-process.js';
import { killAll, startServe, tempDataDir, type ServeProcess } from '../support/serve-process.js';

const KEY = 'drill-test-key-0123456789';

afterEach(async () => {
  await killAll();
});

function runDrill(url: string, durationS: number) {
  // The settle time is an upper bound (the drill counts as soon as everything acknowledged arrived): a
  // generous one lets a client that backed off far during five quick SIGKILLs on a busy machine (the rest
  // of the suite runs beside this test) come back before its pending publishes are counted.
  return startDrill([url], ['--clients', '50', '--channels', '5', '--duration', `${durationS}s`, '--rate', '10', '--client-rate', '1', '--settle', '45s', '--publish-key', KEY]);
}

async function restartLoop(first: ServeProcess, args: string[], signal: 'SIGTERM' | 'SIGKILL', times: number): Promise<ServeProcess> {
  let server = first;
  for (let i = 0; i < times; i++) {
    // Long enough for reconnected clients to count as stable (the client's stableAfterMs, 5 s), so a
    // restart is a fresh event for them rather than one more failure in a streak that backs off further.
    await new Promise((r) => setTimeout(r, 6000));
    server.kill(signal);
    const exit = await server.exited;
    if (signal === 'SIGTERM') expect(exit).toEqual({ code: 0, signal: null });
    server = await startServe([...args, '--port', String(first.port)]);
  }
  return server;
}

for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
  describe(`no message lost across 5 restarts by ${signal} (sqlite store, real processes)`, () => {
    it('0 lost, 0 duplicated, 0 out of order, in both directions', async () => {
      const dir = tempDataDir();
      const config = join(dir, 'config.json');
      // Short windows keep the test quick; the mechanism is the same as with the defaults.
      writeFileSync(config, JSON.stringify({ drainWindowMs: 500, graceMs: 1000, retryHint: { minMs: 200, maxMs: 1000 } }));
      const args = ['--store', 'sqlite', '--data-dir', dir, '--config', config, '--publish-key', KEY, '--client-publish', 'drill.*'];
      const first = await startServe(args);
      const drill = runDrill(first.url, 34);
      await restartLoop(first, args, signal, 5);
      const { code, report, stderr } = await drill.done;
      console.log(`${signal}: ${JSON.stringify(report.totals)}`);
      expect(report.totals.publishedHttp, stderr.slice(-1000)).toBeGreaterThan(800);
      expect(report.totals.publishedByClients).toBeGreaterThan(800);
      expect(report.unacknowledged).toBe(0);
      // Each restart closes every client; one reconnect may span two restarts when they come quickly.
      expect(report.totals.reconnects).toBeGreaterThanOrEqual(4 * 50);
      expect(report.totals.lost).toBe(0);
      expect(report.totals.duplicated).toBe(0);
      expect(report.totals.outOfOrder).toBe(0);
      expect(report.totals.delivered).toBe(report.totals.published * 10);
      expect(report.ok).toBe(true);
      expect(code).toBe(0);
    }, 180_000);
  });
}
