/**
 * Issue 4: Redis goes away during traffic and comes back. Connections survive, readiness turns false,
 * publishes are refused with the documented error, nothing unacknowledged is claimed, and the service
 * recovers on its own; every acknowledged message is delivered afterwards.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startDrill } from '../support/drill-process.js';
import { freePort } from '../support/ports.js';
import { PrivateRedis } from '../support/private-redis.js';
import { killAll, startServe } from '../support/serve-process.js';
import { until } from '../support/wait.js';

const KEY = 'outage-test-key-0123456789';
let redis: PrivateRedis | undefined;

afterEach(async () => {
  await killAll();
});
afterAll(async () => {
  await redis?.kill();
});

describe('a Redis outage during traffic', () => {
  it('keeps connections, refuses publishes with 503 store_unavailable, and recovers by itself', async () => {
    redis = new PrivateRedis(await freePort());
    await redis.start();
    const server = await startServe(['--store', redis.url, '--publish-key', KEY, '--client-publish', 'drill.*']);
    const base = `http://127.0.0.1:${server.port}`;
    const drill = startDrill([server.url], ['--clients', '20', '--channels', '2', '--duration', '14s', '--rate', '10', '--client-rate', '1', '--settle', '20s', '--publish-key', KEY, '--expect-restarts', '0']);

    await new Promise((r) => setTimeout(r, 3000));
    await redis.kill();
    await until(async () => (await fetch(`${base}/readyz`)).status === 503, '/readyz to say 503', 20_000, 100);
    expect(await (await fetch(`${base}/readyz`)).json()).toMatchObject({ status: 'store-unavailable' });
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const refused = await fetch(`${base}/publish`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ channel: 'drill.outage', data: 'x' }),
    });
    expect(refused.status).toBe(503);
    expect(await refused.json()).toMatchObject({ error: 'store_unavailable' });
    await server.waitForLog((e) => e.msg === 'store unavailable; not ready, publishes refused until it is back');

    await new Promise((r) => setTimeout(r, 3000));
    await redis.start();
    await until(async () => (await fetch(`${base}/readyz`)).status === 200, '/readyz to say 200 again', 20_000, 100);
    await server.waitForLog((e) => e.msg === 'store available again');

    const { code, report, stderr } = await drill.done;
    console.log(`redis outage: ${JSON.stringify(report.totals)} retries=${report.publishRetries}`);
    expect(report.publishRetries, stderr.slice(-1000)).toBeGreaterThan(0); // the publisher was refused during the outage
    expect(report.totals.reconnects).toBe(0); // connections survived the outage
    expect(report.totals.lost).toBe(0);
    expect(report.totals.duplicated).toBe(0);
    expect(report.totals.outOfOrder).toBe(0);
    expect(report.unacknowledged).toBe(0);
    expect(code).toBe(0);
    expect(server.child.exitCode).toBeNull();
  }, 120_000);
});
