import { afterEach, describe, expect, it } from 'vitest';
import { createClient, type CloseInfo, type LifelineClient } from '../../src/client/index.js';
import { killAll, startServe } from '../support/serve-process.js';
import { until } from '../support/wait.js';

const clients: LifelineClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await killAll();
});

function track(client: LifelineClient) {
  clients.push(client);
  const closes: (CloseInfo & { at: number })[] = [];
  const opens: number[] = [];
  const connecting: number[] = [];
  const messages: string[] = [];
  client.on('close', (c) => closes.push({ ...c, at: Date.now() }));
  client.on('open', () => opens.push(Date.now()));
  client.on('connecting', () => connecting.push(Date.now()));
  client.on('message', ({ data }) => messages.push(String(data)));
  client.on('error', () => {});
  return { closes, opens, connecting, messages };
}

describe('the client against real server processes', () => {
  it('reconnects after a real 1012 from a restarted server process, within the hint', async () => {
    const first = await startServe(['--demo', '--store', 'memory', '--drain-window', '300ms']);
    const client = createClient({ url: first.url });
    const seen = track(client);
    await until(() => seen.opens.length === 1, 'the client to get there', 15_000);

    first.kill('SIGTERM');
    await until(() => seen.closes.length === 1, 'the client to get there', 15_000);
    const close = seen.closes[0]!;
    expect(close.code).toBe(1012);
    expect(close.class).toBe('reconnect-soon');
    expect(close.willReconnect).toBe(true);
    // 1000-5000 ms, counted from the end of the 300 ms drain window (the draining server refuses until then).
    expect(close.retry!.minMs).toBeGreaterThanOrEqual(1000);
    expect(close.retry!.minMs).toBeLessThanOrEqual(1300);
    expect(close.retry!.maxMs - close.retry!.minMs).toBe(4000);
    expect(close.delayMs).toBeGreaterThanOrEqual(close.retry!.minMs);
    expect(close.delayMs).toBeLessThanOrEqual(close.retry!.maxMs);
    expect(await first.exited).toEqual({ code: 0, signal: null });

    // The next process comes up on the same port; the client finds it on its own.
    const second = await startServe(['--demo', '--store', 'memory', '--port', String(first.port)]);
    await until(() => seen.opens.length === 2, 'the client to get there', 15_000);
    const waited = seen.opens[1]! - close.at;
    // Not before the chosen delay (a client that ignores its own delay would stampede).
    expect(waited).toBeGreaterThanOrEqual(close.delayMs! - 50);
    console.log(`reconnect after 1012: delay chosen ${close.delayMs} ms, reconnected after ${waited} ms`);
    client.send('after restart');
    await until(() => seen.messages.includes('after restart'), 'the client to get there', 15_000);
    expect(second.child.exitCode).toBeNull();
  });

  it('backs off after 1011 and surfaces the incident id; stops after 1008 with a diagnosis', async () => {
    const server = await startServe(['--demo', '--store', 'memory']);
    const client = createClient({ url: server.url });
    const seen = track(client);
    await until(() => seen.opens.length === 1, 'the client to get there', 15_000);

    client.send('crash');
    await until(() => seen.closes.length === 1, 'the client to get there', 15_000);
    const crash = seen.closes[0]!;
    expect(crash.code).toBe(1011);
    expect(crash.class).toBe('backoff');
    expect(crash.incident).toMatch(/^inc_[0-9a-f]{12}$/);
    expect(crash.willReconnect).toBe(true);
    // Full jitter on the first retry: somewhere in [0, base).
    expect(crash.delayMs).toBeGreaterThanOrEqual(0);
    expect(crash.delayMs).toBeLessThan(500);
    expect(crash.reason).not.toContain('s3cr3t');
    await server.waitForLog((e) => e.incident === crash.incident);
    await until(() => seen.opens.length === 2, 'the client to get there', 15_000);

    const stopped = new Promise<{ diagnosis: string }>((resolve) => client.on('stopped', resolve));
    client.send('forbidden');
    const { diagnosis } = await stopped;
    const policy = seen.closes[1]!;
    expect(policy.code).toBe(1008);
    expect(policy.willReconnect).toBe(false);
    expect(client.state).toBe('stopped');
    expect(diagnosis).toMatch(/Policy Violation/);
    const attempts = seen.connecting.length;
    await new Promise((r) => setTimeout(r, 1200));
    expect(seen.connecting.length).toBe(attempts); // it really stopped

    client.reconnect(); // and can be told to try again
    await until(() => seen.opens.length === 3, 'the client to get there', 15_000);
  });
});
