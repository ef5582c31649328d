import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { isUnwrittenEpoch, type EventFrame, type SubscribedFrame, type WelcomeFrame } from '../../src/protocol/index.js';
import { createServer, type LifelineServer, type ServerOptions } from '../../src/server/index.js';
import { createMemoryStore } from '../../src/store/memory.js';
import { createSqliteStore } from '../../src/store/sqlite/index.js';
import { connectV1 } from '../support/v1-peer.js';

let server: LifelineServer | undefined;
afterEach(async () => {
  await server?.shutdown();
  server = undefined;
});

async function start(options: ServerOptions = {}): Promise<string> {
  server = createServer({ logger: pino({ level: 'silent' }), drainWindowMs: 0, graceMs: 100, closeTimeoutMs: 200, ...options });
  const { port } = await server.listen(0);
  return `ws://127.0.0.1:${port}/`;
}

describe('lifeline.v1 over real sockets', () => {
  for (const engine of ['memory', 'sqlite'] as const) {
    it(`a live connection keeps its session past sessionTtlMs: silent for three TTLs, dropped, then resumed with nothing lost (${engine})`, async () => {
      // Protocol section 9: the resume window counts from the session's last use; a live connection is in use.
      const dir = mkdtempSync(join(tmpdir(), 'lifeline-session-ttl-'));
      try {
        const store = engine === 'memory' ? createMemoryStore() : createSqliteStore({ path: join(dir, 'lifeline.db') });
        const url = await start({ store, sessionTtlMs: 600 });
        const first = await connectV1(url);
        first.send({ t: 'hello', v: 1 });
        const welcome = await first.next<WelcomeFrame>((f) => f.t === 'welcome');
        first.send({ t: 'sub', ch: 'news' });
        const sub = await first.next<SubscribedFrame>((f) => f.t === 'subscribed');
        await new Promise((r) => setTimeout(r, 1800));
        first.ws.terminate();
        await first.closed;
        await server!.publish('news', 'while away');
        const second = await connectV1(url);
        second.send({ t: 'hello', v: 1, token: welcome.token, channels: { news: { epoch: sub.epoch, offset: sub.offset } } });
        const again = await second.next<WelcomeFrame>((f) => f.t === 'welcome');
        expect(again).toMatchObject({ resumed: true, recovered: true, session: welcome.session, lost: [] });
        expect((await second.next<EventFrame>((f) => f.t === 'ev')).data).toBe('while away');
        await server!.shutdown();
        server = undefined;
        await store.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it("a store that answers an unwritten channel's epoch as '' cannot make a subscription drop the first message in silence", async () => {
    // A store bug once did this (two Redis nodes initialising one prefix at once): the subscription took
    // '' for "not started yet" and dropped what came. Whatever the store answers, the client hears.
    const inner = createMemoryStore();
    const store = new Proxy(inner, {
      get(target, key) {
        const blank = (head: { epoch: string; offset: number }) => (isUnwrittenEpoch(head.epoch) ? { epoch: '', offset: 0 } : head);
        if (key === 'head') return async (channel: string) => blank(await target.head(channel));
        if (key === 'read') {
          return async (...args: Parameters<typeof target.read>) => {
            const result = await target.read(...args);
            return { ...result, head: blank(result.head) };
          };
        }
        const value = Reflect.get(target, key, target) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const url = await start({ store });
    const peer = await connectV1(url);
    peer.send({ t: 'hello', v: 1 });
    await peer.next((f) => f.t === 'welcome');
    peer.send({ t: 'sub', ch: 'news' });
    expect(await peer.next<SubscribedFrame>((f) => f.t === 'subscribed')).toMatchObject({ epoch: '', offset: 0 });
    await server!.publish('news', 'first');
    // Delivered, or the client is told it was not: never nothing.
    const told = await peer.next((f) => (f.t === 'ev' && f.off === 1) || (f.t === 'subscribed' && !f.recovered));
    expect(told.t === 'ev' ? told.data : told).toEqual(told.t === 'ev' ? 'first' : expect.objectContaining({ ch: 'news', offset: 1, recovered: false }));
  });

  it('hello, subscribe, replay in order, then live', async () => {
    const url = await start();
    for (let i = 1; i <= 3; i++) await server!.publish('news', { i });
    const peer = await connectV1(url);
    peer.send({ t: 'hello', v: 1 });
    const welcome = await peer.next<WelcomeFrame>((f) => f.t === 'welcome');
    expect(welcome.resumed).toBe(false);
    expect(welcome.token).toMatch(/^s_[\w-]{22}\.[\w-]{43}$/);
    const head = await server!.store.head('news');
    peer.send({ t: 'sub', ch: 'news', from: { epoch: head.epoch, offset: 1 } });
    const sub = await peer.next((f) => f.t === 'subscribed');
    expect(sub).toMatchObject({ ch: 'news', epoch: head.epoch, offset: 1, recovered: true });
    await server!.publish('news', { i: 4 });
    const evs: EventFrame[] = [];
    for (let i = 0; i < 3; i++) evs.push(await peer.next<EventFrame>((f) => f.t === 'ev'));
    expect(evs.map((e) => e.off)).toEqual([2, 3, 4]);
    expect(evs.map((e) => (e.data as { i: number }).i)).toEqual([2, 3, 4]);
  });

  it('acks a msg after the handler; a resend is acked without running the handler again', async () => {
    const seen: unknown[] = [];
    const url = await start({ onSessionMessage: (_c, data) => void seen.push(data) });
    const peer = await connectV1(url);
    peer.send({ t: 'hello', v: 1, origin: 'origin-abcdefghijklmnop' });
    await peer.next((f) => f.t === 'welcome');
    peer.send({ t: 'msg', id: 1, data: 'one' });
    expect(await peer.next((f) => f.t === 'ack')).toEqual({ t: 'ack', id: 1 });
    peer.send({ t: 'msg', id: 1, data: 'one' });
    expect(await peer.next((f) => f.t === 'ack')).toEqual({ t: 'ack', id: 1 });
    expect(seen).toEqual(['one']);
  });

  it('a poison message closes with 1011 once; its resend is rejected with the incident id, not run again', async () => {
    let runs = 0;
    const url = await start({
      onSessionMessage: (_c, data) => {
        if (data === 'poison') {
          runs += 1;
          throw new Error('cannot digest');
        }
      },
    });
    const origin = 'origin-poison-0123456789';
    const first = await connectV1(url);
    first.send({ t: 'hello', v: 1, origin });
    const welcome = await first.next<WelcomeFrame>((f) => f.t === 'welcome');
    first.send({ t: 'msg', id: 7, data: 'poison' });
    const closed = await first.closed;
    expect(closed.code).toBe(1011);
    const incident = /incident=(inc_[0-9a-f]+)/.exec(closed.reason)?.[1];
    expect(incident).toBeDefined();

    const second = await connectV1(url);
    second.send({ t: 'hello', v: 1, origin, token: welcome.token });
    expect((await second.next<WelcomeFrame>((f) => f.t === 'welcome')).resumed).toBe(true);
    second.send({ t: 'msg', id: 7, data: 'poison' });
    expect(await second.next((f) => f.t === 'reject')).toEqual({ t: 'reject', id: 7, code: 'HANDLER_FAILED', incident });
    second.send({ t: 'msg', id: 8, data: 'fine' });
    expect(await second.next((f) => f.t === 'ack')).toEqual({ t: 'ack', id: 8 });
    expect(runs).toBe(1);
  });

  it('malformed frames get the registry codes, never 1011, and the server keeps serving', async () => {
    const url = await start({ helloTimeoutMs: 300 });
    const cases: [unknown, number][] = [
      ['not json', 1007],
      [[1, 2], 1002],
      [{ t: 'sub', ch: 'x' }, 1002], // before hello
      [{ t: 'hello', v: 2 }, 1002],
      [{ t: 'hello', v: 1, token: 42 }, 1002],
    ];
    for (const [frame, code] of cases) {
      const peer = await connectV1(url);
      peer.send(frame);
      expect((await peer.closed).code, JSON.stringify(frame)).toBe(code);
    }
    const binary = await connectV1(url);
    binary.ws.send(Buffer.from([0x7b, 0x7d]));
    expect((await binary.closed).code).toBe(1003);

    const afterHello = await connectV1(url);
    afterHello.send({ t: 'hello', v: 1 });
    await afterHello.next((f) => f.t === 'welcome');
    afterHello.send({ t: 'future-op', x: 1 });
    expect(await afterHello.next((f) => f.t === 'error')).toMatchObject({ code: 'UNKNOWN_TYPE' });
    afterHello.send({ t: 'msg', id: -1, data: 1 });
    expect((await afterHello.closed).code).toBe(1002);
    const silent = await connectV1(url);
    expect((await silent.closed).code).toBe(1008); // helloTimeoutMs
    expect(server!.stats().incidents).toBe(0);
  });

  it('client publishes need authorisation and are stored once per id', async () => {
    const url = await start({ authorizePublish: (_c, ch) => ch.startsWith('open.'), store: createMemoryStore() });
    const peer = await connectV1(url);
    peer.send({ t: 'hello', v: 1, origin: 'origin-publisher-000001' });
    await peer.next((f) => f.t === 'welcome');
    peer.send({ t: 'pub', id: 1, ch: 'closed.room', data: 'x' });
    expect(await peer.next((f) => f.t === 'reject')).toMatchObject({ id: 1, code: 'FORBIDDEN' });
    peer.send({ t: 'pub', id: 2, ch: 'open.room', data: 'y' });
    peer.send({ t: 'pub', id: 2, ch: 'open.room', data: 'y' });
    const first = await peer.next((f) => f.t === 'ack');
    const { epoch } = await server!.store.head('open.room');
    expect(first).toEqual({ t: 'ack', id: 2, off: 1, epoch });
    expect(await peer.next((f) => f.t === 'ack')).toEqual({ t: 'ack', id: 2, off: 1, epoch });
    expect((await server!.store.head('open.room')).offset).toBe(1);
  });

  it("a resume token works only for its own user; unauthenticated upgrades get 401", async () => {
    const url = await start({ authenticate: (req) => (typeof req.headers['x-user'] === 'string' ? req.headers['x-user'] : false) });
    await expect(connectV1(url)).rejects.toMatchObject({ status: 401 });

    const alice = await connectV1(url, { 'x-user': 'alice' });
    alice.send({ t: 'hello', v: 1 });
    const aliceWelcome = await alice.next<WelcomeFrame>((f) => f.t === 'welcome');
    alice.send({ t: 'sub', ch: 'private.alice' });
    await alice.next((f) => f.t === 'subscribed');
    alice.ws.close();

    const mallory = await connectV1(url, { 'x-user': 'mallory' });
    mallory.send({ t: 'hello', v: 1, token: aliceWelcome.token, channels: { 'private.alice': { epoch: 'x', offset: 0 } } });
    const stolen = await mallory.next<WelcomeFrame>((f) => f.t === 'welcome');
    expect(stolen.resumed).toBe(false);
    expect(stolen.recovered).toBe(false);
    expect(stolen.session).not.toBe(aliceWelcome.session);
    expect(stolen.lost).toEqual(['private.alice']);
    // No subscription was restored for mallory.
    await server!.publish('private.alice', 'secret');
    mallory.send({ t: 'ping', n: 1 });
    await mallory.next((f) => f.t === 'pong');
    expect(mallory.frames.some((f) => f.t === 'ev' || f.t === 'subscribed')).toBe(false);

    const aliceAgain = await connectV1(url, { 'x-user': 'alice' });
    aliceAgain.send({ t: 'hello', v: 1, token: aliceWelcome.token });
    const back = await aliceAgain.next<WelcomeFrame>((f) => f.t === 'welcome');
    expect(back).toMatchObject({ resumed: true, session: aliceWelcome.session });
  });

  it('a failing store is answered with UNAVAILABLE or 1013, never 1011', async () => {
    const { StoreUnavailableError } = await import('../../src/store/errors.js');
    const store = createMemoryStore();
    let broken = false;
    const failing = new Proxy(store, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => (broken && prop !== 'close' ? Promise.reject(new StoreUnavailableError('disk on fire')) : (value as (...a: unknown[]) => unknown).apply(target, args));
      },
    });
    const url = await start({ store: failing, onSessionMessage: () => {} });
    const peer = await connectV1(url);
    peer.send({ t: 'hello', v: 1 });
    await peer.next((f) => f.t === 'welcome');
    broken = true;
    peer.send({ t: 'sub', ch: 'news' });
    expect(await peer.next((f) => f.t === 'error')).toMatchObject({ code: 'UNAVAILABLE', ref: 'news' });
    peer.send({ t: 'msg', id: 1, data: 'x' });
    expect(await peer.next((f) => f.t === 'error')).toMatchObject({ code: 'UNAVAILABLE', ref: 1 });
    const late = await connectV1(url);
    late.send({ t: 'hello', v: 1 });
    const closed = await late.closed;
    expect(closed.code).toBe(1013);
    expect(closed.reason).toContain('retry=');
    broken = false;
    peer.send({ t: 'msg', id: 1, data: 'x' });
    expect(await peer.next((f) => f.t === 'ack')).toEqual({ t: 'ack', id: 1 });
    expect(server!.stats().incidents).toBe(0);
  });

  it('a resumed session is re-authorised: a channel no longer allowed is reported lost, not restored', async () => {
    const allowed = new Set(['a', 'b']);
    const url = await start({ authorizeSubscribe: (_c, ch) => allowed.has(ch) });
    const first = await connectV1(url);
    first.send({ t: 'hello', v: 1 });
    const welcome = await first.next<WelcomeFrame>((f) => f.t === 'welcome');
    for (const ch of ['a', 'b']) {
      first.send({ t: 'sub', ch });
      await first.next((f) => f.t === 'subscribed' && f.ch === ch);
    }
    first.ws.close();
    await first.closed;
    allowed.delete('b');
    const second = await connectV1(url);
    second.send({ t: 'hello', v: 1, token: welcome.token });
    const back = await second.next<WelcomeFrame>((f) => f.t === 'welcome');
    expect(back).toMatchObject({ resumed: true, recovered: false, lost: ['b'] });
    expect(await second.next((f) => f.t === 'subscribed')).toMatchObject({ ch: 'a' });
    await server!.publish('b', 'private');
    second.send({ t: 'ping', n: 2 });
    await second.next((f) => f.t === 'pong');
    expect(second.frames.some((f) => f.t === 'ev')).toBe(false);
  });

  it('a hello that arrived in time is not cut off by the hello timeout while it waits its turn', async () => {
    const url = await start({ helloTimeoutMs: 100, onConnection: () => new Promise((r) => setTimeout(r, 400)) });
    const peer = await connectV1(url);
    peer.send({ t: 'hello', v: 1 });
    expect(await peer.next((f) => f.t === 'welcome')).toMatchObject({ resumed: false });
  });
});
