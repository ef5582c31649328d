/**
 * Presence over real sockets, frame by frame (raw lifeline.v1 peers, no client library): who joins and
 * leaves when, what a takeover and a dropped link do (nothing anyone sees), what a resume within the grace
 * does (nothing), and every bound answered with its error frame, never 1011.
 */
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { JoinFrame, LeaveFrame, MembersFrame, ServerFrame, WelcomeFrame } from '../../src/protocol/index.js';
import { createServer, type LifelineServer, type PresenceEvent, type ServerOptions } from '../../src/server/index.js';
import { createMemoryStore } from '../../src/store/memory.js';
import { StoreUnavailableError } from '../../src/store/errors.js';
import type { Store } from '../../src/store/types.js';
import { connectV1, type V1Peer } from '../support/v1-peer.js';

let server: LifelineServer | undefined;
const peers: V1Peer[] = [];
afterEach(async () => {
  for (const peer of peers.splice(0)) peer.ws.terminate();
  await server?.shutdown();
  server = undefined;
});

interface Started {
  url: string;
  joins: PresenceEvent[];
  leaves: PresenceEvent[];
}

async function start(options: ServerOptions = {}): Promise<Started> {
  server = createServer({ logger: pino({ level: 'silent' }), drainWindowMs: 0, graceMs: 100, closeTimeoutMs: 200, ...options });
  const joins: PresenceEvent[] = [];
  const leaves: PresenceEvent[] = [];
  server.on('join', (e) => joins.push(e));
  server.on('leave', (e) => leaves.push(e));
  const { port } = await server.listen(0);
  return { url: `ws://127.0.0.1:${port}/`, joins, leaves };
}

/** A peer that said hello (resuming `token` when given). */
async function hello(url: string, token?: string): Promise<{ peer: V1Peer; welcome: WelcomeFrame }> {
  const peer = await connectV1(url);
  peers.push(peer);
  peer.send({ t: 'hello', v: 1, ...(token !== undefined ? { token } : {}) });
  return { peer, welcome: await peer.next<WelcomeFrame>((f) => f.t === 'welcome') };
}

const isPresence = (f: ServerFrame): boolean => f.t === 'join' || f.t === 'leave';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('presence over lifeline.v1', () => {
  it('members join with their user and info, watchers get join and leave, queries page in session order', async () => {
    const { url, joins, leaves } = await start({ authenticate: (req) => new URL(req.url ?? '/', 'http://x').searchParams.get('user') ?? true });
    const a = await hello(`${url}?user=alice`);
    a.peer.send({ t: 'sub', ch: 'room', presence: { info: { name: 'Alice' }, events: true } });
    await a.peer.next((f) => f.t === 'subscribed');
    const b = await hello(`${url}?user=bob`);
    b.peer.send({ t: 'sub', ch: 'room', presence: { info: { name: 'Bob' } } });
    await b.peer.next((f) => f.t === 'subscribed');
    const join = await a.peer.next<JoinFrame>((f) => f.t === 'join');
    expect(join).toEqual({ t: 'join', ch: 'room', session: b.welcome.session, user: 'bob', info: { name: 'Bob' } });
    // b did not ask for events: it gets none (not even its own join)
    expect(b.peer.frames.some(isPresence)).toBe(false);

    const sessions = [a.welcome.session, b.welcome.session].sort();
    a.peer.send({ t: 'presence', ch: 'room', n: 1, limit: 1 });
    const first = await a.peer.next<MembersFrame>((f) => f.t === 'members');
    expect(first).toMatchObject({ t: 'members', ch: 'room', n: 1, count: 2, next: sessions[0] });
    expect(first.members!.map((m) => m.session)).toEqual([sessions[0]]);
    a.peer.send({ t: 'presence', ch: 'room', n: 2, after: first.next });
    const second = await a.peer.next<MembersFrame>((f) => f.t === 'members');
    expect(second.n).toBe(2);
    expect(second.next).toBeUndefined();
    expect(second.members!.map((m) => m.session)).toEqual([sessions[1]]);
    expect(await server!.presence('room')).toMatchObject({ count: 2 });

    b.peer.send({ t: 'unsub', ch: 'room' });
    await b.peer.next((f) => f.t === 'unsubscribed');
    expect(await a.peer.next<LeaveFrame>((f) => f.t === 'leave')).toEqual({ t: 'leave', ch: 'room', session: b.welcome.session, user: 'bob' });
    expect(joins.map((e) => e.member.session)).toEqual([a.welcome.session, b.welcome.session]);
    expect(leaves.map((e) => e.member.session)).toEqual([b.welcome.session]);
    expect(await server!.presenceCount('room')).toBe(1);
  });

  it('a close with 1000 leaves at once; a dropped link (1006) leaves only after the grace; a resume within it changes nothing', async () => {
    const { url, leaves } = await start({ presenceGraceMs: 600 });
    const watcher = await hello(url);
    watcher.peer.send({ t: 'sub', ch: 'room', presence: { events: true } });
    await watcher.peer.next((f) => f.t === 'subscribed');

    const closing = await hello(url);
    closing.peer.send({ t: 'sub', ch: 'room', presence: {} });
    await watcher.peer.next<JoinFrame>((f) => f.t === 'join' && f.session === closing.welcome.session);
    closing.peer.ws.close(1000);
    expect(await watcher.peer.next<LeaveFrame>((f) => f.t === 'leave')).toMatchObject({ session: closing.welcome.session });

    const dropping = await hello(url);
    dropping.peer.send({ t: 'sub', ch: 'room', presence: {} });
    await watcher.peer.next<JoinFrame>((f) => f.t === 'join' && f.session === dropping.welcome.session);
    const resuming = await hello(url);
    resuming.peer.send({ t: 'sub', ch: 'room', presence: { info: 'kept' } });
    await watcher.peer.next<JoinFrame>((f) => f.t === 'join' && f.session === resuming.welcome.session);

    const seenBefore = watcher.peer.frames.filter(isPresence).length;
    dropping.peer.ws.terminate();
    resuming.peer.ws.terminate();
    await sleep(200);
    const back = await hello(url, resuming.welcome.token);
    expect(back.welcome.resumed).toBe(true);
    await back.peer.next((f) => f.t === 'subscribed' && f.ch === 'room');
    // The dropped one leaves after its grace; the resumed one neither left nor joined again.
    const left = await watcher.peer.next<LeaveFrame>((f) => f.t === 'leave', 3000);
    expect(left.session).toBe(dropping.welcome.session);
    await sleep(800);
    const after = watcher.peer.frames.filter(isPresence).slice(seenBefore);
    expect(after).toEqual([{ t: 'leave', ch: 'room', session: dropping.welcome.session }]);
    expect(leaves.map((e) => e.member.session)).toEqual([closing.welcome.session, dropping.welcome.session]);
    const page = await server!.presence('room');
    expect(page.members.map((m) => m.session).sort()).toEqual([watcher.welcome.session, resuming.welcome.session].sort());
    expect(page.members.find((m) => m.session === resuming.welcome.session)?.info).toBe('kept');
  });

  it('a takeover (4801) moves the membership to the new connection: no leave, no join; its watcher keeps its events', async () => {
    const { url, joins, leaves } = await start({ presenceGraceMs: 300 });
    const watcher = await hello(url);
    watcher.peer.send({ t: 'sub', ch: 'room', presence: { events: true } });
    await watcher.peer.next((f) => f.t === 'subscribed');
    const first = await hello(url);
    first.peer.send({ t: 'sub', ch: 'room', presence: { events: true } });
    await first.peer.next((f) => f.t === 'subscribed');
    await watcher.peer.next((f) => f.t === 'join');

    const second = await hello(url, first.welcome.token);
    expect((await first.peer.closed).code).toBe(4801);
    await second.peer.next((f) => f.t === 'subscribed');
    await sleep(800); // past the grace: the detach of the old connection must not have counted
    expect(joins).toHaveLength(2);
    expect(leaves).toHaveLength(0);
    expect(await server!.presenceCount('room')).toBe(2);
    // The new connection has the events the session asked for.
    const third = await hello(url);
    third.peer.send({ t: 'sub', ch: 'room', presence: {} });
    expect(await second.peer.next<JoinFrame>((f) => f.t === 'join')).toMatchObject({ session: third.welcome.session });
  });

  it('bounds: info size, members per channel, queries per second, and who may query, each answered with its frame, never 1011', async () => {
    const { url } = await start({ maxPresenceInfoBytes: 64, maxPresenceMembers: 2, presenceQueriesPerSecond: 3, authorizeSubscribe: (_c, ch) => ch !== 'secret' });
    const a = await hello(url);
    a.peer.send({ t: 'sub', ch: 'room', presence: { info: 'x'.repeat(100) } });
    expect(await a.peer.next((f) => f.t === 'error')).toMatchObject({ code: 'LIMIT', ref: 'room' });
    a.peer.send({ t: 'sub', ch: 'room', presence: { info: 'x'.repeat(10) } });
    await a.peer.next((f) => f.t === 'subscribed');
    const b = await hello(url);
    b.peer.send({ t: 'sub', ch: 'room', presence: {} });
    await b.peer.next((f) => f.t === 'subscribed');
    const c = await hello(url);
    c.peer.send({ t: 'sub', ch: 'room', presence: {} });
    expect(await c.peer.next((f) => f.t === 'error')).toMatchObject({ code: 'LIMIT', ref: 'room' });
    expect(c.peer.frames.some((f) => f.t === 'subscribed')).toBe(false);
    c.peer.send({ t: 'sub', ch: 'room' }); // without presence: subscribed, not a member
    await c.peer.next((f) => f.t === 'subscribed');
    expect(await server!.presenceCount('room')).toBe(2);

    c.peer.send({ t: 'presence', ch: 'secret', n: 0 });
    expect(await c.peer.next<MembersFrame>((f) => f.t === 'members')).toEqual({ t: 'members', ch: 'secret', n: 0, code: 'FORBIDDEN' });
    for (let n = 1; n <= 4; n++) c.peer.send({ t: 'presence', ch: 'room', n });
    const answers: MembersFrame[] = [];
    for (let n = 1; n <= 4; n++) answers.push(await c.peer.next<MembersFrame>((f) => f.t === 'members'));
    expect(answers.map((f) => f.code ?? f.count)).toEqual([2, 2, 'LIMIT', 'LIMIT']);
    expect(server!.stats().protocol).toMatchObject({ presenceInfoLimit: 1, presenceFull: 1, presenceQueryLimit: 2 });

    // Malformed presence frames break the frame rules: 1002, never 1011.
    c.peer.send({ t: 'presence', ch: 'room', limit: 0 });
    expect((await c.peer.closed).code).toBe(1002);
    b.peer.send({ t: 'sub', ch: 'other', presence: { events: 'yes' } });
    expect((await b.peer.closed).code).toBe(1002);
    expect(server!.stats().incidents).toBe(0);
  });

  it('a connection end the store failed to record is recorded at a later sweep: the member still leaves after its grace', async () => {
    const store = createMemoryStore();
    const presence = store.presence!;
    let failures = 1;
    const flaky: typeof presence = {
      join: (...args) => presence.join(...args),
      detach: (...args) => (failures-- > 0 ? Promise.reject(new StoreUnavailableError('the disk is gone for a moment')) : presence.detach(...args)),
      leave: (...args) => presence.leave(...args),
      refreshNode: (...args) => presence.refreshNode(...args),
      expire: (...args) => presence.expire(...args),
      page: (...args) => presence.page(...args),
      count: (...args) => presence.count(...args),
    };
    const withFlakyPresence = new Proxy(store, {
      get(target, prop) {
        if (prop === 'presence') return flaky;
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    }) as Store;
    const { url, leaves } = await start({ store: withFlakyPresence, presenceGraceMs: 300 });
    const a = await hello(url);
    a.peer.send({ t: 'sub', ch: 'room', presence: {} });
    await a.peer.next((f) => f.t === 'subscribed');
    a.peer.ws.terminate();
    const deadline = Date.now() + 5000;
    while (leaves.length === 0 && Date.now() < deadline) await sleep(50);
    expect(leaves.map((e) => e.member.session)).toEqual([a.welcome.session]);
    expect(failures).toBe(-1);
    expect(server!.stats().storeErrors).toMatchObject({ presenceDetach: 1 });
    await store.close();
  });

  it('a store without presence: the sub works and says presence is unavailable; queries say so too', async () => {
    const store = createMemoryStore();
    const withoutPresence = new Proxy(store, {
      get(target, prop) {
        if (prop === 'presence') return undefined;
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    }) as Store;
    const { url } = await start({ store: withoutPresence });
    const a = await hello(url);
    a.peer.send({ t: 'sub', ch: 'room', presence: { events: true } });
    await a.peer.next((f) => f.t === 'subscribed');
    expect(await a.peer.next((f) => f.t === 'error')).toMatchObject({ code: 'UNAVAILABLE', ref: 'room' });
    a.peer.send({ t: 'presence', ch: 'room' });
    expect(await a.peer.next((f) => f.t === 'members')).toEqual({ t: 'members', ch: 'room', code: 'UNAVAILABLE' });
    await expect(server!.presence('room')).rejects.toMatchObject({ code: 'LIFELINE_ERR_PRESENCE_UNAVAILABLE' });
    await store.close();
  });
});
