/**
 * The session client against a scripted fake server, for what a correct lifeline server never does
 * on its own: gaps in a channel, store outages answered with UNAVAILABLE, unknown and binary frames,
 * silence, a resumed session whose restore is missing a channel.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket as WsWebSocket, WebSocketServer, type WebSocket } from 'ws';
import {
  createSession,
  ServerError,
  ServerFrameError,
  SubprotocolError,
  type LifelineSession,
  type SessionMessage,
  type SessionOptions,
  type WebSocketConstructor,
} from '../../src/client/index.js';
import type { LifelineError } from '../../src/errors.js';
import type { ClientFrame, ServerFrame } from '../../src/protocol/index.js';
import { until } from '../support/wait.js';

interface FakeConnection {
  ws: WebSocket;
  frames: ClientFrame[];
  send(frame: ServerFrame | Record<string, unknown>): void;
  next<T extends ClientFrame>(predicate: (f: ClientFrame) => boolean, timeoutMs?: number): Promise<T>;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A WebSocket server that speaks whatever the test scripts. */
async function fakeServer(onConnection: (c: FakeConnection, index: number) => void) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: (p) => (p.has('lifeline.v1') ? 'lifeline.v1' : false) });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const connections: FakeConnection[] = [];
  wss.on('connection', (ws) => {
    const frames: ClientFrame[] = [];
    const waiters: (() => void)[] = [];
    const taken = new Set<number>();
    ws.on('error', () => {});
    ws.on('message', (data) => {
      frames.push(JSON.parse(String(data)) as ClientFrame);
      for (const w of waiters.splice(0)) w();
    });
    const c: FakeConnection = {
      ws,
      frames,
      send: (frame) => ws.send(JSON.stringify(frame)),
      next<T extends ClientFrame>(predicate: (f: ClientFrame) => boolean, timeoutMs = 5000): Promise<T> {
        return new Promise<T>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no matching client frame; saw ${JSON.stringify(frames)}`)), timeoutMs);
          const look = () => {
            for (let i = 0; i < frames.length; i++) {
              if (!taken.has(i) && predicate(frames[i]!)) {
                taken.add(i);
                clearTimeout(timer);
                resolve(frames[i] as T);
                return;
              }
            }
            waiters.push(look);
          };
          look();
        });
      },
    };
    connections.push(c);
    onConnection(c, connections.length - 1);
  });
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  );
  const { port } = wss.address() as { port: number };
  return { url: `ws://127.0.0.1:${port}/`, connections };
}

function welcome(session = 's_fake', resumed = false, heartbeatMs = 30_000): ServerFrame {
  return { t: 'welcome', v: 1, session, token: `${session}.secret`, expiresAt: Date.now() + 60_000, resumed, recovered: resumed, lost: [], heartbeatMs };
}

function openSession(url: string, options: Partial<SessionOptions> = {}) {
  const session: LifelineSession = createSession({ url, soon: { minMs: 10, maxMs: 30 }, backoff: { baseMs: 20, capMs: 50 }, ...options });
  cleanups.push(() => session.close());
  const messages: SessionMessage[] = [];
  const errors: LifelineError[] = [];
  session.on('message', (m) => messages.push(m));
  session.on('error', (e) => errors.push(e));
  return { session, messages, errors };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('session client against a scripted server', () => {
  it('never delivers past a gap: re-syncs with unsub + sub from the last delivered offset, then delivers each once', async () => {
    const { url, connections } = await fakeServer(async (c) => {
      await c.next((f) => f.t === 'hello');
      c.send(welcome());
    });
    const { session, messages } = openSession(url);
    session.subscribe('news');
    await until(() => connections.length === 1);
    const c = connections[0]!;
    expect(await c.next((f) => f.t === 'sub')).toEqual({ t: 'sub', ch: 'news' });
    c.send({ t: 'subscribed', ch: 'news', epoch: 'E', offset: 0, recovered: true });
    c.send({ t: 'ev', ch: 'news', epoch: 'E', off: 1, data: 'one' });
    c.send({ t: 'ev', ch: 'news', epoch: 'E', off: 3, data: 'three' }); // 2 is missing
    c.send({ t: 'ev', ch: 'news', epoch: 'E', off: 4, data: 'four' }); // in flight before the re-sync
    expect(await c.next((f) => f.t === 'unsub')).toEqual({ t: 'unsub', ch: 'news' });
    expect(await c.next((f) => f.t === 'sub')).toEqual({ t: 'sub', ch: 'news', from: { epoch: 'E', offset: 1 } });
    expect(messages.map((m) => m.offset)).toEqual([1]);
    c.send({ t: 'unsubscribed', ch: 'news' });
    c.send({ t: 'subscribed', ch: 'news', epoch: 'E', offset: 1, recovered: true });
    for (const [off, data] of [[1, 'one'], [2, 'two'], [3, 'three'], [4, 'four']] as const) c.send({ t: 'ev', ch: 'news', epoch: 'E', off, data });
    await until(() => messages.length === 4, 'four messages');
    await sleep(30);
    expect(messages.map((m) => [m.offset, m.data])).toEqual([[1, 'one'], [2, 'two'], [3, 'three'], [4, 'four']]);
    expect(session.positions()).toEqual({ news: { epoch: 'E', offset: 4 } });
  });

  it('a new epoch is adopted and reported; offsets restart without being dropped as repeats', async () => {
    const { url, connections } = await fakeServer(async (c) => {
      await c.next((f) => f.t === 'hello');
      c.send(welcome());
    });
    const { session, messages } = openSession(url);
    const recoveries: unknown[] = [];
    session.on('recovery', (r) => recoveries.push(r));
    session.subscribe('news', { from: { epoch: 'OLD', offset: 40 } });
    await until(() => connections.length === 1);
    const c = connections[0]!;
    expect(await c.next((f) => f.t === 'sub')).toEqual({ t: 'sub', ch: 'news', from: { epoch: 'OLD', offset: 40 } });
    const hello = c.frames[0]!;
    expect(hello).toMatchObject({ t: 'hello', v: 1, channels: { news: { epoch: 'OLD', offset: 40 } } });
    expect((hello as { origin: string }).origin).toMatch(/^[0-9a-f]{32}$/);
    c.send({ t: 'subscribed', ch: 'news', epoch: 'NEW', offset: 2, recovered: false });
    c.send({ t: 'ev', ch: 'news', epoch: 'NEW', off: 3, data: 'x' });
    await until(() => messages.length === 1);
    expect(recoveries).toEqual([{ recovered: false, lost: ['news'], channel: 'news', epochChanged: true }]);
    expect(session.positions()).toEqual({ news: { epoch: 'NEW', offset: 3 } });
  });

  it('UNAVAILABLE keeps a message pending and resends it after a backoff; the ack resolves it', async () => {
    const { url, connections } = await fakeServer(async (c) => {
      await c.next((f) => f.t === 'hello');
      c.send(welcome());
    });
    const { session, errors } = openSession(url, { resendBackoff: { baseMs: 40, capMs: 40 } });
    const result = session.publish('board', { hi: 1 });
    await until(() => connections.length === 1);
    const c = connections[0]!;
    const first = await c.next((f) => f.t === 'pub');
    expect(first).toEqual({ t: 'pub', id: 1, ch: 'board', data: { hi: 1 } });
    const answeredAt = Date.now();
    c.send({ t: 'error', code: 'UNAVAILABLE', message: 'cannot store right now; resend later', ref: 1 });
    const second = await c.next((f) => f.t === 'pub');
    expect(Date.now() - answeredAt).toBeGreaterThanOrEqual(15); // at least half the 40 ms ceiling
    expect(second).toEqual(first);
    expect(session.pending).toBe(1);
    c.send({ t: 'ack', id: 1, off: 7, epoch: 'E' });
    expect(await result).toEqual({ offset: 7, epoch: 'E' });
    expect(session.pending).toBe(0);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(ServerError);
    expect((errors[0] as ServerError).protocolCode).toBe('UNAVAILABLE');
    expect((errors[0] as ServerError).ref).toBe(1);
  });

  it('ignores unknown frame types, reports binary and malformed frames, and keeps working', async () => {
    const { url, connections } = await fakeServer(async (c) => {
      await c.next((f) => f.t === 'hello');
      c.send({ t: 'from-the-future', x: 1 });
      c.ws.send(Buffer.from([1, 2, 3]));
      c.ws.send('not json');
      c.send(welcome());
    });
    const { session, errors } = openSession(url);
    const sent = session.send('still works');
    await until(() => connections.length === 1);
    const msg = await connections[0]!.next((f) => f.t === 'msg');
    connections[0]!.send({ t: 'ack', id: msg.t === 'msg' ? msg.id : 0 });
    await sent;
    expect(errors.map((e) => e.code)).toEqual(['LIFELINE_ERR_SERVER_FRAME', 'LIFELINE_ERR_SERVER_FRAME']);
    expect(errors.every((e) => e instanceof ServerFrameError)).toBe(true);
  });

  it('pings after half the heartbeat of silence, and notices a dead link (no pong) by itself', async () => {
    const { url, connections } = await fakeServer(async (c) => {
      await c.next((f) => f.t === 'hello');
      c.send(welcome('s_fake', false, 100));
    });
    // heartbeatMs 100 -> deadLinkMs 250 by default.
    const { errors } = openSession(url, { heartbeatMs: 100 });
    await until(() => connections.length === 1);
    const ping = await connections[0]!.next((f) => f.t === 'ping', 1000);
    expect(ping).toMatchObject({ t: 'ping' });
    // The fake never answers: the dead link is noticed and a new connection made.
    await until(() => connections.length === 2, 'a second connection', 3000);
    expect(errors.map((e) => e.code)).toContain('LIFELINE_ERR_DEAD_LINK');
  });

  it('after a resumed welcome, a channel the server did not restore is subscribed again', async () => {
    const { url, connections } = await fakeServer(async (c, index) => {
      await c.next((f) => f.t === 'hello');
      c.send(welcome('s_same', index > 0));
    });
    const { session, messages } = openSession(url);
    session.subscribe('news');
    await until(() => connections.length === 1);
    const first = connections[0]!;
    await first.next((f) => f.t === 'sub');
    first.send({ t: 'subscribed', ch: 'news', epoch: 'E', offset: 0, recovered: true });
    first.send({ t: 'ev', ch: 'news', epoch: 'E', off: 1, data: 1 });
    await until(() => messages.length === 1);
    first.ws.close(1012, 'service restart; retry=10-20ms');

    await until(() => connections.length === 2, 'reconnected');
    const second = connections[1]!;
    // The server "forgot" the channel: no subscribed; it answers the client's sync ping.
    const ping = await second.next((f) => f.t === 'ping');
    expect(second.frames[0]).toMatchObject({ t: 'hello', token: 's_same.secret', channels: { news: { epoch: 'E', offset: 1 } } });
    expect(second.frames.some((f) => f.t === 'sub')).toBe(false);
    second.send({ t: 'pong', n: (ping as { n?: number }).n });
    expect(await second.next((f) => f.t === 'sub')).toEqual({ t: 'sub', ch: 'news', from: { epoch: 'E', offset: 1 } });
  });

  it('a channel the server forbids is dropped and reported, not retried', async () => {
    const { url, connections } = await fakeServer(async (c) => {
      await c.next((f) => f.t === 'hello');
      c.send(welcome());
    });
    const { session, errors } = openSession(url);
    session.subscribe('private');
    await until(() => connections.length === 1);
    await connections[0]!.next((f) => f.t === 'sub');
    connections[0]!.send({ t: 'error', code: 'FORBIDDEN', message: 'not allowed to subscribe', ref: 'private' });
    await until(() => errors.length === 1);
    expect(errors[0]).toMatchObject({ code: 'LIFELINE_ERR_SERVER', protocolCode: 'FORBIDDEN', ref: 'private' });
    expect(session.channels).toEqual([]);
  });

  it('a server that does not select lifeline.v1 is reported and the session closes for good', async () => {
    const { url } = await fakeServer(() => {});
    // `ws` and browsers fail a handshake without the requested subprotocol; a lenient implementation
    // reports protocol '' instead, which this stands in for.
    const NoProtocol = function (address: string, protocols?: string | string[]) {
      const ws = new WsWebSocket(address, protocols);
      Object.defineProperty(ws, 'protocol', { get: () => '' });
      return ws;
    } as unknown as WebSocketConstructor;
    const { session, errors } = openSession(url, { WebSocket: NoProtocol });
    const pending = session.send('x');
    await expect(pending).rejects.toMatchObject({ code: 'LIFELINE_ERR_CLIENT_CLOSED' });
    expect(errors[0]).toBeInstanceOf(SubprotocolError);
    expect(session.state).toBe('closed');
  });
});
