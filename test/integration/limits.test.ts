/** Issue 7: every limit and access rule over real sockets: the code or status the client sees, and that others are unaffected. */
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { LifelineServer, ServerOptions } from '../../src/server/index.js';
import { useKit } from '../support/kit.js';
import { rawConnect, textFrame } from '../support/raw-socket.js';
import { connectV1 } from '../support/v1-peer.js';
import { connectPeer, tryUpgrade } from '../support/ws-peer.js';

const kit = useKit();
/** The server the test started last. */
let server: LifelineServer | undefined;

/** An echo server (the kit disposes of it). */
async function start(options: ServerOptions = {}): Promise<{ url: string; port: number }> {
  const started = await kit.start({ closeTimeoutMs: 200, onMessage: (c, d) => c.send(d), ...options });
  server = started.server;
  return started;
}

function upgradeWith(url: string, headers: Record<string, string>): Promise<number | 'open'> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    ws.on('open', () => {
      ws.terminate();
      resolve('open');
    });
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('error', () => {});
  });
}

describe('limits', () => {
  it('a message over maxPayload closes that connection with 1009', async () => {
    const { url } = await start({ maxPayload: 1024 });
    const bystander = await connectPeer(url);
    const big = await connectPeer(url);
    big.ws.send('x'.repeat(1025));
    expect((await big.closed).code).toBe(1009);
    expect(await bystander.request('fine')).toBe('fine');
  });

  it('a connection over its message rate is closed with 1008; others keep their own budget', async () => {
    const { url } = await start({ rateLimit: { messagesPerSecond: 20, burst: 10 } });
    const bystander = await connectPeer(url);
    const flooder = await connectPeer(url);
    for (let i = 0; i < 50; i++) flooder.ws.send(`m${i}`);
    const closed = await flooder.closed;
    expect(closed.code).toBe(1008);
    expect(closed.reason).toBe('rate limit exceeded');
    expect(flooder.messages.length).toBeLessThanOrEqual(11);
    expect(await bystander.request('calm')).toBe('calm');
    expect(server!.stats().rateLimited).toBe(1);
  });

  it('beyond maxConnections, upgrades get HTTP 503 with Retry-After until a slot frees', async () => {
    const { url } = await start({ maxConnections: 2 });
    const a = await connectPeer(url);
    await connectPeer(url);
    const refused = await tryUpgrade(url);
    expect(refused).toMatchObject({ opened: false, status: 503 });
    if (!refused.opened) expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(await a.request('still served')).toBe('still served');
    a.ws.close();
    await a.closed;
    await new Promise((r) => setTimeout(r, 50));
    expect(await tryUpgrade(url)).toEqual({ opened: true });
  });

  it('beyond maxSubscriptions, a sub gets an error frame LIMIT and the connection stays', async () => {
    const { url } = await start({ maxSubscriptions: 2 });
    const peer = await connectV1(url);
    peer.send({ t: 'hello', v: 1 });
    await peer.next((f) => f.t === 'welcome');
    for (const ch of ['a', 'b']) {
      peer.send({ t: 'sub', ch });
      await peer.next((f) => f.t === 'subscribed' && f.ch === ch);
    }
    peer.send({ t: 'sub', ch: 'c' });
    expect(await peer.next((f) => f.t === 'error')).toMatchObject({ code: 'LIMIT', ref: 'c' });
    peer.send({ t: 'ping', n: 9 });
    expect(await peer.next((f) => f.t === 'pong')).toEqual({ t: 'pong', n: 9 });
  });

  it('a client that never reads is closed as a slow consumer (1013) and server memory stays bounded', async () => {
    const chunk = 'y'.repeat(64 * 1024);
    let attempted = 0;
    const { url, port } = await start({
      maxBufferedBytes: 1024 * 1024,
      onMessage: (c, d) => {
        if (d !== 'flood') return c.send(d);
        for (let i = 0; i < 2000; i++) {
          attempted += 1;
          c.send(chunk); // 2000 x 64 KiB = 125 MiB if nothing stopped it
        }
      },
    });
    const bystander = await connectPeer(url);
    const slow = await rawConnect(port);
    slow.stopReading(); // never read again
    slow.write(textFrame('flood'));
    const deadline = Date.now() + 5000;
    while (server!.stats().slowConsumers === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(server!.stats().slowConsumers).toBe(1);
    expect(attempted).toBe(2000);
    // Only what fit under the high-water mark (plus the socket's own buffers) was ever queued.
    expect(server!.stats().messagesOut).toBeLessThan(200);
    expect(await bystander.request('unaffected')).toBe('unaffected');
    slow.destroy();
  });
});

describe('access', () => {
  it('an origin outside the allowlist gets 403 before the upgrade; allowed and absent origins connect', async () => {
    const { url } = await start({ allowedOrigins: ['https://app.example.com'] });
    expect(await upgradeWith(url, { origin: 'https://evil.example.com' })).toBe(403);
    expect(await upgradeWith(url, { origin: 'https://app.example.com' })).toBe('open');
    expect(await upgradeWith(url, {})).toBe('open');
  });

  it('authenticate answers 401 for unknown callers and 403 for known but refused ones, before any upgrade', async () => {
    const { url } = await start({
      authenticate: (req) => {
        const token = req.headers.authorization;
        if (token === 'Bearer good') return 'alice';
        if (token === 'Bearer banned') return { reject: 403 };
        return false;
      },
    });
    expect(await upgradeWith(url, {})).toBe(401);
    expect(await upgradeWith(url, { authorization: 'Bearer banned' })).toBe(403);
    expect(await upgradeWith(url, { authorization: 'Bearer good' })).toBe('open');
    expect(server!.stats().opened).toBe(1);
  });

  it('POST /publish needs the bearer key', async () => {
    const { port } = await start({ publishKey: 'k'.repeat(24) });
    const post = (auth?: string) =>
      fetch(`http://127.0.0.1:${port}/publish`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
        body: JSON.stringify({ channel: 'c', data: 1 }),
      });
    expect((await post()).status).toBe(401);
    expect((await post(`Bearer ${'k'.repeat(23)}x`)).status).toBe(401);
    expect((await post(`Bearer ${'k'.repeat(24)}`)).status).toBe(200);
    const forged = await fetch(`http://127.0.0.1:${port}/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${'k'.repeat(24)}` },
      body: JSON.stringify({ channel: '$lifeline.stats', data: { fake: true } }),
    });
    expect(forged.status).toBe(403);
  });
});
