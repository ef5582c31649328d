/**
 * The rules of presence catch-up (`presence-catch-up.ts`), with reads the test answers by hand: changes
 * in order are told once; a change already reflected by a read is dropped; a gap or a resubscription
 * reads the channel and tells exactly the difference; changes that arrive during a read are told as they
 * come and kept on top of it; a failed read is counted and tried again. (End to end, on Redis with a
 * subscription broken for real: test/integration/presence-nodes.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { PresenceCatchUp, type CatchUpCounters } from '../../src/server/v1/presence-catch-up.js';
import type { PresenceChange, PresenceMember, PresenceSnapshot } from '../../src/store/types.js';

const E = 'e1';
const change = (kind: 'join' | 'leave', session: string, seq: number, epoch = E, info?: string): PresenceChange => ({
  kind,
  channel: 'room',
  member: { session, ...(info !== undefined ? { info } : {}) },
  version: { epoch, seq },
});
const snapshot = (seq: number | undefined, members: PresenceMember[], epoch = E): PresenceSnapshot => (seq === undefined ? { members } : { version: { epoch, seq }, members });

function setup() {
  const reads: { channel: string; resolve: (s: PresenceSnapshot) => void; reject: (e: Error) => void }[] = [];
  const told: string[] = [];
  const counters: CatchUpCounters = { resyncs: 0, recovered: 0, resyncFailures: 0 };
  const failures: unknown[] = [];
  const catchUp = new PresenceCatchUp({
    snapshot: (channel) => new Promise((resolve, reject) => reads.push({ channel, resolve, reject })),
    deliver: (c) => told.push(`${c.kind}:${c.member.session}${c.member.info !== undefined ? `=${String(c.member.info)}` : ''}`),
    counters,
    failed: (error) => failures.push(error),
  });
  /** Answer the oldest read. */
  const answer = async (s: PresenceSnapshot) => {
    reads.shift()!.resolve(s);
    await new Promise((r) => setImmediate(r));
  };
  return { catchUp, reads, told, counters, failures, answer };
}

describe('presence catch-up', () => {
  it('reads a channel when watched; tells changes in order, once each, and drops those the read reflects', async () => {
    const { catchUp, reads, told, counters, answer } = setup();
    catchUp.start('room');
    expect(reads.map((r) => r.channel)).toEqual(['room']);
    // While the first read is under way: told as they come.
    catchUp.changed(change('join', 'a', 1));
    catchUp.changed(change('join', 'b', 2));
    await answer(snapshot(1, [{ session: 'a' }]));
    expect(told).toEqual(['join:a', 'join:b']);
    catchUp.changed(change('join', 'b', 2)); // a repeat: dropped
    catchUp.changed(change('leave', 'a', 3));
    catchUp.changed(change('join', 'c', 4));
    expect(told).toEqual(['join:a', 'join:b', 'leave:a', 'join:c']);
    expect(reads).toHaveLength(0);
    expect(counters).toEqual({ resyncs: 0, recovered: 0, resyncFailures: 0 });
  });

  it('a gap reads the channel again and tells exactly what was missed: the leave of a member gone, the join of one that came', async () => {
    const { catchUp, told, counters, answer, reads } = setup();
    catchUp.start('room');
    await answer(snapshot(3, [{ session: 'a' }, { session: 'b' }, { session: 'c', info: 'x' }]));
    // Missed: leave b (4), join d (5), c left and came back with other info (6, 7). This one is 8.
    catchUp.changed(change('join', 'e', 8));
    expect(told).toEqual(['join:e']);
    expect(counters.resyncs).toBe(1);
    // Arrives during the read, after it: told now, kept on top of the read.
    catchUp.changed(change('leave', 'a', 9));
    await answer(snapshot(8, [{ session: 'a' }, { session: 'c', info: 'y' }, { session: 'd' }, { session: 'e' }]));
    expect(told.slice(2).sort()).toEqual(['join:c=y', 'join:d', 'leave:b']);
    expect(told.slice(0, 2)).toEqual(['join:e', 'leave:a']);
    expect(counters.recovered).toBe(3);
    // Late copies of what the read reflected are dropped; the next in order is told.
    catchUp.changed(change('join', 'd', 5));
    catchUp.changed(change('leave', 'b', 4));
    catchUp.changed(change('join', 'f', 10));
    expect(told.at(-1)).toBe('join:f');
    expect(told).toHaveLength(6);
    expect(reads).toHaveLength(0);
  });

  it('a resubscription (of the channel, or of any channel) reads the watched channel again; one that emptied and filled again is followed across epochs', async () => {
    const { catchUp, told, counters, answer, reads } = setup();
    catchUp.start('room');
    catchUp.start('other');
    await answer(snapshot(1, [{ session: 'a' }]));
    await answer(snapshot(undefined, []));
    catchUp.resync(['room', 'unwatched']);
    expect(reads.map((r) => r.channel)).toEqual(['room']);
    // Meanwhile: a left (the channel emptied: its epoch ended), b joined in a new epoch.
    await answer(snapshot(1, [{ session: 'b' }], 'e2'));
    expect(told).toEqual(['leave:a', 'join:b']);
    // The old epoch's leave, arriving late: already told.
    catchUp.changed(change('leave', 'a', 2));
    catchUp.changed(change('leave', 'b', 2, 'e2'));
    catchUp.changed(change('join', 'c', 1, 'e3')); // a new epoch once empty: in order
    expect(told).toEqual(['leave:a', 'join:b', 'leave:b', 'join:c']);
    catchUp.resync(undefined);
    expect(reads.map((r) => r.channel).sort()).toEqual(['other', 'room']);
    expect(counters.resyncs).toBe(3);
  });

  it('a failed read is counted and tried again; a channel let go is dropped', async () => {
    const { catchUp, told, counters, failures, reads, answer } = setup();
    catchUp.start('room');
    await answer(snapshot(2, [{ session: 'a' }, { session: 'b' }]));
    catchUp.changed(change('leave', 'a', 4)); // 3 missed
    reads.shift()!.reject(new Error('store away'));
    await new Promise((r) => setImmediate(r));
    expect(counters).toMatchObject({ resyncs: 1, resyncFailures: 1 });
    expect(failures).toHaveLength(1);
    catchUp.retry();
    await answer(snapshot(4, [{ session: 'c' }]));
    expect(told).toEqual(['leave:a', 'leave:b', 'join:c']);
    catchUp.stop('room');
    catchUp.changed(change('join', 'z', 1, 'e9')); // not watched: passed through as it is
    expect(told.at(-1)).toBe('join:z');
    catchUp.retry();
    expect(reads).toHaveLength(0);
  });
});
