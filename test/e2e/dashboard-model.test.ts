/**
 * The dashboard's pure parts, without a browser: the closes chart's model (deltas between successive
 * snapshots of each process, a restarted process as a new baseline) and the snapshot guard.
 * (No DOM here: only the modules that need none are imported.)
 */
import { describe, expect, it } from 'vitest';
import { ClosesHistory } from '../../src/dashboard/browser/chart.js';
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

describe('the closes chart model', () => {
  it('counts the closes between snapshots, per process; a first or restarted process is only a baseline', () => {
    const h = new ClosesHistory({ windowMs: 60_000, bucketMs: 10_000 });
    const t0 = 1_000_000;
    h.add(snap('a', 1, t0, { 1000: 5, 1012: 3 })); // baseline: what happened before the page opened is not "recent"
    h.add(snap('a', 1, t0 + 1000, { 1000: 5, 1012: 7, 1011: 1 }));
    h.add(snap('b', 9, t0 + 1500, { 1012: 2 })); // another worker: its own baseline
    h.add(snap('b', 9, t0 + 2500, { 1012: 3 }));
    h.add(snap('a', 2, t0 + 3000, { 1000: 1 })); // process a restarted: counters start again, baseline
    h.add(snap('a', 2, t0 + 4000, { 1000: 2 }));
    const buckets = h.buckets(t0 + 5000);
    expect(buckets).toHaveLength(6);
    const total = new Map<number, number>();
    for (const b of buckets) for (const [code, n] of b.counts) total.set(code, (total.get(code) ?? 0) + n);
    expect(Object.fromEntries(total)).toEqual({ 1000: 1, 1011: 1, 1012: 5 });
    // Outside the window: gone.
    expect(h.buckets(t0 + 120_000).every((b) => b.total === 0)).toBe(true);
  });

  it('accepts only well-formed snapshots', () => {
    expect(isStatsSnapshot(snap('a', 1, 2, { 1012: 1 }))).toBe(true);
    expect(isStatsSnapshot({ v: 1, source: 'x', at: 1, startedAt: 1, stats: {}, incidents: [] })).toBe(false);
    expect(isStatsSnapshot({ ...snap('a', 1, 2, {}), incidents: [{ id: 1 }] })).toBe(false);
    expect(isStatsSnapshot('forged')).toBe(false);
  });
});
