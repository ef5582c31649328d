/**
 * The core's other rooms on fake sockets and a manual clock: admission (src/server/core/admission.ts),
 * inbound backpressure (inbound.ts), the heartbeat (heartbeat.ts) and the hello deadline. The same
 * behaviours over real sockets are in test/integration/limits.test.ts, heartbeat.test.ts and
 * test/adversarial/inbound.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { UpgradePeer } from '../../src/server/core/admission.js';
import { createServerCore, type ServerCoreOptions } from '../../src/server/core/server-core.js';
import type { UpgradeInfo } from '../../src/server/core/transport.js';
import { openFake, recordingLogger } from '../support/fake-socket.js';
import { ManualClock, settle } from '../support/manual-clock.js';

function core(options: Partial<ServerCoreOptions> = {}) {
  const clock = new ManualClock();
  const logger = recordingLogger();
  const server = createServerCore({ logger, clock, heartbeatMs: 0, ...options });
  return { clock, logger, server };
}

const info = (headers: UpgradeInfo['headers'] = {}): UpgradeInfo => ({ remoteAddress: '127.0.0.1', url: '/', headers });

/** An upgrading peer the test can hang up. */
function peer(): UpgradePeer & { hangUp(): void } {
  let gone = false;
  const listeners = new Set<() => void>();
  return {
    get gone() {
      return gone;
    },
    onGone(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    hangUp() {
      gone = true;
      for (const l of [...listeners]) l();
    },
  };
}

describe('admission', () => {
  it('without an authenticate hook, admits at once (synchronously), anonymously', () => {
    const { server } = core();
    expect(server.admit(info(), peer())).toEqual({ admitted: true, user: undefined, expiresAt: undefined });
  });

  it('refuses a browser origin not in allowedOrigins with 403; a request without Origin passes', () => {
    const { server } = core({ allowedOrigins: ['https://app.example'] });
    expect(server.admit(info({ origin: 'https://evil.example' }), peer())).toMatchObject({ admitted: false, reason: 'origin', status: 403 });
    expect(server.admit(info({ origin: 'https://app.example' }), peer())).toMatchObject({ admitted: true });
    expect(server.admit(info(), peer())).toMatchObject({ admitted: true });
    expect(server.stats().refusedByReason).toEqual({ origin: 1 });
  });

  it('counts upgrades still in admission towards maxConnections and maxPendingUpgrades (503 with Retry-After)', async () => {
    let release!: (user: string) => void;
    const { server, clock } = core({ maxConnections: 2, maxPendingUpgrades: 1, retryHint: { minMs: 100, maxMs: 2500 }, authenticate: () => new Promise((r) => (release = r)) });
    openFake(server, clock);
    const pending = server.admit(info(), peer());
    expect(server.stats().admitting).toBe(1);
    expect(server.admit(info(), peer())).toMatchObject({ admitted: false, reason: 'connections', status: 503, headers: { 'Retry-After': '3' } });
    await settle(); // the hook is called on the next microtask
    release('ada');
    expect(await pending).toEqual({ admitted: true, user: 'ada', expiresAt: undefined });
    expect(server.stats().admitting).toBe(0);

    const { server: second } = core({ maxPendingUpgrades: 1, authenticate: () => new Promise(() => undefined) });
    void second.admit(info(), peer());
    expect(second.admit(info(), peer())).toMatchObject({ admitted: false, reason: 'admission', status: 503 });
  });

  it('a peer that hangs up while authenticate runs leaves admission at once, and is answered nothing', async () => {
    let release!: (result: boolean) => void;
    const { server } = core({ authenticate: () => new Promise((r) => (release = r)) });
    const p = peer();
    const pending = server.admit(info(), p);
    expect(server.stats().admitting).toBe(1);
    p.hangUp();
    expect(server.stats().admitting).toBe(0);
    await settle();
    release(false);
    expect(await pending).toBeUndefined();
    expect(server.stats().refusedUpgrades).toBe(0);
  });

  it('authenticate: false is 401 with WWW-Authenticate, reject 403 is 403, a throw is 500 (logged, not counted as a refusal)', async () => {
    const results: unknown[] = [false, { reject: 403 }];
    const { server, logger } = core({
      authenticate: () => {
        if (results.length === 0) throw new Error('hook broke');
        return results.shift() as boolean;
      },
    });
    expect(await server.admit(info(), peer())).toMatchObject({ admitted: false, reason: 'auth', status: 401, headers: { 'WWW-Authenticate': 'Bearer' } });
    expect(await server.admit(info(), peer())).toMatchObject({ admitted: false, reason: 'auth', status: 403, headers: {} });
    expect(await server.admit(info(), peer())).toEqual({ admitted: false, reason: 'hook-failed', status: 500, headers: {}, body: 'authentication failed\n' });
    expect(server.stats()).toMatchObject({ refusedUpgrades: 2, refusedByReason: { auth: 2 } });
    expect(logger.entries.some((e) => e.level === 'error' && e.message === 'authenticate hook failed')).toBe(true);
  });

  it('refuses with 503 while draining, also an upgrade whose authenticate finished after the drain began', async () => {
    let release!: (result: boolean) => void;
    const { server } = core({ drainWindowMs: 0, graceMs: 0, authenticate: () => new Promise((r) => (release = r)) });
    const pending = server.admit(info(), peer());
    const stopped = server.shutdown();
    await settle();
    release(true);
    expect(await pending).toMatchObject({ admitted: false, reason: 'draining', status: 503 });
    expect(server.admit(info(), peer())).toMatchObject({ admitted: false, reason: 'draining' });
    await stopped;
  });
});

describe('inbound backpressure', () => {
  it('stops reading above maxQueuedMessages, reads again at half, and the paused gauge returns to 0', async () => {
    const gates: (() => void)[] = [];
    const { server, clock } = core({ maxQueuedMessages: 4, onMessage: () => new Promise<void>((r) => gates.push(r)) });
    const socket = openFake(server, clock);
    for (let i = 0; i < 5; i++) socket.events.message('x', false);
    expect(socket.reading).toBe(false);
    expect(server.stats().inbound).toMatchObject({ pauses: 1, paused: 1 });
    for (let i = 0; i < 2; i++) {
      gates.shift()!();
      await settle();
    }
    expect(socket.reading).toBe(false); // 3 queued: still above half
    gates.shift()!();
    await settle();
    expect(socket.reading).toBe(true);
    expect(server.stats().inbound.paused).toBe(0);
  });

  it('a paused connection that closes with work queued is counted out of the gauge once', async () => {
    const gates: (() => void)[] = [];
    const { server, clock } = core({ maxQueuedMessages: 2, onMessage: () => new Promise<void>((r) => gates.push(r)) });
    const socket = openFake(server, clock);
    for (let i = 0; i < 4; i++) socket.events.message('x', false);
    expect(server.stats().inbound.paused).toBe(1);
    socket.report(1006, '');
    expect(server.stats().inbound.paused).toBe(0);
    for (const open of gates.splice(0)) open();
    await settle();
    expect(server.stats().inbound.paused).toBe(0);
  });

  it('closes with 1008 past four times maxQueuedBytes, counting each message with its overhead', () => {
    const { server, clock } = core({ maxQueuedBytes: 1000, onMessage: () => new Promise<void>(() => undefined) });
    const socket = openFake(server, clock);
    for (let i = 0; i < 5 && socket.closed === undefined; i++) socket.events.message('x'.repeat(700), false);
    expect(socket.closed).toMatchObject({ code: 1008 });
    expect(server.stats().inbound.overflows).toBe(1);
  });
});

describe('heartbeat and deadlines', () => {
  it('pings every heartbeatMs and terminates a peer that did not answer the previous ping; any frame is an answer', async () => {
    const { server, clock } = core({ heartbeatMs: 1000 });
    const deadPeers: unknown[] = [];
    server.on('dead-peer', (c) => deadPeers.push(c.id));
    const silent = openFake(server, clock);
    const talking = openFake(server, clock);
    await clock.advance(1000);
    expect([silent.pings, talking.pings]).toEqual([1, 1]);
    talking.events.pong();
    await clock.advance(1000);
    expect(silent.terminatedAt).toBe(2000);
    expect(talking.terminatedAt).toBeUndefined();
    talking.events.message('also an answer', false);
    await clock.advance(1000);
    expect(talking.terminatedAt).toBeUndefined();
    expect(talking.pings).toBe(3);
    expect(deadPeers).toHaveLength(1);
    expect(server.stats().deadPeers).toBe(1);
  });

  it('a paused socket is never taken for a dead peer (its pongs are unread, not missing)', async () => {
    const { server, clock } = core({ heartbeatMs: 1000, maxQueuedMessages: 1, onMessage: () => new Promise<void>(() => undefined) });
    const socket = openFake(server, clock);
    socket.events.message('a', false);
    socket.events.message('b', false);
    expect(socket.reading).toBe(false);
    await clock.advance(5000);
    expect(socket.terminatedAt).toBeUndefined();
  });

  it('reconfigure restarts the heartbeat at the new interval; 0 turns it off', async () => {
    const { server, clock } = core({ heartbeatMs: 1000 });
    const socket = openFake(server, clock);
    server.reconfigure({ heartbeatMs: 300 });
    await clock.advance(300);
    expect(socket.pings).toBe(1);
    server.reconfigure({ heartbeatMs: 0 });
    expect(clock.pending).toBe(0);
  });

  it('a lifeline.v1 connection that sends no hello by helloTimeoutMs is closed with 1008', async () => {
    const { server, clock } = core({ helloTimeoutMs: 500 });
    const silent = openFake(server, clock, { protocol: 'lifeline.v1' });
    const plain = openFake(server, clock);
    await clock.advance(499);
    expect(silent.closed).toBeUndefined();
    await clock.advance(1);
    expect(silent.closed).toMatchObject({ code: 1008, at: 500 });
    expect(plain.closed).toBeUndefined();
    expect(server.stats().helloTimeouts).toBe(1);
  });
});
