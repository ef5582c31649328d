/**
 * Limits that could be walked around: subscriptions added by resumed hellos, connections admitted
 * while a slow `authenticate` runs, a hello timeout that any frame stopped, and the server's own
 * `$lifeline.*` channels written by clients around a reload.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type LifelineServer, type ServerOptions } from '../../src/server/index.js';
import { createMemoryStore } from '../../src/store/memory.js';
import pino from 'pino';
import { WebSocket } from 'ws';
import { connectV1, type V1Peer } from '../support/v1-peer.js';
import { tryUpgrade } from '../support/ws-peer.js';
import { startServe } from '../support/serve-process.js';
import { useKit } from '../support/kit.js';
import type { ServerFrame, WelcomeFrame } from '../../src/protocol/index.js';

const { start, v1 } = useKit();

describe('limits hold on every path', () => {
  it('maxSubscriptions holds through resumed hellos that each list a hundred more channels', async () => {
    const { server, url } = await start({ maxSubscriptions: 5, store: createMemoryStore() });
    const first = await v1(url);
    first.send({ t: 'hello', v: 1 });
    const welcome = await first.next<WelcomeFrame>((f) => f.t === 'welcome');
    for (let i = 0; i < 5; i++) first.send({ t: 'sub', ch: `own.${i}` });
    for (let i = 0; i < 5; i++) await first.next((f) => f.t === 'subscribed');
    first.ws.close();
    await first.closed;

    const empty = await server.store.head('x');
    for (let round = 0; round < 10; round++) {
      const peer = await v1(url);
      const channels = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`more.${round}.${i}`, { epoch: empty.epoch, offset: 0 }]));
      peer.send({ t: 'hello', v: 1, token: welcome.token, channels });
      const back = await peer.next<WelcomeFrame>((f) => f.t === 'welcome');
      expect(back.resumed).toBe(true);
      expect(back.recovered).toBe(false);
      const limited = await collect(peer, (f) => f.t === 'error' && f.code === 'LIMIT', 100);
      expect(limited).toHaveLength(100);
      const subscribed = peer.frames.filter((f) => f.t === 'subscribed');
      expect(subscribed.length).toBeLessThanOrEqual(5);
      peer.ws.close();
      await peer.closed;
      const stored = await server.store.loadSession(welcome.session);
      expect(stored!.channels.length).toBeLessThanOrEqual(5);
    }
    expect(server.stats().protocol.subscriptionLimit).toBeGreaterThanOrEqual(1000);
  });

  it('maxConnections counts upgrades still in authentication: 100 at once against a limit of 10 with a 50 ms hook', async () => {
    const { server, url } = await start({
      maxConnections: 10,
      authenticate: () => new Promise((resolve) => setTimeout(() => resolve(true), 50)),
    });
    // Each opened connection is held open until every attempt has its answer.
    const sockets: WebSocket[] = [];
    const results = await Promise.all(
      Array.from(
        { length: 100 },
        () =>
          new Promise<'opened' | number>((resolve) => {
            const ws = new WebSocket(url);
            sockets.push(ws);
            ws.on('open', () => resolve('opened'));
            ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
            ws.on('error', () => resolve(0));
          }),
      ),
    );
    const opened = results.filter((r) => r === 'opened').length;
    const refused = results.filter((r) => r === 503).length;
    expect(opened).toBeLessThanOrEqual(10);
    expect(opened + refused).toBe(100);
    expect(server.connections.size).toBeLessThanOrEqual(10);
    expect(server.stats().opened).toBeLessThanOrEqual(10);
    expect(server.stats().refusedByReason.connections).toBe(refused);
    for (const ws of sockets) ws.terminate();
  });

  it('maxPendingUpgrades bounds the upgrades in admission even without maxConnections', async () => {
    // Authentication that waits until the test says so: exactly what is in admission is held there.
    let release!: () => void;
    const gate = new Promise<boolean>((resolve) => (release = () => resolve(true)));
    const { server, url } = await start({ maxPendingUpgrades: 5, authenticate: () => gate });
    const attempts = Array.from({ length: 40 }, () => tryUpgrade(url));
    await expect.poll(() => server.stats().refusedByReason.admission ?? 0, { timeout: 20_000 }).toBe(35);
    expect(server.stats().admitting).toBe(5);
    release();
    const results = await Promise.all(attempts);
    expect(results.filter((r) => r.opened)).toHaveLength(5);
    expect(results.filter((r) => !r.opened && r.status === 503)).toHaveLength(35);
    expect(server.stats().admitting).toBe(0);
  });

  it('only a hello stops the hello timeout: a client that sends pings or unknown frames is closed with 1008', async () => {
    const { server, url } = await start({ helloTimeoutMs: 300 });
    const pinger = await v1(url);
    const stranger = await v1(url);
    const ticker = setInterval(() => pinger.send({ t: 'ping', n: 1 }), 50);
    stranger.send({ t: 'no-such-frame' });
    const [a, b] = await Promise.all([pinger.closed, stranger.closed]);
    clearInterval(ticker);
    expect(a).toEqual({ code: 1008, reason: 'hello expected' });
    expect(b).toEqual({ code: 1008, reason: 'hello expected' });
    expect(pinger.frames.some((f) => f.t === 'pong')).toBe(true);
    expect(server.stats().helloTimeouts).toBe(2);
  });

  it('$lifeline.* is reserved at every instant: client publishes there are refused before, during and after two reloads', async () => {
    // --demo lets clients publish everywhere ('*'): the reservation must hold against that too.
    // A drain window long enough that the second reload lands while the first one's drain still runs.
    const serve = await startServe(['--demo', '--store', 'memory', '--drain-window', '2s', '--rate-limit', '100000/100000']);
    const peer = await v1(serve.url);
    peer.send({ t: 'hello', v: 1, origin: 'reserved-channel-attacker-01' });
    await peer.next((f) => f.t === 'welcome');
    let id = 0;
    const answers: ServerFrame[] = [];
    const attack = (async () => {
      for (let i = 0; i < 600 && peer.ws.readyState === peer.ws.OPEN; i++) {
        peer.send({ t: 'pub', id: ++id, ch: '$lifeline.stats', data: { forged: true } });
        answers.push(await peer.next((f) => (f.t === 'ack' || f.t === 'reject') && f.id === id, 10_000));
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    serve.kill('SIGHUP');
    await new Promise((r) => setTimeout(r, 300));
    serve.kill('SIGHUP');
    await attack.catch(() => undefined);
    expect(answers.length).toBeGreaterThan(20);
    expect(answers.filter((f) => f.t === 'ack')).toEqual([]);
    expect(answers.every((f) => f.t === 'reject' && f.code === 'FORBIDDEN')).toBe(true);
    const http = await fetch(`http://127.0.0.1:${serve.port}/publish`, { method: 'POST', body: '{"channel":"$lifeline.stats","data":1}' });
    expect([401, 403]).toContain(http.status);
  });
});

/** Wait until `count` frames matching `predicate` arrived on `peer`; returns them. */
async function collect(peer: V1Peer, predicate: (f: ServerFrame) => boolean, count: number): Promise<ServerFrame[]> {
  const out: ServerFrame[] = [];
  while (out.length < count) out.push(await peer.next(predicate));
  return out;
}
