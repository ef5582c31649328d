/**
 * The behaviours issue 11 found wrong, over real sockets: restore without a silent skip, one truth in
 * `welcome.recovered`, id conflicts answered as conflicts, one live connection per session (on one node
 * and across two over Redis), results of acknowledged messages, and credentials inside the protocol.
 */
import pino from 'pino';
import { WebSocket } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { createSession, DeclinedError, RejectedError, type LifelineSession, type WebSocketConstructor } from '../../src/client/index.js';
import type { EventFrame, Json, SubscribedFrame, WelcomeFrame } from '../../src/protocol/index.js';
import { createServer, DeclinedError as ServerDeclined, type LifelineServer, type ServerOptions } from '../../src/server/index.js';
import { createRedisStore } from '../../src/store/redis/index.js';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../support/redis.js';
import { connectV1, type V1Peer } from '../support/v1-peer.js';
import { until } from '../support/wait.js';

const servers: LifelineServer[] = [];
const sessions: LifelineSession[] = [];
afterEach(async () => {
  for (const s of sessions.splice(0)) s.close();
  await Promise.all(servers.splice(0).map((s) => s.shutdown()));
});

async function start(options: ServerOptions = {}): Promise<{ server: LifelineServer; url: string }> {
  const server = createServer({ logger: pino({ level: 'silent' }), drainWindowMs: 0, graceMs: 50, closeTimeoutMs: 200, ...options });
  servers.push(server);
  const { port } = await server.listen(0);
  return { server, url: `ws://127.0.0.1:${port}/` };
}

async function hello(url: string, frame: Record<string, unknown> = {}): Promise<{ peer: V1Peer; welcome: WelcomeFrame }> {
  const peer = await connectV1(url);
  peer.send({ t: 'hello', v: 1, ...frame });
  return { peer, welcome: await peer.next<WelcomeFrame>((f) => f.t === 'welcome') };
}

describe('resume restores what the session held, never silently from the head', () => {
  it('a channel the session holds but the hello does not list (or lists as null) replays what was missed', async () => {
    const { server, url } = await start();
    await server.publish('news', 1);
    const { peer: first, welcome } = await hello(url, { origin: 'origin-resume-0000000001' });
    first.send({ t: 'sub', ch: 'news' });
    first.send({ t: 'sub', ch: 'sport' });
    await first.next((f) => f.t === 'subscribed' && f.ch === 'news');
    await first.next((f) => f.t === 'subscribed' && f.ch === 'sport');
    first.ws.close();
    await first.closed;
    await server.publish('news', 2);
    await server.publish('sport', 'a');

    // `news` not listed, `sport` listed as null: both "from where the session was".
    const { peer: second, welcome: again } = await hello(url, { token: welcome.token, channels: { sport: null } });
    expect([again.resumed, again.recovered, again.lost]).toEqual([true, true, []]);
    const subs = [await second.next<SubscribedFrame>((f) => f.t === 'subscribed'), await second.next<SubscribedFrame>((f) => f.t === 'subscribed')];
    expect(subs.map((s) => [s.ch, s.offset, s.recovered]).sort()).toEqual([
      ['news', 1, true],
      ['sport', 0, true],
    ]);
    const evs = [await second.next<EventFrame>((f) => f.t === 'ev'), await second.next<EventFrame>((f) => f.t === 'ev')];
    expect(evs.map((e) => [e.ch, e.off, e.data]).sort()).toEqual([
      ['news', 2, 2],
      ['sport', 1, 'a'],
    ]);
  });

  it('welcome.recovered is false whenever a restored channel is: an old epoch or an offset past the head', async () => {
    const { server, url } = await start();
    await server.publish('news', 1);
    const { peer, welcome } = await hello(url);
    peer.send({ t: 'sub', ch: 'news' });
    await peer.next((f) => f.t === 'subscribed');
    peer.ws.close();
    await peer.closed;
    const { epoch } = await server.store.head('news');
    for (const from of [{ epoch: 'another-epoch', offset: 1 }, { epoch, offset: 99 }]) {
      const { peer: next, welcome: w } = await hello(url, { token: welcome.token, channels: { news: from } });
      const sub = await next.next<SubscribedFrame>((f) => f.t === 'subscribed');
      expect([w.recovered, sub.recovered, w.lost]).toEqual([false, false, ['news']]);
      next.ws.close();
      await next.closed;
    }
  });
});

describe('message ids: one space for msg and pub per origin, conflicts answered as conflicts', () => {
  it('an id reused for other content, or for the other kind, is rejected CONFLICT and nothing is done', async () => {
    const seen: Json[] = [];
    const { server, url } = await start({ authorizePublish: () => true, onSessionMessage: (_c, data) => void seen.push(data) });
    const { peer } = await hello(url, { origin: 'origin-conflict-00000001' });
    peer.send({ t: 'msg', id: 7, data: 'first' });
    expect(await peer.next((f) => f.t === 'ack')).toEqual({ t: 'ack', id: 7 });
    peer.send({ t: 'pub', id: 7, ch: 'room', data: 'first' });
    expect(await peer.next((f) => f.t === 'reject')).toEqual({ t: 'reject', id: 7, code: 'CONFLICT' });
    peer.send({ t: 'pub', id: 8, ch: 'room', data: 'a' });
    const ack = await peer.next((f) => f.t === 'ack');
    peer.send({ t: 'pub', id: 8, ch: 'room', data: 'b' });
    expect(await peer.next((f) => f.t === 'reject')).toEqual({ t: 'reject', id: 8, code: 'CONFLICT' });
    peer.send({ t: 'msg', id: 7, data: 'other' });
    expect(await peer.next((f) => f.t === 'reject')).toEqual({ t: 'reject', id: 7, code: 'CONFLICT' });
    expect(seen).toEqual(['first']);
    expect((await server.store.read('room', { epoch: (ack as { epoch: string }).epoch, offset: 0 }, 10)).messages.map((m) => m.data)).toEqual(['a']);
  });

  it('an HTTP idempotency key reused with another body is 409 idempotency_conflict; the client reads pub acks with their epoch', async () => {
    const key = 'k'.repeat(16);
    const { server, url } = await start({ publishKey: key, authorizePublish: () => true });
    const post = (body: unknown) =>
      fetch(url.replace('ws:', 'http:') + 'publish', { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post({ channel: 'n', data: 1, idempotencyKey: 'once' })).status).toBe(200);
    const conflict = await post({ channel: 'n', data: 2, idempotencyKey: 'once' });
    expect([conflict.status, ((await conflict.json()) as { error: string }).error]).toEqual([409, 'idempotency_conflict']);

    const session = createSession({ url });
    sessions.push(session);
    const stored = await session.publish('room', { x: 1 });
    const head = await server.store.head('room');
    expect(stored).toEqual({ offset: 1, epoch: head.epoch });
  });
});

/** A `ws` WebSocket that also keeps every frame the server sent, for reading a session's token. */
function spyingWebSocket(seen: string[]): WebSocketConstructor {
  const Spy = class extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols);
      this.on('message', (data) => seen.push(String(data)));
    }
  };
  return Spy as unknown as WebSocketConstructor;
}

describe('one live connection per session', () => {
  it('resuming on a second connection closes the first with 4801; only the second gets events', async () => {
    const { server, url } = await start();
    const { peer: first, welcome } = await hello(url);
    first.send({ t: 'sub', ch: 'news' });
    await first.next((f) => f.t === 'subscribed');
    const { peer: second, welcome: again } = await hello(url, { token: welcome.token });
    expect(again.resumed).toBe(true);
    const closed = await first.closed;
    expect([closed.code, closed.reason]).toEqual([4801, 'session continued on another connection']);
    await second.next((f) => f.t === 'subscribed');
    second.send({ t: 'sub', ch: 'other' });
    expect(await second.next((f) => f.t === 'subscribed' || f.t === 'error')).toMatchObject({ t: 'subscribed', ch: 'other' });
    await server.publish('news', 'hi');
    expect(await second.next((f) => f.t === 'ev')).toMatchObject({ ch: 'news', data: 'hi' });
    expect(first.frames.filter((f) => f.t === 'ev')).toEqual([]);
    expect(server.stats().protocol.takeovers).toBe(1);
  });

  it("lifeline's session stops with a diagnosis after 4801: two holders of one token do not ping-pong", async () => {
    const { url } = await start();
    const seen: string[] = [];
    const session = createSession({ url, WebSocket: spyingWebSocket(seen) });
    sessions.push(session);
    const stopped = new Promise<{ diagnosis: string }>((resolve) => session.on('stopped', resolve));
    await until(() => session.ready, 'welcome');
    const token = (JSON.parse(seen.find((f) => f.includes('"welcome"'))!) as WelcomeFrame).token;
    const { welcome } = await hello(url, { token });
    expect(welcome.resumed).toBe(true);
    const { diagnosis } = await stopped;
    expect(diagnosis).toContain('Session Taken Over (4801)');
    expect(session.state).toBe('stopped');
  });

  it('across two nodes sharing Redis: a resume on node B closes the connection on node A with 4801', async () => {
    const prefix = uniquePrefix('takeover');
    try {
      const a = await start({ store: createRedisStore({ url: REDIS_URL, prefix }) });
      const b = await start({ store: createRedisStore({ url: REDIS_URL, prefix }) });
      const { peer: onA, welcome } = await hello(a.url);
      const { welcome: onB } = await hello(b.url, { token: welcome.token });
      expect(onB.resumed).toBe(true);
      expect((await onA.closed).code).toBe(4801);
      await Promise.all([a.server.store.close(), b.server.store.close()]);
    } finally {
      await deletePrefix(REDIS_URL, prefix);
    }
  });
});

describe('request/response: send() resolves to what the handler returned', () => {
  it("resolves with the handler's JSON; a DeclinedError rejects with its code and text; resends get the same answers", async () => {
    let runs = 0;
    const { url } = await start({
      onSessionMessage: (_c, data) => {
        runs += 1;
        const order = data as { qty: number };
        if (order.qty > 3) throw new ServerDeclined('out_of_stock', 'only 3 left');
        return { accepted: order.qty };
      },
    });
    const session = createSession({ url });
    sessions.push(session);
    expect(await session.send({ qty: 2 })).toEqual({ accepted: 2 });
    const declined = await session.send({ qty: 5 }).catch((e: unknown) => e);
    expect(declined).toBeInstanceOf(DeclinedError);
    expect(declined).toBeInstanceOf(RejectedError);
    expect(declined).toMatchObject({ protocolCode: 'DECLINED', error: 'out_of_stock', detail: 'only 3 left', code: 'LIFELINE_ERR_DECLINED' });
    expect(String((declined as Error).message)).not.toMatch(/ at /);

    const { peer } = await hello(url, { origin: session.origin });
    peer.send({ t: 'msg', id: 1, data: { qty: 2 } });
    expect(await peer.next((f) => f.t === 'ack')).toEqual({ t: 'ack', id: 1, result: { accepted: 2 } });
    peer.send({ t: 'msg', id: 2, data: { qty: 5 } });
    expect(await peer.next((f) => f.t === 'reject')).toEqual({ t: 'reject', id: 2, code: 'DECLINED', error: 'out_of_stock', message: 'only 3 left' });
    expect(runs).toBe(2);
  });
});

describe('credentials inside the protocol', () => {
  // Long enough that a refresh half-way through beats the expiry even on a loaded machine.
  const TTL = 2000;
  /** `good:<user>` is valid for TTL ms; anything else is refused. */
  const authenticate: ServerOptions['authenticate'] = (_request, credentials) => {
    if (credentials === undefined) return true; // the upgrade: credentials come in hello
    const token = (credentials as { token?: unknown } | null)?.token;
    if (typeof token !== 'string' || !token.startsWith('good:')) return false;
    return { user: token.slice(5), expiresAt: Date.now() + TTL };
  };

  it('hello.auth names the user (bound into the session); an unrefreshed connection is closed with 4802 at expiry', async () => {
    const users: (string | undefined)[] = [];
    const { url } = await start({ authenticate, onSessionMessage: (c) => void users.push(c.user) });
    const { peer, welcome } = await hello(url, { auth: { token: 'good:ana' }, origin: 'origin-credentials-0001' });
    expect(welcome.authTtlMs).toBeGreaterThan(0);
    expect(welcome.authTtlMs).toBeLessThanOrEqual(TTL);
    peer.send({ t: 'msg', id: 1, data: null });
    await peer.next((f) => f.t === 'ack');
    expect(users).toEqual(['ana']);
    expect(await peer.closed).toEqual({ code: 4802, reason: 'credentials expired' });

    // The resume token works only for the same user.
    const { welcome: other } = await hello(url, { auth: { token: 'good:bob' }, token: welcome.token });
    expect(other.resumed).toBe(false);
    const refused = await connectV1(url);
    refused.send({ t: 'hello', v: 1, auth: { token: 'bad' } });
    expect(await refused.closed).toEqual({ code: 4802, reason: 'credentials refused' });
  });

  it('an auth refresh for the same user extends the connection; one naming another user closes it with 1008', async () => {
    const { url } = await start({ authenticate });
    const { peer } = await hello(url, { auth: { token: 'good:ana' } });
    peer.send({ t: 'auth', auth: { token: 'nope' } });
    expect(await peer.next((f) => f.t === 'error')).toMatchObject({ code: 'UNAUTHORIZED', ref: 'auth' });
    peer.send({ t: 'auth', auth: { token: 'good:ana' } });
    expect(await peer.next((f) => f.t === 'authed')).toMatchObject({ t: 'authed' });
    peer.send({ t: 'auth', auth: { token: 'good:bob' } });
    expect(await peer.closed).toEqual({ code: 1008, reason: 'credentials of another user' });
  });

  it("lifeline's session refreshes before expiry and stays on one connection; refused credentials stop it after three 4802s", async () => {
    const { url } = await start({ authenticate });
    let calls = 0;
    const session = createSession({ url, auth: () => ({ token: `good:ana` }), stableAfterMs: 60_000 });
    sessions.push(session);
    let closes = 0;
    session.on('close', () => (closes += 1));
    const counting = createSession({ url, auth: () => ((calls += 1), { token: calls === 1 ? 'good:ana' : 'bad' }), backoff: { baseMs: 10, capMs: 20 } });
    sessions.push(counting);
    const stopping = new Promise<{ diagnosis: string }>((resolve) => counting.on('stopped', resolve));
    await until(() => session.ready && counting.ready, 'welcome');
    // Three refreshes of a 2 s credential (one a second): the connection outlives its first credentials' expiry.
    const refreshed = new Promise<void>((resolve) => {
      let n = 0;
      session.transport.on('message', ({ data }) => {
        if (typeof data === 'string' && data.includes('"authed"') && ++n === 3) resolve();
      });
    });
    await refreshed;
    expect(closes).toBe(0);

    // `counting`'s refreshes are refused: its credential expires (4802), and each fresh one is refused too.
    const stopped = await stopping;
    expect(stopped.diagnosis).toContain('Credentials Expired (4802)');
    expect(stopped.diagnosis).toContain('4 closes with 4802 in a row');
    expect(calls).toBe(5); // the first connection, its refused refresh, and three fresh attempts
  });
});
