/**
 * The drain (the 1012 rule, src/server/core/drain.ts) on a manual clock and fake sockets: where each
 * close falls in the window, the reconnect hint and its shift, grace for work in progress, stragglers.
 * Deterministic (the clock moves only when the test says so) and fast; the process drill
 * (test/integration/drain.test.ts) keeps one end-to-end run of each signal.
 */
import { describe, expect, it } from 'vitest';
import { parseReason } from '../../src/protocol/index.js';
import { drainOffsets, retryHintFor, SUCCESSOR_RETRY_JITTER_MS } from '../../src/server/core/drain.js';
import { createServerCore, type ServerCoreOptions } from '../../src/server/core/server-core.js';
import { openFake, recordingLogger, type FakeSocket } from '../support/fake-socket.js';
import { ManualClock } from '../support/manual-clock.js';

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const HINT = { minMs: 1000, maxMs: 5000 };
/** The hint when something already serves: come back at once, with a small jitter. */
const NOW = { minMs: 0, maxMs: SUCCESSOR_RETRY_JITTER_MS };

/** A core on a manual clock (time starts at 0), with no heartbeat. */
function core(options: Partial<ServerCoreOptions> = {}) {
  const clock = new ManualClock();
  const logger = recordingLogger();
  const server = createServerCore({ logger, clock, heartbeatMs: 0, graceMs: 0, drainWindowMs: 1000, closeTimeoutMs: 2000, retryHint: HINT, random: seeded(7), ...options });
  const open = (count: number, peer: Parameters<typeof openFake>[2] = {}): FakeSocket[] => Array.from({ length: count }, () => openFake(server, clock, peer));
  return { clock, logger, server, open };
}

describe('drain schedule', () => {
  it('puts one close in each slot of the window, in random order', () => {
    const offsets = drainOffsets(10, 1000, seeded(1));
    expect(offsets).toHaveLength(10);
    const sorted = [...offsets].sort((a, b) => a - b);
    sorted.forEach((o, i) => {
      expect(o).toBeGreaterThanOrEqual(i * 100);
      expect(o).toBeLessThan((i + 1) * 100);
    });
    expect(offsets).not.toEqual(sorted); // the order of connections is shuffled
  });

  it('never closes everyone in the same 50 ms even with a worst-case random source', () => {
    const zero = drainOffsets(20, 2000, () => 0);
    const buckets = new Set(zero.map((o) => Math.floor(o / 50)));
    expect(buckets.size).toBe(20);
  });

  it('handles empty and zero-length windows', () => {
    expect(drainOffsets(0, 1000)).toEqual([]);
    expect(drainOffsets(3, 0)).toEqual([0, 0, 0]);
  });
});

describe('the drain on a manual clock', () => {
  it('restart: every close lands inside the window, one per slot, 1012 with a hint that says "now" (this process keeps serving)', async () => {
    const { clock, server, open } = core();
    const sockets = open(20);
    const states: string[] = [];
    server.on('state', (s) => states.push(s));
    const done = server.restart();
    expect(server.state).toBe('restarting');
    await clock.advance(999);
    await done;
    const times = sockets.map((s) => s.closed!.at).sort((a, b) => a - b);
    times.forEach((t, i) => {
      expect(t).toBeGreaterThanOrEqual(i * 50);
      expect(t).toBeLessThan((i + 1) * 50);
    });
    for (const s of sockets) {
      expect(s.closed!.code).toBe(1012);
      expect(parseReason(s.closed!.reason)).toMatchObject({ text: 'service restart', retry: NOW });
    }
    expect(states).toEqual(['restarting', 'running']);
    expect(server.connections.size).toBe(0);
    expect(server.stats()).toMatchObject({ drains: 1, closesByCode: { 1012: 20 }, closesBy: { server: 20 } });
  });

  it('shutdown that keeps listening: the hint is shifted so that every client is told to come back after the window ends', async () => {
    const { clock, server, open } = core();
    const sockets = open(10);
    const done = server.shutdown();
    await clock.advance(1000);
    await done;
    expect(server.state).toBe('stopped');
    for (const s of sockets) {
      const { retry } = parseReason(s.closed!.reason);
      // Closed at `at`, told to wait `window - at` more: every client's window opens when the drain's ends.
      expect(s.closed!.at + retry!.minMs).toBe(1000 + HINT.minMs);
      expect(s.closed!.at + retry!.maxMs).toBe(1000 + HINT.maxMs);
    }
    // Not all told the same thing: the early ones were shifted more.
    expect(new Set(sockets.map((s) => parseReason(s.closed!.reason).retry!.minMs)).size).toBeGreaterThan(1);
  });

  it('shutdown with stopListening and no successor: the configured hint, unshifted (the clients go elsewhere)', async () => {
    const { clock, server, open } = core();
    const sockets = open(5);
    const done = server.shutdown({ stopListening: true });
    await clock.advance(1000);
    await done;
    for (const s of sockets) expect(parseReason(s.closed!.reason).retry).toEqual(HINT);
  });

  it('successorReady: every close, early or late in the window, says "now" (a restart, a shutdown with or without stopListening)', async () => {
    const runs = [
      (s: ReturnType<typeof core>['server']) => s.restart(),
      (s: ReturnType<typeof core>['server']) => s.shutdown({ stopListening: true, successorReady: true }),
      (s: ReturnType<typeof core>['server']) => s.shutdown({ successorReady: true }),
    ];
    for (const run of runs) {
      const { clock, server, open } = core();
      const sockets = open(10);
      const done = run(server);
      await clock.advance(1000);
      await done;
      // Closed across the whole window, as always (no herd), each told to come back at once.
      const times = sockets.map((s) => s.closed!.at);
      expect(Math.max(...times) - Math.min(...times)).toBeGreaterThanOrEqual(500);
      for (const s of sockets) expect(parseReason(s.closed!.reason).retry).toEqual(NOW);
    }
  });

  it('a shutdown may bring its own window (a restart counted from its signal): the closes fit in it', async () => {
    const { clock, server, open } = core({ drainWindowMs: 1000 });
    const sockets = open(10);
    const done = server.shutdown({ stopListening: true, successorReady: true, drainWindowMs: 400 });
    await clock.advance(400);
    await done;
    const times = sockets.map((s) => s.closed!.at).sort((a, b) => a - b);
    times.forEach((t, i) => {
      expect(t).toBeGreaterThanOrEqual(i * 40);
      expect(t).toBeLessThan((i + 1) * 40);
    });
    expect(() => core().server.shutdown({ drainWindowMs: -1 })).toThrow(RangeError);
  });

  it('handing over: a connection arriving after the listener closed is admitted, then closed at once with "now"; a cold shutdown refuses it', async () => {
    const peer = { gone: false, onGone: () => () => {} };
    const upgrade = { remoteAddress: '127.0.0.1', url: '/', headers: {} };
    const { clock, server, open } = core();
    const sockets = open(4);
    const done = server.shutdown({ stopListening: true, successorReady: true });
    await clock.advance(300);
    // Accepted by the kernel before the listener closed, its upgrade request arrives now.
    expect(server.admit(upgrade, peer)).toMatchObject({ admitted: true });
    const [late] = open(1);
    await clock.advance(700);
    await done;
    expect(late!.closed!.code).toBe(1012);
    expect(parseReason(late!.closed!.reason).retry).toEqual(NOW);
    expect(late!.closed!.at).toBeGreaterThanOrEqual(Math.max(...sockets.map((s) => s.closed!.at)));
    // One drain, as counted and reported.
    expect(server.stats().drains).toBe(1);
    expect(server.state).toBe('stopped');

    const cold = core();
    void cold.server.shutdown();
    expect(cold.server.admit(upgrade, peer)).toMatchObject({ admitted: false, status: 503 });
  });

  it('the hint rule: "now" when a successor serves, never wider than the configured maxMs; shifted only for a cold shutdown', () => {
    const settings = { retryHint: HINT, drainWindowMs: 1000 };
    expect(retryHintFor({ kind: 'shutdown', stopListening: false, successorReady: true }, settings, 0)).toEqual(NOW);
    expect(retryHintFor({ kind: 'shutdown', stopListening: false, successorReady: true }, { ...settings, retryHint: { minMs: 50, maxMs: 100 } }, 0)).toEqual({ minMs: 0, maxMs: 100 });
    expect(retryHintFor({ kind: 'shutdown', stopListening: false, successorReady: false }, settings, 300)).toEqual({ minMs: 1700, maxMs: 5700 });
    expect(retryHintFor({ kind: 'shutdown', stopListening: true, successorReady: false }, settings, 300)).toEqual(HINT);
    expect(retryHintFor({ kind: 'restart', stopListening: false, successorReady: false }, settings, 300)).toEqual(HINT);
  });

  it('a socket source is told to stop listening only with stopListening, and closed after the drain in either case', async () => {
    for (const stopListening of [false, true]) {
      const { clock, server, open } = core();
      const calls: string[] = [];
      server.addSource({ stopListening: () => calls.push('stop listening'), close: () => void calls.push('close') });
      const [socket] = open(1);
      socket!.events.message('x', false);
      const done = server.shutdown({ stopListening });
      expect(calls).toEqual(stopListening ? ['stop listening'] : []);
      await clock.advance(1000);
      await done;
      expect(calls).toEqual(stopListening ? ['stop listening', 'close'] : ['close']);
    }
  });

  it('1001 shutdown: "server going away", no hint', async () => {
    const { clock, server, open } = core();
    const [socket] = open(1);
    const done = server.shutdown({ code: 1001 });
    await clock.advance(1000);
    await done;
    expect(socket!.closed!.code).toBe(1001);
    expect(parseReason(socket!.closed!.reason)).toEqual({ text: 'server going away' });
  });

  it('plainRestartCode: plain clients get 1001 that still says restart and carries the hint; lifeline.v1 clients get 1012', async () => {
    const { clock, server, open } = core({ plainRestartCode: 1001 });
    const [plain] = open(1);
    const [v1] = open(1, { protocol: 'lifeline.v1' });
    const done = server.restart();
    await clock.advance(1000);
    await done;
    expect(plain!.closed!.code).toBe(1001);
    expect(parseReason(plain!.closed!.reason)).toMatchObject({ text: 'service restart', retry: NOW });
    expect(v1!.closed!.code).toBe(1012);
  });

  it('grace: closes wait for work in progress, and start the moment it is done', async () => {
    let finish!: () => void;
    const { clock, server, open } = core({ graceMs: 5000, drainWindowMs: 0, onMessage: () => new Promise<void>((resolve) => (finish = resolve)) });
    const [busy, idle] = open(2);
    busy!.events.message('work', false);
    const done = server.restart();
    await clock.advance(3000);
    expect(busy!.closed).toBeUndefined();
    expect(idle!.closed).toBeUndefined(); // the window starts for everyone once the work is done
    finish();
    await clock.advance(0);
    expect(busy!.closed).toMatchObject({ code: 1012, at: 3000 });
    expect(idle!.closed).toMatchObject({ code: 1012, at: 3000 });
    await done;
  });

  it('grace: never longer than graceMs, however long the work takes', async () => {
    const { clock, server, open } = core({ graceMs: 5000, drainWindowMs: 0, onMessage: () => new Promise<void>(() => undefined) });
    const [busy] = open(1);
    busy!.events.message('work', false);
    const done = server.restart();
    await clock.advance(4999);
    expect(busy!.closed).toBeUndefined();
    await clock.advance(1);
    expect(busy!.closed).toMatchObject({ code: 1012, at: 5000 });
    await done;
  });

  it('stragglers: peers that do not finish the closing handshake are terminated closeTimeoutMs after the last close, not before', async () => {
    const { clock, server, open, logger } = core({ drainWindowMs: 1000, closeTimeoutMs: 2000 });
    const polite = open(3);
    const [straggler] = open(1, { answersClose: false });
    let finished = false;
    const done = server.restart().then(() => (finished = true));
    await clock.advance(999);
    const lastClose = Math.max(...[...polite, straggler!].map((s) => s.closed!.at));
    await clock.advance(lastClose + 2000 - 1 - clock.now());
    expect(straggler!.terminatedAt).toBeUndefined();
    expect(finished).toBe(false);
    await clock.advance(1);
    expect(straggler!.terminatedAt).toBe(lastClose + 2000);
    for (const s of polite) expect(s.terminatedAt).toBeUndefined();
    await done;
    expect(logger.entries.some((e) => e.message === 'terminating connections that did not finish closing' && e.fields.count === 1)).toBe(true);
    expect(server.stats().closesBy).toMatchObject({ server: 4 });
  });

  it('a terminated peer that never reports its close holds the drain one more second at most', async () => {
    const { clock, server, open } = core({ drainWindowMs: 0, closeTimeoutMs: 100 });
    open(1, { answersClose: false, reportsTerminate: false });
    let finished = false;
    const done = server.restart().then(() => (finished = true));
    await clock.advance(1099);
    expect(finished).toBe(false);
    await clock.advance(1);
    await done;
  });

  it('drain-start and drain-end carry the kind, code, count and the duration on the clock', async () => {
    const { clock, server, open } = core({ graceMs: 100, drainWindowMs: 400, onMessage: () => new Promise<void>(() => undefined) });
    open(4)[0]!.events.message('busy', false);
    const events: unknown[] = [];
    server.on('drain-start', (e) => events.push(e));
    server.on('drain-end', (e) => events.push(e));
    const done = server.shutdown();
    await clock.advance(500);
    await done;
    expect(events).toEqual([
      { kind: 'shutdown', code: 1012, connections: 4 },
      { kind: 'shutdown', durationMs: expect.any(Number) },
    ]);
    expect((events[1] as { durationMs: number }).durationMs).toBeGreaterThanOrEqual(100);
    expect((events[1] as { durationMs: number }).durationMs).toBeLessThan(500);
  });

  it('a restart during a shutdown, and a second shutdown, join the one under way', async () => {
    const { clock, server, open } = core();
    open(2);
    const first = server.shutdown();
    expect(server.shutdown()).toBe(first);
    expect(server.restart()).toBe(first);
    await clock.advance(1000);
    await first;
    expect(server.stats().drains).toBe(1);
  });
});
