/**
 * The per-channel event rate of presence and its coalescing, on a manual clock: under the rate every
 * change goes out at once, in order; over it, changes wait and are coalesced per member, and what a
 * watcher ends up knowing is exactly what happened. (The end-to-end runs are in test/integration/presence-*.)
 */
import { describe, expect, it } from 'vitest';
import { changeFrame, PresenceFeeds, type FeedCounters } from '../../src/server/v1/presence-feed.js';
import type { PresenceChange } from '../../src/store/types.js';
import { ManualClock } from '../support/manual-clock.js';

const join = (session: string, info?: string): PresenceChange => ({ kind: 'join', channel: 'room', member: { session, ...(info !== undefined ? { info } : {}) } });
const leave = (session: string): PresenceChange => ({ kind: 'leave', channel: 'room', member: { session } });

function feeds(rate: number) {
  const clock = new ManualClock(1_000_000);
  const counters: FeedCounters = { eventsSent: 0, coalesced: 0 };
  const hub = new PresenceFeeds(clock, () => rate, counters);
  const seen: string[] = [];
  /** Applies every frame to a member list, as a watching client would. */
  const known = new Map<string, unknown>();
  hub.watch('room', {
    send(text) {
      const frame = JSON.parse(text) as { t: string; session: string; info?: unknown };
      seen.push(`${frame.t}:${frame.session}`);
      if (frame.t === 'join') known.set(frame.session, frame.info);
      else known.delete(frame.session);
    },
  });
  return { clock, counters, hub, seen, known };
}

describe('presence events per channel', () => {
  it('go out at once, in order, while under the rate', () => {
    const { hub, seen, counters } = feeds(10);
    hub.deliver(join('a'));
    hub.deliver(join('b'));
    hub.deliver(leave('a'));
    expect(seen).toEqual(['join:a', 'join:b', 'leave:a']);
    expect(counters).toEqual({ eventsSent: 3, coalesced: 0 });
  });

  it('over the rate, wait and go out as the rate allows; a member that joined and left while waiting is never told', async () => {
    const { hub, seen, counters, clock, known } = feeds(2);
    hub.deliver(join('a'));
    hub.deliver(join('b'));
    hub.deliver(join('c')); // over: waits
    hub.deliver(join('d'));
    hub.deliver(leave('c')); // c came and went while waiting: nothing to tell
    hub.deliver(leave('a')); // a was known: its leave waits
    expect(seen).toEqual(['join:a', 'join:b']);
    expect(hub.waiting).toBe(2);
    await clock.advance(500);
    expect(seen).toEqual(['join:a', 'join:b', 'join:d']);
    await clock.advance(500);
    expect(seen).toEqual(['join:a', 'join:b', 'join:d', 'leave:a']);
    expect(hub.waiting).toBe(0);
    expect([...known.keys()].sort()).toEqual(['b', 'd']);
    expect(counters.coalesced).toBe(2);
    await clock.advance(10_000);
    expect(clock.pending).toBe(0);
  });

  it('a member that left and came back while waiting is one join, with its latest info', async () => {
    const { hub, seen, clock, known } = feeds(1);
    hub.deliver(join('a', 'first'));
    hub.deliver(leave('a'));
    hub.deliver(join('a', 'second'));
    hub.deliver(leave('a'));
    hub.deliver(join('a', 'third'));
    expect(seen).toEqual(['join:a']);
    await clock.advance(1000);
    expect(seen).toEqual(['join:a', 'join:a']);
    expect(known.get('a')).toBe('third');
    expect(hub.waiting).toBe(0);
  });

  it('what waits is bounded by the members, whatever the churn', async () => {
    const { hub, clock, known } = feeds(1);
    hub.deliver(join('x'));
    for (let round = 0; round < 1000; round++) {
      for (let m = 0; m < 10; m++) hub.deliver(join(`m${m}`));
      for (let m = 0; m < 10; m++) hub.deliver(leave(`m${m}`));
    }
    hub.deliver(leave('x'));
    expect(hub.waiting).toBe(1);
    await clock.advance(1000);
    expect(known.size).toBe(0);
  });

  it('stops its timers when the last watcher goes, and sends nothing for a channel nobody watches', async () => {
    const { hub, clock, seen } = feeds(1);
    hub.deliver(join('a'));
    hub.deliver(join('b'));
    expect(clock.pending).toBe(1);
    const other = { send: () => undefined };
    hub.watch('elsewhere', other);
    hub.deliver({ kind: 'join', channel: 'nobody', member: { session: 'z' } });
    hub.unwatch('elsewhere', other);
    expect(hub.channels).toBe(1);
    hub.close();
    expect(clock.pending).toBe(0);
    await clock.advance(5000);
    expect(seen).toEqual(['join:a']);
  });

  it('encodes frames the schema accepts: a join with user and info, a leave without info', () => {
    expect(JSON.parse(changeFrame({ kind: 'join', channel: 'c', member: { session: 's', user: 'u', info: { a: 1 } } }))).toEqual({ t: 'join', ch: 'c', session: 's', user: 'u', info: { a: 1 } });
    expect(JSON.parse(changeFrame({ kind: 'leave', channel: 'c', member: { session: 's', user: 'u', info: { a: 1 } } }))).toEqual({ t: 'leave', ch: 'c', session: 's', user: 'u' });
  });
});
