/**
 * Issue 7, the chaos drill: 200 clients publish and receive across two server processes on Redis while
 * handlers throw at random, a SIGHUP cycles connections, a server is SIGKILLed and restarted, and Redis
 * itself is killed and restarted. It must end with nothing acknowledged lost, nothing delivered twice,
 * every client back, and bounded memory.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startDrill } from '../support/drill-process.js';
import { freePort } from '../support/ports.js';
import { PrivateRedis } from '../support/private-redis.js';
import { killAll, startServe, tempDataDir, type ServeProcess } from '../support/serve-process.js';

const KEY = 'chaos-test-key-0123456789';
let redis: PrivateRedis | undefined;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

afterEach(async () => {
  await killAll();
});
afterAll(async () => {
  await redis?.kill();
});

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) / 1024;
}

describe('chaos drill', () => {
  it('random 1011s, SIGHUP, SIGKILL and a Redis restart: 0 lost, 0 duplicated, all clients back, bounded memory', async () => {
    redis = new PrivateRedis(await freePort());
    await redis.start();
    const config = join(tempDataDir(), 'config.json');
    writeFileSync(config, JSON.stringify({ drainWindowMs: 800, graceMs: 500, retryHint: { minMs: 200, maxMs: 1000 }, chaosCrashEveryMs: 300 }));
    const args = ['--store', redis.url, '--config', config, '--publish-key', KEY, '--client-publish', 'drill.*'];
    const a = await startServe(args);
    let b: ServeProcess = await startServe(args);
    const drill = startDrill([a.url, b.url], ['--clients', '200', '--channels', '5', '--duration', '30s', '--rate', '10', '--client-rate', '0.5', '--settle', '25s', '--publish-key', KEY]);

    await sleep(5000);
    a.kill('SIGHUP');
    await sleep(4000);
    b.kill('SIGKILL');
    await b.exited;
    b = await startServe([...args, '--port', String(b.port)]);
    await sleep(4000);
    await redis.kill();
    await sleep(3000);
    await redis.start();
    await sleep(4000);
    // The last act: a reload that also ends the fault injection, so "all clients back" can be checked.
    writeFileSync(config, JSON.stringify({ drainWindowMs: 800, graceMs: 500, retryHint: { minMs: 200, maxMs: 1000 } }));
    a.kill('SIGHUP');
    b.kill('SIGHUP');

    const { code, report, stderr } = await drill.done;
    const memory = [a, b].map((s) => rssMb(s.pid));
    const incidents = a.logs.filter((e) => e.incident !== undefined).length + b.logs.filter((e) => e.incident !== undefined).length;
    console.log(`chaos: ${JSON.stringify(report.totals)} unacknowledged=${report.unacknowledged} connectedAtEnd=${report.connectedAtEnd}/${report.clients} incidents=${incidents} rssMb=${memory.map((m) => m.toFixed(0)).join(',')}`);
    expect(incidents, stderr.slice(-1000)).toBeGreaterThan(20); // the chaos really happened
    expect(report.totals.reconnects).toBeGreaterThan(200);
    expect(report.totals.published).toBeGreaterThan(1000);
    expect(report.totals.lost).toBe(0);
    expect(report.totals.duplicated).toBe(0);
    expect(report.totals.outOfOrder).toBe(0);
    expect(report.unacknowledged).toBe(0);
    expect(report.connectedAtEnd).toBe(200);
    for (const m of memory) expect(m).toBeLessThan(400);
    expect(code).toBe(0);
  }, 180_000);
});
