/**
 * Presence through the session client (`createSession`) against a real in-process server: subscribe with
 * presence, the join/leave events, paged queries, a restart nobody sees, and the client's own checks.
 */
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createSession, NotOpenError, ServerError, type LifelineSession, type PresenceEvent, type SessionOptions } from '../../src/client/index.js';
import { createServer, type LifelineServer, type PresenceEvent as ServerPresenceEvent, type ServerOptions } from '../../src/server/index.js';

const servers: LifelineServer[] = [];
const sessions: LifelineSession[] = [];
afterEach(async () => {
  for (const s of sessions.splice(0)) s.close();
  await Promise.all(servers.splice(0).map((s) => s.shutdown()));
});

async function startServer(options: ServerOptions = {}) {
  const server = createServer({ logger: pino({ level: 'silent' }), drainWindowMs: 200, graceMs: 100, closeTimeoutMs: 200, retryHint: { minMs: 10, maxMs: 50 }, ...options });
  servers.push(server);
  const events = { joins: [] as ServerPresenceEvent[], leaves: [] as ServerPresenceEvent[] };
  server.on('join', (e) => events.joins.push(e));
  server.on('leave', (e) => events.leaves.push(e));
  const { port } = await server.listen(0);
  return { server, url: `ws://127.0.0.1:${port}/`, events };
}

/** A session recording its presence events and welcomes. */
function open(url: string, options: Partial<SessionOptions> = {}) {
  const session = createSession({ url, soon: { minMs: 10, maxMs: 50 }, backoff: { baseMs: 20, capMs: 100 }, ...options });
  sessions.push(session);
  const seen = { joins: [] as PresenceEvent[], leaves: [] as PresenceEvent[], welcomes: [] as boolean[] };
  session.on('join', (e) => seen.joins.push(e));
  session.on('leave', (e) => seen.leaves.push(e));
  session.on('welcome', (w) => seen.welcomes.push(w.resumed));
  session.on('error', () => undefined);
  return { session, seen };
}

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('presence through createSession', () => {
  it('joins, pages, leaves on unsubscribe and on close, and a restart (1012) is neither a leave nor a join', async () => {
    const { server, url, events } = await startServer({ presenceGraceMs: 5000 });
    const watcher = open(url);
    watcher.session.subscribe('room', { presence: { info: { name: 'watcher' }, events: true } });
    await until(() => events.joins.length === 1, 'the watcher to join');
    const others = Array.from({ length: 5 }, (_, i) => {
      const other = open(url);
      other.session.subscribe('room', { presence: { info: { name: `p${i}` } } });
      return other;
    });
    await until(() => watcher.seen.joins.length === 5, 'five joins at the watcher');
    expect(watcher.seen.joins.map((e) => e.member.info).sort()).toEqual([0, 1, 2, 3, 4].map((i) => ({ name: `p${i}` })));
    expect(watcher.seen.joins.every((e) => e.channel === 'room' && others.some((o) => o.session.session === e.member.session))).toBe(true);

    const first = await watcher.session.presence('room', { limit: 4 });
    expect(first.count).toBe(6);
    expect(first.members).toHaveLength(4);
    const rest = await watcher.session.presence('room', { after: first.next! });
    expect(rest.next).toBeUndefined();
    const all = [...first.members, ...rest.members].map((m) => m.session);
    expect(all).toEqual([...all].sort());
    expect(new Set(all)).toEqual(new Set([watcher.session.session, ...others.map((o) => o.session.session)]));

    await server.restart();
    await until(() => [watcher, ...others].every((s) => s.seen.welcomes.length === 2 && s.session.ready), 'every session to resume');
    expect([watcher, ...others].every((s) => s.seen.welcomes[1] === true)).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(events.joins).toHaveLength(6);
    expect(events.leaves).toHaveLength(0);
    expect(watcher.seen.joins).toHaveLength(5);
    expect(watcher.seen.leaves).toHaveLength(0);
    expect((await watcher.session.presence('room')).count).toBe(6);

    others[0]!.session.unsubscribe('room');
    await until(() => watcher.seen.leaves.length === 1, 'a leave for the unsubscribe');
    others[1]!.session.close();
    await until(() => watcher.seen.leaves.length === 2, 'a leave for the close');
    expect(watcher.seen.leaves.map((e) => e.member.session)).toEqual([others[0]!.session.session, others[1]!.session.session]);
    expect(events.leaves).toHaveLength(2);
    expect((await server.presence('room')).count).toBe(4);
  });

  it('refuses what the server would close for, rejects queries while not connected, and reports refusals as ServerError', async () => {
    const { url } = await startServer({ presenceQueriesPerSecond: 1 });
    const { session } = open(url, { autoConnect: false });
    expect(() => session.presence('room', { limit: 0 })).toThrow(RangeError);
    expect(() => session.presence('room', { limit: 1.5 })).toThrow(RangeError);
    expect(() => session.presence('has space')).toThrow(TypeError);
    await expect(session.presence('room')).rejects.toBeInstanceOf(NotOpenError);
    session.connect();
    await until(() => session.ready, 'welcome');
    session.subscribe('room', { presence: {} });
    expect((await session.presence('room')).count).toBe(1); // the sub is handled before the query (one connection's frames in order)
    const refused = await session.presence('room').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ServerError);
    expect(refused).toMatchObject({ protocolCode: 'LIMIT', ref: 'room' });
  });
});
