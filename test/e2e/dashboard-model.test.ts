/**
 * The dashboard's pure parts, without a browser: the time series model (differences between
 * successive snapshots of each process, a restarted process as a new baseline, replays ignored, a
 * sparse sample giving the same totals, a JSON round trip), the router, the snapshot guard, and the
 * admin cookie's expiry.
 * (No DOM here: only the modules that need none are imported.)
 */
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { COOKIE_MAX_AGE_S, DashboardAccess } from '../../src/dashboard/server/access.js';
import { parseRoute, routeHash } from '../../src/dashboard/browser/router.js';
import { isChannelName } from '../../src/dashboard/console-api.js';
import { Series, type Sample } from '../../src/dashboard/series.js';
import { isStatsSnapshot, type StatsSnapshot } from '../../src/dashboard/snapshot.js';

function snap(source: string, startedAt: number, at: number, closesByCode: Record<string, number>): StatsSnapshot {
  return {
    v: 1,
    source,
    startedAt,
    at,
    state: 'running',
    stats: { open: 1, opened: 1, closesByCode, incidents: 0, drains: 0, messagesIn: 0, messagesOut: 0, refusedUpgrades: 0, deadPeers: 0, slowConsumers: 0, published: 0, replayed: 0, sessions: { created: 0, resumed: 0, notRecovered: 0 } },
    incidents: [],
    retryHint: { minMs: 1000, maxMs: 5000 },
    drainWindowMs: 5000,
  };
}

const sample = (source: string, startedAt: number, at: number, open: number, messagesIn: number, closes: Record<string, number> = {}): Sample => ({ source, startedAt, at, open, messagesIn, messagesOut: messagesIn * 2, closes });
const WINDOW = { key: '1m', windowMs: 60_000, bucketMs: 10_000 };

function totals(series: Series, now: number): { in: number; out: number; closes: Record<number, number> } {
  const closes = new Map<number, number>();
  let messagesIn = 0;
  let messagesOut = 0;
  for (const b of series.bars(now)) {
    messagesIn += b.messagesIn;
    messagesOut += b.messagesOut;
    for (const [code, n] of b.closes) closes.set(code, (closes.get(code) ?? 0) + n);
  }
  return { in: messagesIn, out: messagesOut, closes: Object.fromEntries(closes) };
}

describe('the time series model', () => {
  it('counts what happened between snapshots, per process; a first or restarted process is only a baseline', () => {
    const s = new Series(WINDOW);
    const t0 = 1_000_000;
    s.add(sample('a', 1, t0, 3, 100, { 1000: 5, 1012: 3 })); // baseline: what happened before is not "recent"
    s.add(sample('a', 1, t0 + 1000, 4, 110, { 1000: 5, 1012: 7, 1011: 1 }));
    s.add(sample('b', 9, t0 + 1500, 2, 50, { 1012: 2 })); // another worker: its own baseline
    s.add(sample('b', 9, t0 + 2500, 2, 55, { 1012: 3 }));
    s.add(sample('a', 2, t0 + 3000, 1, 1, { 1000: 1 })); // process a restarted: counters start again, baseline
    s.add(sample('a', 2, t0 + 4000, 1, 3, { 1000: 2 }));
    s.add(sample('a', 2, t0 + 4000, 1, 3, { 1000: 2 })); // a replayed snapshot adds nothing
    const bars = s.bars(t0 + 5000);
    expect(bars).toHaveLength(6);
    expect(totals(s, t0 + 5000)).toEqual({ in: 10 + 5 + 2, out: 34, closes: { 1000: 1, 1011: 1, 1012: 5 } });
    // Connections: the last value of each process in the bar, summed.
    expect(bars.at(-1)!.connections).toBe(1 + 2);
    expect(bars[0]!.connections).toBeNull();
    // Outside the window: gone.
    expect(s.bars(t0 + 120_000).every((b) => b.closesTotal === 0 && b.connections === null)).toBe(true);
  });

  it('gives the same totals from a sparse sample of the snapshots, and survives a JSON round trip', () => {
    const dense = new Series(WINDOW);
    const sparse = new Series(WINDOW);
    const t0 = 2_000_000;
    for (let i = 0; i <= 50; i++) {
      const s = sample('a', 1, t0 + i * 1000, i, i * 7, { 1012: i * 2, 1011: Math.floor(i / 10) });
      dense.add(s);
      if (i % 9 === 0 || i === 50) sparse.add(s);
    }
    const now = t0 + 50_000;
    expect(totals(sparse, now)).toEqual(totals(dense, now));
    const restored = Series.from(JSON.parse(JSON.stringify(dense.toJSON())));
    expect(restored.bars(now)).toEqual(dense.bars(now));
    // It continues where it stopped, exactly as the original would.
    const next = sample('a', 1, t0 + 51_000, 51, 51 * 7, { 1012: 102, 1011: 5 });
    restored.add(next);
    dense.add(next);
    expect(restored.bars(t0 + 51_000)).toEqual(dense.bars(t0 + 51_000));
    expect(restored.bars(t0 + 51_000).at(-1)!.messagesIn).toBe(14); // the bar from 50 s holds the 50 s and 51 s differences
  });
});

describe('the router', () => {
  it('reads and writes fragments, with any channel name', () => {
    expect(parseRoute('')).toEqual({ view: 'overview' });
    expect(parseRoute('#/nope')).toEqual({ view: 'overview' });
    expect(parseRoute('#/incidents/inc_0a1b')).toEqual({ view: 'incidents', item: 'inc_0a1b' });
    for (const name of ['news', 'a/b?c#d', '%zz', '$lifeline.stats']) expect(parseRoute(routeHash({ view: 'channels', item: name }))).toEqual({ view: 'channels', item: name });
    expect(parseRoute('#/channels/%E0%A4%A')).toEqual({ view: 'channels' }); // a broken escape is no item, not a crash
  });

  it('knows a channel name', () => {
    expect(isChannelName('news')).toBe(true);
    expect(isChannelName('x'.repeat(200))).toBe(true);
    for (const bad of ['', 'x'.repeat(201), 'with space', '频道', 7, null]) expect(isChannelName(bad)).toBe(false);
  });
});

describe('the snapshot guard', () => {
  it('accepts only well-formed snapshots', () => {
    expect(isStatsSnapshot(snap('a', 1, 2, { 1012: 1 }))).toBe(true);
    expect(isStatsSnapshot({ v: 1, source: 'x', at: 1, startedAt: 1, stats: {}, incidents: [] })).toBe(false);
    expect(isStatsSnapshot({ ...snap('a', 1, 2, {}), incidents: [{ id: 1 }] })).toBe(false);
    expect(isStatsSnapshot('forged')).toBe(false);
  });
});

describe('the admin cookie', () => {
  it('expires on the server, whatever the browser keeps; is bound to the token; cannot be re-dated', () => {
    let now = 1_700_000_000_000;
    const token = 'an-admin-token-of-some-length';
    const access = new DashboardAccess({ demo: false, adminToken: token, now: () => now });
    const request = { headers: {}, socket: {} } as unknown as IncomingMessage;
    const cookie = access.loginCookie(request).split(';')[0]!;
    expect(cookie).not.toContain(token);
    expect(access.isAdmin({ cookie })).toBe(true);
    // Moved to a later expiry by hand: the MAC no longer matches.
    const [name, value] = cookie.split('=') as [string, string];
    const [version, expires, mac] = value.split('.') as [string, string, string];
    expect(access.isAdmin({ cookie: `${name}=${version}.${Number(expires) + 86_400}.${mac}` })).toBe(false);
    // Another token's server does not take it.
    expect(new DashboardAccess({ demo: false, adminToken: `${token}-rotated`, now: () => now }).isAdmin({ cookie })).toBe(false);
    now += COOKIE_MAX_AGE_S * 1000 - 1000;
    expect(access.isAdmin({ cookie })).toBe(true);
    now += 2000;
    expect(access.isAdmin({ cookie })).toBe(false);
    expect(access.logoutCookie(request)).toMatch(/^lifeline_admin=; .*Max-Age=0/);
  });
});
