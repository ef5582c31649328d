/**
 * The client's timing rules, each alone on a manual clock: the one-shot timer they all use, dead-link
 * detection, the session's heartbeat, the resend hold after UNAVAILABLE, the credential refresh, and
 * the environment watch that triggers early checks. Nothing here waits on the wall clock. The same
 * rules run end to end in client-state.test.ts (fake sockets) and the session integration tests.
 */
import { describe, expect, it, vi } from 'vitest';
import { DEFAULT_BACKOFF } from '../../src/client/backoff.js';
import { Credentials } from '../../src/client/credentials.js';
import { DeadLinkWatch } from '../../src/client/dead-link.js';
import type { ClientEnvironment } from '../../src/client/environment.js';
import { watchEnvironment } from '../../src/client/environment-watch.js';
import { CredentialsError } from '../../src/client/errors.js';
import { Heartbeat } from '../../src/client/heartbeat.js';
import { ResendHold, resendDelay } from '../../src/client/resend.js';
import { Timer } from '../../src/client/timer.js';
import type { Json } from '../../src/protocol/frames.js';
import { ManualClock } from '../support/manual-clock.js';

const JUST_BELOW_ONE = 1 - 1e-12;

/** Let promise callbacks (an async `auth` function) run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('Timer', () => {
  it('runs once, replaces a pending callback when started again, and cancels', () => {
    const clock = new ManualClock();
    const timer = new Timer(clock);
    const fired: string[] = [];
    timer.start(100, () => fired.push('a'));
    timer.start(50, () => fired.push('b'));
    expect(timer.armed).toBe(true);
    clock.tick(100);
    expect(fired).toEqual(['b']);
    expect(timer.armed).toBe(false);
    timer.start(10, () => fired.push('c'));
    timer.cancel();
    timer.cancel();
    clock.tick(100);
    expect(fired).toEqual(['b']);
    expect(clock.pending).toBe(0);
  });

  it('works with a clock whose handles are falsy', () => {
    const cleared: unknown[] = [];
    const clock = { now: () => 0, setTimeout: () => 0, clearTimeout: (h: unknown) => cleared.push(h) };
    const timer = new Timer(clock);
    timer.start(10, () => {});
    timer.cancel();
    expect(cleared).toEqual([0]);
  });
});

describe('DeadLinkWatch', () => {
  /** A watch on a link opened at time 0, with `deadLinkMs` 1000, recording its verdicts. */
  function started() {
    const clock = new ManualClock();
    const dead: number[] = [];
    const watch = new DeadLinkWatch(clock, 1000, (silent) => dead.push(silent));
    watch.start();
    return { clock, dead, watch };
  }

  it('declares the link dead after deadLinkMs of silence, counted from the last traffic', () => {
    const { clock, dead, watch } = started();
    clock.tick(600);
    watch.heard();
    clock.tick(999);
    expect(dead).toEqual([]);
    clock.tick(1);
    expect(dead).toEqual([1000]);
    // Stopped by then: no second verdict.
    clock.tick(5000);
    expect(dead).toEqual([1000]);
    expect(clock.pending).toBe(0);
  });

  it('sees the true silence when its timer fires late (a throttled tab), and when checked early', () => {
    const { clock, dead, watch } = started();
    clock.jump(4000);
    expect(watch.check()).toBe(true);
    expect(dead).toEqual([4000]);
    expect(watch.check()).toBe(false);
  });

  it('does nothing when off (0), before start, or after stop', () => {
    const clock = new ManualClock();
    const onDead = vi.fn();
    const off = new DeadLinkWatch(clock, 0, onDead);
    off.start();
    clock.tick(60_000);
    expect(off.check()).toBe(false);
    const idle = new DeadLinkWatch(clock, 1000, onDead);
    clock.tick(5000);
    expect(idle.check()).toBe(false);
    idle.start();
    idle.stop();
    clock.tick(5000);
    expect(idle.check()).toBe(false);
    expect(onDead).not.toHaveBeenCalled();
  });
});

describe('Heartbeat', () => {
  it('pings after each silent interval, counting from the last thing heard or the last ping', () => {
    const clock = new ManualClock();
    const pings: [number, number][] = [];
    const beat = new Heartbeat(clock, (n) => pings.push([n, clock.now()]));
    beat.heard();
    beat.start(1000);
    clock.tick(999);
    expect(pings).toEqual([]);
    clock.tick(1);
    clock.tick(1000);
    expect(pings).toEqual([[1, 1000], [2, 2000]]);
    clock.tick(500);
    beat.heard();
    clock.tick(999);
    expect(pings).toHaveLength(2);
    clock.tick(1);
    expect(pings).toEqual([[1, 1000], [2, 2000], [3, 3500]]);
  });

  it('one late timer costs one ping, not one per missed interval', () => {
    const clock = new ManualClock();
    const pings: number[] = [];
    const beat = new Heartbeat(clock, (n) => pings.push(n));
    beat.heard();
    beat.start(1000);
    clock.jump(10_000);
    clock.tick(0);
    expect(pings).toEqual([1]);
  });

  it('shares its sequence with pings sent outside the schedule; stops; 0 means never', () => {
    const clock = new ManualClock();
    const pings: number[] = [];
    const beat = new Heartbeat(clock, (n) => pings.push(n));
    expect(beat.nextSeq()).toBe(1);
    beat.start(100);
    clock.tick(100);
    expect(pings).toEqual([2]);
    beat.stop();
    clock.tick(1000);
    expect(pings).toEqual([2]);
    beat.start(0);
    clock.tick(10_000);
    expect(pings).toEqual([2]);
    expect(clock.pending).toBe(0);
  });
});

describe('the resend hold', () => {
  it('waits between half and all of the backoff ceiling', () => {
    const backoff = { baseMs: 500, factor: 2, capMs: 10_000 };
    expect(resendDelay(1, backoff, () => 0)).toBe(250);
    expect(resendDelay(1, backoff, () => JUST_BELOW_ONE)).toBeLessThan(500);
    expect(resendDelay(3, backoff, () => 0.5)).toBe(1500);
    expect(resendDelay(40, backoff, () => 0)).toBe(5000);
  });

  it('holds once per failure streak step, releases after the delay, backs off further, and resets on an ack', () => {
    const clock = new ManualClock();
    const released: number[] = [];
    const hold = new ResendHold(clock, { baseMs: 100, factor: 2, capMs: 10_000 }, () => 0, () => released.push(clock.now()));
    hold.fail();
    expect(hold.held).toBe(true);
    clock.tick(20);
    hold.fail(); // during the hold: no longer, no shorter
    clock.tick(30);
    expect(released).toEqual([50]);
    expect(hold.held).toBe(false);
    hold.fail();
    clock.tick(1000);
    expect(released).toEqual([50, 150]); // the second hold: half of 200
    hold.succeeded();
    hold.fail();
    clock.tick(1000);
    expect(released).toEqual([50, 150, 1100]); // from the base again
  });

  it('release ends the hold without resending', () => {
    const clock = new ManualClock();
    const onRelease = vi.fn();
    const hold = new ResendHold(clock, { baseMs: 100, factor: 2, capMs: 100 }, () => 0, onRelease);
    hold.fail();
    hold.release();
    expect(hold.held).toBe(false);
    clock.tick(1000);
    expect(onRelease).not.toHaveBeenCalled();
  });
});

describe('Credentials', () => {
  function credentials(auth: () => Json | PromiseLike<Json>, live = true) {
    const clock = new ManualClock();
    const sent: Json[] = [];
    const failed: CredentialsError[] = [];
    const creds = new Credentials(auth, clock, () => 0.5, { live: () => live, send: (v) => sent.push(v), failed: (e) => failed.push(e) });
    return { clock, creds, sent, failed };
  }

  it('refreshes a minute before expiry, or half-way through credentials shorter than two minutes', async () => {
    let n = 0;
    const { clock, creds, sent } = credentials(() => `token-${++n}`);
    creds.schedule(10 * 60_000);
    clock.tick(9 * 60_000 - 1);
    await settle();
    expect(sent).toEqual([]);
    clock.tick(1);
    await settle();
    expect(sent).toEqual(['token-1']);
    creds.schedule(60_000);
    clock.tick(30_000);
    await settle();
    expect(sent).toEqual(['token-1', 'token-2']);
  });

  it('a failed refresh is reported and tried again while time is left; nothing is sent to a connection that ended', async () => {
    let fail = true;
    const { clock, creds, sent, failed } = credentials(() => (fail ? Promise.reject(new Error('down')) : 'ok'));
    creds.schedule(60_000);
    clock.tick(30_000);
    await settle();
    expect(failed).toHaveLength(1);
    expect(failed[0]).toBeInstanceOf(CredentialsError);
    fail = false;
    clock.tick(15_000); // half of the 30 s left
    await settle();
    expect(sent).toEqual(['ok']);

    const gone = credentials(() => 'late', false);
    gone.creds.schedule(60_000);
    gone.clock.tick(30_000);
    await settle();
    expect(gone.sent).toEqual([]);
    // Cancelled (the connection ended) or no expiry: no refresh at all.
    const idle = credentials(() => 'never');
    idle.creds.schedule(60_000);
    idle.creds.cancel();
    idle.creds.schedule(undefined);
    idle.clock.tick(120_000);
    await settle();
    expect(idle.sent).toEqual([]);
  });

  it("fetches credentials before each attempt, for that attempt's hello only", async () => {
    const { creds } = credentials(() => ({ token: 't' }));
    const url = creds.url((context) => `ws://example/${context.attempt}`);
    await expect(url({ attempt: 2 })).resolves.toBe('ws://example/2');
    expect(creds.take()).toEqual({ value: { token: 't' } });
    expect(creds.take()).toBeUndefined();
  });

  it('after 4802: reconnect at once, then with backoff, and stop after three in a row; the user policy first', () => {
    const { creds } = credentials(() => 't');
    const policy = creds.policy(undefined, { baseMs: 100 });
    expect(policy(4802, '', 1)).toEqual({ action: 'reconnect', delayMs: 0 });
    expect(policy(4802, '', 2)).toEqual({ action: 'reconnect', delayMs: 50 }); // 0.5 * 100
    expect(policy(4802, '', 3)).toEqual({ action: 'reconnect', delayMs: 100 });
    expect(policy(4802, '', 4)).toMatchObject({ action: 'stop', diagnosis: expect.stringContaining('4 closes with 4802 in a row') });
    expect(policy(1006, '', 1)).toBeUndefined();
    const own = creds.policy(() => ({ action: 'stop', diagnosis: 'mine' }), DEFAULT_BACKOFF);
    expect(own(4802, '', 1)).toEqual({ action: 'stop', diagnosis: 'mine' });
  });
});

describe('the environment watch', () => {
  function fakeWindow(onLine = true) {
    const listeners = new Map<string, Set<() => void>>();
    const env = {
      document: { visibilityState: 'visible' },
      navigator: { onLine },
      addEventListener: (type: string, l: () => void) => void (listeners.get(type) ?? listeners.set(type, new Set()).get(type)!).add(l),
      removeEventListener: (type: string, l: () => void) => void listeners.get(type)?.delete(l),
      fire: (type: string) => listeners.get(type)?.forEach((l) => l()),
      count: () => [...listeners.values()].reduce((n, s) => n + s.size, 0),
    };
    return env satisfies ClientEnvironment;
  }

  it('tracks online/offline from the start, reports visibility only when not hidden, and stops listening', () => {
    const env = fakeWindow(false);
    const seen: string[] = [];
    const watch = watchEnvironment(env, { offline: () => seen.push('offline'), online: () => seen.push('online'), visible: () => seen.push('visible') });
    expect(watch.offline).toBe(true);
    env.fire('online');
    expect(watch.offline).toBe(false);
    env.fire('offline');
    expect(watch.offline).toBe(true);
    env.document.visibilityState = 'hidden';
    env.fire('visibilitychange');
    env.document.visibilityState = 'visible';
    env.fire('visibilitychange');
    expect(seen).toEqual(['online', 'offline', 'visible']);
    expect(env.count()).toBe(3);
    watch.stop();
    expect(env.count()).toBe(0);
  });

  it('without an environment: online, nothing to stop', () => {
    const watch = watchEnvironment(undefined, { offline() {}, online() {}, visible() {} });
    expect(watch.offline).toBe(false);
    watch.stop();
  });
});
