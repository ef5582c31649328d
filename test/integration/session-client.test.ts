/**
 * The `lifeline.v1` session client against a real in-process server over real sockets: resume and
 * replay, exactly-once delivery, trimmed history, token security, the outbox bound, the poison rule
 * and acknowledged messages across restarts.
 */
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createSession,
  QueueFullError,
  RejectedError,
  type LifelineSession,
  type RecoveryInfo,
  type SessionMessage,
  type SessionOptions,
  type SubscribedInfo,
  type WelcomeInfo,
} from '../../src/client/index.js';
import type { CloseInfo } from '../../src/client/index.js';
import type { LifelineError } from '../../src/errors.js';
import type { WelcomeFrame } from '../../src/protocol/index.js';
import { createServer, type LifelineServer, type ServerOptions } from '../../src/server/index.js';
import { createMemoryStore } from '../../src/store/memory.js';
import { connectV1 } from '../support/v1-peer.js';
import { until } from '../support/wait.js';

const servers: LifelineServer[] = [];
const sessions: LifelineSession[] = [];
afterEach(async () => {
  for (const s of sessions.splice(0)) s.close();
  await Promise.all(servers.splice(0).map((s) => s.shutdown()));
});

/** A server with short drain timings and a reconnect hint of 10-50 ms, on `port` (0: any). */
async function startServer(options: ServerOptions = {}, port = 0): Promise<{ server: LifelineServer; url: string; port: number }> {
  const server = createServer({
    logger: pino({ level: 'silent' }),
    drainWindowMs: 50,
    graceMs: 200,
    closeTimeoutMs: 200,
    retryHint: { minMs: 10, maxMs: 50 },
    ...options,
  });
  servers.push(server);
  const bound = await server.listen(port);
  return { server, url: `ws://127.0.0.1:${bound.port}/`, port: bound.port };
}

/** A session with quick reconnects, recording everything it emits. */
function openSession(url: string, options: Partial<SessionOptions> = {}) {
  const session = createSession({
    url,
    soon: { minMs: 10, maxMs: 50 },
    backoff: { baseMs: 20, capMs: 100 },
    ...options,
  });
  sessions.push(session);
  const seen = {
    messages: [] as SessionMessage[],
    welcomes: [] as WelcomeInfo[],
    recoveries: [] as RecoveryInfo[],
    subscribed: [] as SubscribedInfo[],
    closes: [] as CloseInfo[],
    errors: [] as LifelineError[],
  };
  session.on('message', (m) => seen.messages.push(m));
  session.on('welcome', (w) => seen.welcomes.push(w));
  session.on('recovery', (r) => seen.recoveries.push(r));
  session.on('subscribed', (s) => seen.subscribed.push(s));
  session.on('close', (c) => seen.closes.push(c));
  session.on('error', (e) => seen.errors.push(e));
  return { session, seen };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('session client: channels', () => {
  it('replays in order and exactly once across a restart while the server keeps publishing', async () => {
    const { server, url } = await startServer();
    const { session, seen } = openSession(url);
    session.subscribe('ticks');
    await until(() => seen.subscribed.length === 1, 'first subscribed');

    const N = 80;
    let publishedWhileAway = 0;
    const publishing = (async () => {
      for (let i = 1; i <= N; i++) {
        await server.publish('ticks', { i });
        if (seen.closes.length > 0 && !session.ready) publishedWhileAway += 1;
        await sleep(2);
      }
    })();
    await until(() => seen.messages.length >= 10, 'some live messages');
    const restarted = server.restart();
    await publishing;
    await restarted;
    await until(() => seen.messages.length >= N, `all ${N} messages`);
    await sleep(100); // anything extra (a duplicate) would arrive now

    expect(seen.closes.map((c) => c.code)).toContain(1012);
    expect(publishedWhileAway, 'messages published while the client was away (replayed on resume)').toBeGreaterThan(0);
    expect(seen.messages.map((m) => m.offset)).toEqual(range(1, N));
    expect(seen.messages.map((m) => (m.data as { i: number }).i)).toEqual(range(1, N));
    expect(seen.welcomes.map((w) => w.resumed)).toEqual([false, true]);
    expect(seen.welcomes[1]!.session).toBe(seen.welcomes[0]!.session);
    expect(seen.recoveries).toEqual([]);
    expect(session.positions()).toEqual({ ticks: { epoch: seen.messages[0]!.epoch, offset: N } });
  });

  it('reports recovered: false when history was trimmed while away, and delivers what is left once', async () => {
    const store = createMemoryStore({ history: { maxCount: 5 } });
    const first = await startServer({ store });
    const { session, seen } = openSession(first.url);
    session.subscribe('feed');
    await until(() => seen.subscribed.length === 1, 'subscribed');
    for (let i = 1; i <= 3; i++) await first.server.publish('feed', i);
    await until(() => seen.messages.length === 3, 'three live messages');

    // The process goes away; 20 messages are stored while the client is knocking on a closed port.
    await first.server.shutdown();
    for (let i = 4; i <= 23; i++) await store.append('feed', i);
    await until(() => seen.closes.length >= 2, 'at least one refused reconnect');
    await startServer({ store }, first.port);

    await until(() => seen.messages.length === 8, 'the retained messages');
    await sleep(100);
    expect(seen.welcomes.map((w) => w.resumed)).toEqual([false, true]);
    expect(seen.messages.map((m) => m.offset)).toEqual([1, 2, 3, 19, 20, 21, 22, 23]);
    expect(seen.messages.map((m) => m.data)).toEqual([1, 2, 3, 19, 20, 21, 22, 23]);
    expect(seen.subscribed.at(-1)).toMatchObject({ channel: 'feed', recovered: false });
    expect(seen.recoveries).toEqual([{ recovered: false, lost: ['feed'], channel: 'feed', epochChanged: false }]);
  });

  it('re-subscribes from the last delivered position when the session cannot be resumed (expired token)', async () => {
    const { server, url } = await startServer({ sessionTtlMs: 50 });
    // While `away`, every attempt goes to a port nothing listens on, so the token expires while disconnected.
    let away = false;
    const { session, seen } = openSession(url, { url: () => (away ? 'ws://127.0.0.1:1/' : url) });
    session.subscribe('room');
    await until(() => seen.subscribed.length === 1, 'subscribed');
    await server.publish('room', 'a');
    await until(() => seen.messages.length === 1, 'first message');

    away = true;
    await server.restart();
    // Stored while the client is away: the fresh session's `sub` with `from` must replay them.
    await server.publish('room', 'b');
    await server.publish('room', 'c');
    await sleep(150); // well past the 50 ms TTL
    away = false;
    await until(() => seen.messages.length === 3, 'replayed messages');
    await sleep(50);

    expect(seen.welcomes.map((w) => w.resumed)).toEqual([false, false]);
    expect(seen.welcomes[1]!.session).not.toBe(seen.welcomes[0]!.session);
    expect(seen.recoveries).toEqual([{ recovered: false, lost: ['room'] }]);
    expect(seen.subscribed.at(-1)).toMatchObject({ channel: 'room', recovered: true });
    expect(seen.messages.map((m) => m.data)).toEqual(['a', 'b', 'c']);
    expect(seen.messages.map((m) => m.offset)).toEqual([1, 2, 3]);
  });
});

describe('session client: resume token security (raw frames)', () => {
  async function establish(url: string, headers: Record<string, string> = {}) {
    const peer = await connectV1(url, headers);
    peer.send({ t: 'hello', v: 1, origin: 'origin-security-000000001' });
    const welcome = await peer.next<WelcomeFrame>((f) => f.t === 'welcome');
    peer.send({ t: 'sub', ch: 'secret-room' });
    await peer.next((f) => f.t === 'subscribed');
    peer.ws.close();
    await peer.closed;
    return welcome;
  }

  async function helloWith(url: string, token: string, headers: Record<string, string> = {}) {
    const peer = await connectV1(url, headers);
    peer.send({ t: 'hello', v: 1, token, channels: { 'secret-room': { epoch: 'e', offset: 0 } } });
    const welcome = await peer.next<WelcomeFrame>((f) => f.t === 'welcome');
    peer.ws.close();
    return welcome;
  }

  function expectFresh(welcome: WelcomeFrame, real: WelcomeFrame) {
    expect(welcome.resumed).toBe(false);
    expect(welcome.recovered).toBe(false);
    expect(welcome.lost).toEqual(['secret-room']);
    expect(welcome.session).not.toBe(real.session);
    expect(welcome.token).not.toBe(real.token);
  }

  it('a forged secret or an unknown session id never resumes; the real token does', async () => {
    const { url } = await startServer();
    const real = await establish(url);
    const [sessionId, secret] = real.token.split('.') as [string, string];
    const flipped = (secret[0] === 'A' ? 'B' : 'A') + secret.slice(1);

    expectFresh(await helloWith(url, `${sessionId}.${flipped}`), real);
    expectFresh(await helloWith(url, `${sessionId}.${'x'.repeat(43)}`), real);
    expectFresh(await helloWith(url, `s_${'Q'.repeat(22)}.${secret}`), real);
    expectFresh(await helloWith(url, 'not-a-token'), real);

    const resumed = await helloWith(url, real.token);
    expect(resumed.resumed).toBe(true);
    // The listed position names an epoch the channel never had: resumed, but that channel is not recovered.
    expect(resumed.recovered).toBe(false);
    expect(resumed.lost).toEqual(['secret-room']);
    expect(resumed.session).toBe(real.session);
  });

  it("another user's token never resumes", async () => {
    const { url } = await startServer({ authenticate: (req) => (typeof req.headers['x-user'] === 'string' ? req.headers['x-user'] : false) });
    const real = await establish(url, { 'x-user': 'alice' });
    expectFresh(await helloWith(url, real.token, { 'x-user': 'mallory' }), real);
    const own = await helloWith(url, real.token, { 'x-user': 'alice' });
    expect(own.resumed).toBe(true);
    expect(own.session).toBe(real.session);
  });

  it('an expired token never resumes', async () => {
    const { url } = await startServer({ sessionTtlMs: 50 });
    const real = await establish(url);
    await sleep(100);
    expectFresh(await helloWith(url, real.token), real);
  });
});

describe('session client: acknowledged messages', () => {
  it('a full outbox refuses the next message with QueueFullError and an error event; the rest are delivered once', async () => {
    const seenByHandler: unknown[] = [];
    const { url } = await startServer({ onSessionMessage: (_c, data) => void seenByHandler.push(data) });
    const { session, seen } = openSession(url, { autoConnect: false, maxQueue: 3 });
    const accepted = [session.send('one'), session.send('two'), session.send('three')];
    expect(session.pending).toBe(3);
    await expect(session.send('four')).rejects.toBeInstanceOf(QueueFullError);
    expect(seen.errors).toHaveLength(1);
    expect(seen.errors[0]).toBeInstanceOf(QueueFullError);
    expect(seen.errors[0]!.code).toBe('LIFELINE_ERR_QUEUE_FULL');
    expect(session.pending).toBe(3);

    session.connect();
    await Promise.all(accepted);
    expect(session.pending).toBe(0);
    await sleep(50);
    expect(seenByHandler).toEqual(['one', 'two', 'three']);
    // Room again once answered.
    await session.send('five');
    expect(seenByHandler).toEqual(['one', 'two', 'three', 'five']);
  });

  it('a poison message closes with 1011, is resent, and is rejected with the same incident; later messages are acked', async () => {
    let poisonRuns = 0;
    const handled: unknown[] = [];
    const { server, url } = await startServer({
      onSessionMessage: (_c, data) => {
        if (data === 'poison') {
          poisonRuns += 1;
          throw new Error('cannot digest');
        }
        handled.push(data);
      },
    });
    const { session, seen } = openSession(url);
    await until(() => session.ready, 'welcome');
    const before = session.send('before');
    await before;
    const poison = session.send('poison');
    const after = session.send('after'); // queued behind the poison on the doomed connection
    const outcome = await poison.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(outcome).toBeInstanceOf(RejectedError);
    const rejected = outcome as RejectedError;
    expect(rejected.code).toBe('LIFELINE_ERR_REJECTED');
    expect(rejected.protocolCode).toBe('HANDLER_FAILED');

    const close = seen.closes.find((c) => c.code === 1011);
    expect(close).toBeDefined();
    expect(close!.incident).toMatch(/^inc_/);
    expect(rejected.incident).toBe(close!.incident);
    expect(server.recentIncidents().map((i) => i.id)).toEqual([close!.incident]);

    await after;
    await session.send('later');
    expect(poisonRuns).toBe(1);
    expect(handled).toEqual(['before', 'after', 'later']);
    expect(seen.welcomes.map((w) => w.resumed)).toEqual([false, true]);
    expect(session.pending).toBe(0);
  });

  it('acknowledged messages survive a restart: each id handled exactly once, every promise resolved', async () => {
    const handled: number[] = [];
    const { server, url } = await startServer({
      onSessionMessage: async (_c, data, context) => {
        handled.push(context.id);
        expect(data).toEqual({ n: context.id });
        await sleep(3);
      },
    });
    const { session, seen } = openSession(url);
    await until(() => session.ready, 'welcome');
    const sends: Promise<unknown>[] = [];
    let restarted: Promise<void> | undefined;
    for (let n = 1; n <= 20; n++) {
      sends.push(session.send({ n }));
      if (n === 10) restarted = server.restart();
      await sleep(4);
    }
    await Promise.all(sends);
    await restarted;
    expect(seen.closes.map((c) => c.code)).toContain(1012);
    // The restart resolves once its connections are closed; the client comes back after its hint
    // (0-250 ms: something still serves), which may be after the last send was acknowledged.
    await until(() => seen.welcomes.length >= 2, 'the welcome after the 1012');
    expect([...handled].sort((a, b) => a - b)).toEqual(range(1, 20));
    expect(new Set(handled).size).toBe(20);
    expect(session.pending).toBe(0);
  });

  it('publish resolves with the stored offset and is stored once; close() rejects what is pending', async () => {
    const { server, url } = await startServer({ authorizePublish: () => true });
    const { session } = openSession(url);
    expect(await session.publish('board', 'first')).toEqual({ offset: 1, epoch: (await server.store.head('board')).epoch });
    expect(await session.publish('board', 'second')).toMatchObject({ offset: 2 });
    expect((await server.store.head('board')).offset).toBe(2);

    const { session: offline } = openSession(url, { autoConnect: false });
    const pending = offline.send('never');
    offline.close();
    await expect(pending).rejects.toMatchObject({ code: 'LIFELINE_ERR_CLIENT_CLOSED' });
    await expect(offline.send('after close')).rejects.toMatchObject({ code: 'LIFELINE_ERR_CLIENT_CLOSED' });
  });

  it('a forbidden publish is rejected and never resent', async () => {
    const { url } = await startServer({ authorizePublish: () => false });
    const { session } = openSession(url);
    await expect(session.publish('board', 'x')).rejects.toMatchObject({ code: 'LIFELINE_ERR_REJECTED', protocolCode: 'FORBIDDEN' });
    expect(session.pending).toBe(0);
  });
});
