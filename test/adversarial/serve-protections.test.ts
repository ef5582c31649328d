/**
 * `lifeline serve` can turn every protection on (it could turn none on before): each limit as a flag
 * and as a `--config` key, taking effect on a real process, and safe defaults on.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { describe, expect, it } from 'vitest';
import { startServe, tempDataDir } from '../support/serve-process.js';
import { connectPeer, tryUpgrade } from '../support/ws-peer.js';
import { freePort } from '../support/ports.js';
import { useKit } from '../support/kit.js';

const { v1, defer } = useKit();

function hold(url: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`refused ${res.statusCode}`), { status: res.statusCode })));
    ws.once('error', reject);
  });
}

describe('lifeline serve protections', () => {
  it('flags: --max-connections, --allowed-origin, --rate-limit, --max-subscriptions take effect', async () => {
    const serve = await startServe(['--store', 'memory', '--max-connections', '3', '--allowed-origin', 'https://app.example', '--rate-limit', '5/5', '--max-subscriptions', '2']);
    const held = [await hold(serve.url), await hold(serve.url, { origin: 'https://app.example' })];
    defer(() => held.forEach((w) => w.terminate()));
    await expect(hold(serve.url, { origin: 'https://evil.example' })).rejects.toMatchObject({ status: 403 });
    const third = await v1(serve.url);
    third.send({ t: 'hello', v: 1 });
    await third.next((f) => f.t === 'welcome');
    for (const ch of ['a', 'b', 'c']) third.send({ t: 'sub', ch });
    expect(await third.next((f) => f.t === 'error')).toMatchObject({ code: 'LIMIT', ref: 'c' });
    expect(await tryUpgrade(serve.url)).toMatchObject({ opened: false, status: 503 });
    // Five messages in the burst so far (hello and three subs, plus this one); the rest close it with 1008.
    for (let i = 0; i < 10; i++) third.send({ t: 'ping', n: i });
    expect(await third.closed).toEqual({ code: 1008, reason: 'rate limit exceeded' });
  });

  it('config keys: every bound of createServer is accepted and applied; unknown keys are refused', async () => {
    const dir = tempDataDir();
    const config = join(dir, 'serve.json');
    writeFileSync(
      config,
      JSON.stringify({
        maxQueuedMessages: 8, maxQueuedBytes: 1048576, maxPendingUpgrades: 10, replayPageBytes: 65536, maxReplayBytes: 1048576,
        maxReplayBytesPerConnection: 262144, maxChannelsCreated: 1, claimLeaseMs: 1000, maxFragments: 4, helloTimeoutMs: 300,
        maxConnections: 100, rateLimit: { messagesPerSecond: 100, burst: 100 }, maxSubscriptions: 10, maxBufferedBytes: 1048576,
        allowedOrigins: ['https://app.example'], sqliteSynchronous: 'full',
      }),
    );
    const serve = await startServe(['--data-dir', dir, '--config', config, '--client-publish', '*']);
    // helloTimeoutMs: closed with 1008 for saying nothing.
    const silent = await v1(serve.url);
    expect(await silent.closed).toEqual({ code: 1008, reason: 'hello expected' });
    // maxChannelsCreated: one new channel, then LIMIT.
    const publisher = await v1(serve.url);
    publisher.send({ t: 'hello', v: 1, origin: 'serve-config-publisher-1' });
    await publisher.next((f) => f.t === 'welcome');
    publisher.send({ t: 'pub', id: 1, ch: 'new.1', data: 1 });
    publisher.send({ t: 'pub', id: 2, ch: 'new.2', data: 2 });
    expect(await publisher.next((f) => f.t === 'ack' || f.t === 'reject')).toMatchObject({ t: 'ack', id: 1 });
    expect(await publisher.next((f) => f.t === 'ack' || f.t === 'reject')).toMatchObject({ t: 'reject', id: 2, code: 'LIMIT' });
    // maxFragments: a message in five frames closes with 1008.
    const plain = await connectPeer(serve.url);
    plain.ws.send('a', { fin: false });
    for (let i = 0; i < 4; i++) plain.ws.send('b', { fin: i === 3 });
    expect((await plain.closed).code).toBe(1008);

    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ maxConnection: 5 }));
    const refused = await startServe(['--data-dir', dir, '--config', bad]).catch((e: unknown) => e);
    expect(String(refused)).toMatch(/unknown setting "maxConnection".*maxConnections/s);
  });

  it('--metrics-port serves /metrics on its own listener, and the public port has none', async () => {
    const metricsPort = await freePort();
    const serve = await startServe(['--store', 'memory', '--admin-token', 'an-admin-token-of-length', '--metrics-port', String(metricsPort)]);
    const own = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(own.status).toBe(200);
    expect(await own.text()).toContain('lifeline_connections_open');
    const publicPort = await fetch(`http://127.0.0.1:${serve.port}/metrics`);
    expect(publicPort.status).not.toBe(200);
  });

  it('defaults on: a serve started with no flags has a connection limit and a message rate limit', async () => {
    const serve = await startServe(['--store', 'memory']);
    const plain = await connectPeer(serve.url);
    for (let i = 0; i < 1000; i++) plain.ws.send(`m${i}`);
    expect(await plain.closed).toMatchObject({ code: 1008, reason: 'rate limit exceeded' });
    const metrics = await (await fetch(`http://127.0.0.1:${serve.port}/metrics`)).text();
    expect(metrics).toMatch(/lifeline_connections_open \d/);
  });
});
