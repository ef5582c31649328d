/**
 * The session's channel table, alone: every transition of a channel's row (wanted, subscribing, live,
 * unsubscribing, and whether the server's session holds it) and the frames each one asks to send.
 * The same rules run against a real server in test/integration/session-client.test.ts and against a
 * scripted one in session-edge.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { ChannelTable } from '../../src/client/channels.js';

const E = 'E';

/** A table with `channel` live at offset `offset` of epoch E on a welcomed connection. */
function liveTable(channel = 'news', offset = 0): ChannelTable {
  const t = new ChannelTable();
  t.subscribe(channel, undefined, true);
  t.subscribed({ ch: channel, epoch: E, offset, recovered: true });
  return t;
}

describe('the application subscribes', () => {
  it('while not welcomed: the channel is wanted and nothing is sent', () => {
    const t = new ChannelTable();
    expect(t.subscribe('news', undefined, false)).toEqual([]);
    expect(t.state('news')).toBe('wanted');
    expect(t.wanted()).toEqual(['news']);
  });

  it('while welcomed: a sub, from the given position when there is one', () => {
    const t = new ChannelTable();
    expect(t.subscribe('news', undefined, true)).toEqual([{ t: 'sub', ch: 'news' }]);
    expect(t.subscribe('scores', { epoch: E, offset: 7 }, true)).toEqual([{ t: 'sub', ch: 'scores', from: { epoch: E, offset: 7 } }]);
    expect(t.state('news')).toBe('subscribing');
    expect(t.positions()).toEqual({ scores: { epoch: E, offset: 7 } });
  });

  it('to a channel it already wants: nothing changes', () => {
    const t = liveTable();
    expect(t.subscribe('news', { epoch: 'X', offset: 99 }, true)).toEqual([]);
    expect(t.state('news')).toBe('live');
    expect(t.positions()).toEqual({ news: { epoch: E, offset: 0 } });
  });

  it('again after letting go: a fresh cursor, and the channel moves to the end of the order', () => {
    const t = liveTable('news');
    t.subscribe('scores', undefined, true);
    t.unsubscribe('news', true);
    expect(t.wanted()).toEqual(['scores']);
    expect(t.subscribe('news', undefined, true)).toEqual([{ t: 'sub', ch: 'news' }]);
    expect(t.wanted()).toEqual(['scores', 'news']);
    expect(t.positions()).toEqual({});
  });
});

describe('the application lets go', () => {
  it('of a live channel while welcomed: unsub, then forgotten once the server says unsubscribed', () => {
    const t = liveTable();
    expect(t.unsubscribe('news', true)).toEqual([{ t: 'unsub', ch: 'news' }]);
    expect(t.state('news')).toBe('unsubscribing');
    expect(t.wanted()).toEqual([]);
    expect(t.cursor('news')).toBeUndefined();
    t.unsubscribed('news');
    expect(t.state('news')).toBeUndefined();
  });

  it('of a channel whose sub is in flight: unsub', () => {
    const t = new ChannelTable();
    t.subscribe('news', undefined, true);
    expect(t.unsubscribe('news', true)).toEqual([{ t: 'unsub', ch: 'news' }]);
  });

  it('of a channel the server never had: forgotten, nothing sent', () => {
    const t = new ChannelTable();
    t.subscribe('news', undefined, false);
    expect(t.unsubscribe('news', false)).toEqual([]);
    expect(t.state('news')).toBeUndefined();
    // Welcomed too: a sub refused with a retryable error leaves it wanted, and the server has nothing.
    t.subscribe('news', undefined, true);
    t.refused('news', 'BAD_REQUEST');
    expect(t.unsubscribe('news', true)).toEqual([]);
    expect(t.state('news')).toBeUndefined();
  });

  it('of a channel the server holds, while disconnected: the unsub is owed to a resumed session, not to a new one', () => {
    const resumed = liveTable();
    resumed.disconnected();
    expect(resumed.unsubscribe('news', false)).toEqual([]);
    expect(resumed.state('news')).toBe('unsubscribing');
    expect(resumed.wanted()).toEqual([]);
    expect(resumed.welcome(true)).toEqual([{ t: 'unsub', ch: 'news' }]);

    const fresh = liveTable();
    fresh.disconnected();
    fresh.unsubscribe('news', false);
    expect(fresh.welcome(false)).toEqual([]);
    expect(fresh.state('news')).toBeUndefined();
  });

  it('of an unknown channel: nothing', () => {
    expect(new ChannelTable().unsubscribe('news', true)).toEqual([]);
  });
});

describe('the connection', () => {
  it('a new session: every wanted channel is subscribed, from its position', () => {
    const t = liveTable('news', 4);
    t.subscribe('scores', undefined, false);
    t.disconnected();
    expect(t.welcome(false)).toEqual([
      { t: 'sub', ch: 'news', from: { epoch: E, offset: 4 } },
      { t: 'sub', ch: 'scores' },
    ]);
    expect(t.state('news')).toBe('subscribing');
  });

  it('a resumed session: what the server holds is left to its restore; the rest is subscribed', () => {
    const t = liveTable('news', 4);
    t.subscribe('scores', undefined, false);
    t.disconnected();
    expect(t.welcome(true)).toEqual([{ t: 'sub', ch: 'scores' }]);
    expect(t.state('news')).toBe('wanted');
    // The restore's subscribed makes it live again.
    expect(t.subscribed({ ch: 'news', epoch: E, offset: 4, recovered: true })).toMatchObject({ kind: 'live', lost: false });
    expect(t.state('news')).toBe('live');
  });

  it('a channel let go of and wanted again while disconnected is still held: left to the restore', () => {
    const t = liveTable();
    t.disconnected();
    t.unsubscribe('news', false);
    t.subscribe('news', undefined, false);
    expect(t.welcome(true)).toEqual([]);
  });

  it('disconnected: nothing live or in flight; an unsub in flight is forgotten; held channels are kept', () => {
    const t = liveTable('news');
    t.subscribe('scores', undefined, true);
    t.subscribe('gone', undefined, true);
    t.subscribed({ ch: 'gone', epoch: E, offset: 0, recovered: true });
    t.unsubscribe('gone', true);
    t.disconnected();
    expect(t.state('news')).toBe('wanted');
    expect(t.cursor('news')!.live).toBe(false);
    expect(t.state('scores')).toBe('wanted');
    expect(t.state('gone')).toBeUndefined();
    expect(t.event({ ch: 'news', epoch: E, off: 1 })).toBe('ignore');
  });

  it('restored: a wanted channel the server did not restore is subscribed again; live and in-flight ones are left alone', () => {
    const t = liveTable('news', 2);
    t.subscribe('scores', { epoch: E, offset: 5 }, true);
    t.subscribed({ ch: 'scores', epoch: E, offset: 5, recovered: true });
    t.subscribe('weather', undefined, true);
    t.disconnected();
    expect(t.welcome(true)).toEqual([{ t: 'sub', ch: 'weather' }]);
    t.subscribed({ ch: 'scores', epoch: E, offset: 5, recovered: true });
    // The server's record lagged behind: `news` was never restored.
    expect(t.restored()).toEqual([{ t: 'sub', ch: 'news', from: { epoch: E, offset: 2 } }]);
    expect(t.state('news')).toBe('subscribing');
    expect(t.state('scores')).toBe('live');
    expect(t.state('weather')).toBe('subscribing');
    // No longer held: a later resume subscribes it itself.
    t.disconnected();
    expect(t.welcome(true)).toEqual([
      { t: 'sub', ch: 'news', from: { epoch: E, offset: 2 } },
      { t: 'sub', ch: 'weather' },
    ]);
  });
});

describe("the server's frames", () => {
  it('subscribed: live, held, and what the cursor made of it (a loss, a new epoch)', () => {
    const t = new ChannelTable();
    t.subscribe('news', { epoch: 'OLD', offset: 40 }, true);
    const result = t.subscribed({ ch: 'news', epoch: 'NEW', offset: 2, recovered: false });
    expect(result).toMatchObject({ kind: 'live', lost: true, epochChanged: true });
    expect(result.kind === 'live' && result.cursor).toBe(t.cursor('news'));
    expect(t.positions()).toEqual({ news: { epoch: 'NEW', offset: 2 } });
    t.disconnected();
    expect(t.welcome(true)).toEqual([]);
  });

  it('subscribed for a channel the application let go of: unsub, unless one is in flight', () => {
    const t = new ChannelTable();
    expect(t.subscribed({ ch: 'stale', epoch: E, offset: 0, recovered: true })).toEqual({ kind: 'unwanted', frames: [{ t: 'unsub', ch: 'stale' }] });
    expect(t.state('stale')).toBe('unsubscribing');
    expect(t.subscribed({ ch: 'stale', epoch: E, offset: 0, recovered: true })).toEqual({ kind: 'unwanted', frames: [] });
  });

  it('ev: delivered in order, repeats dropped, ignored when not live or not wanted', () => {
    const t = new ChannelTable();
    t.subscribe('news', undefined, true);
    expect(t.event({ ch: 'news', epoch: E, off: 1 })).toBe('ignore');
    t.subscribed({ ch: 'news', epoch: E, offset: 0, recovered: true });
    expect(t.event({ ch: 'news', epoch: E, off: 1 })).toBe('deliver');
    expect(t.event({ ch: 'news', epoch: E, off: 1 })).toBe('duplicate');
    expect(t.event({ ch: 'other', epoch: E, off: 1 })).toBe('ignore');
    expect(t.positions()).toEqual({ news: { epoch: E, offset: 1 } });
  });

  it('a gap: resync sends unsub + sub from the last delivered offset; nothing is delivered until subscribed', () => {
    const t = liveTable('news', 0);
    t.event({ ch: 'news', epoch: E, off: 1 });
    expect(t.event({ ch: 'news', epoch: E, off: 3 })).toBe('gap');
    expect(t.resync('news')).toEqual([
      { t: 'unsub', ch: 'news' },
      { t: 'sub', ch: 'news', from: { epoch: E, offset: 1 } },
    ]);
    expect(t.state('news')).toBe('subscribing');
    expect(t.event({ ch: 'news', epoch: E, off: 4 })).toBe('ignore');
    t.unsubscribed('news'); // the answer to the re-sync's unsub changes nothing
    expect(t.state('news')).toBe('subscribing');
    t.subscribed({ ch: 'news', epoch: E, offset: 1, recovered: true });
    expect(t.event({ ch: 'news', epoch: E, off: 2 })).toBe('deliver');
    expect(new ChannelTable().resync('news')).toEqual([]);
  });

  it('an error about a sub in flight: FORBIDDEN and LIMIT drop the channel; anything else leaves it wanted', () => {
    const t = new ChannelTable();
    for (const ch of ['a', 'b', 'c']) t.subscribe(ch, undefined, true);
    t.refused('a', 'FORBIDDEN');
    t.refused('b', 'LIMIT');
    t.refused('c', 'UNAVAILABLE');
    expect(t.wanted()).toEqual(['c']);
    expect(t.state('c')).toBe('wanted');
    // Only a sub in flight is affected: a live channel stays.
    const live = liveTable();
    live.refused('news', 'FORBIDDEN');
    expect(live.state('news')).toBe('live');
  });
});

describe('what the hello presents', () => {
  it('wanted channels with a position, at most the limit; none: undefined', () => {
    const t = new ChannelTable();
    expect(t.hello(10)).toBeUndefined();
    t.subscribe('a', { epoch: E, offset: 1 }, false);
    t.subscribe('b', undefined, false);
    t.subscribe('c', { epoch: E, offset: 3 }, false);
    t.subscribe('d', { epoch: E, offset: 4 }, false);
    expect(t.hello(2)).toEqual({ a: { epoch: E, offset: 1 }, c: { epoch: E, offset: 3 } });
  });

  it('positions are copies', () => {
    const t = new ChannelTable();
    t.subscribe('a', { epoch: E, offset: 1 }, false);
    (t.positions() as Record<string, { offset: number }>).a!.offset = 99;
    expect(t.positions()).toEqual({ a: { epoch: E, offset: 1 } });
  });
});

describe('presence', () => {
  it('every sub of a presence channel carries what the application asked for (a resync too)', () => {
    const t = new ChannelTable();
    const presence = { info: { name: 'Ada' }, events: true };
    expect(t.subscribe('room', undefined, true, presence)).toEqual([{ t: 'sub', ch: 'room', presence }]);
    t.subscribed({ ch: 'room', epoch: E, offset: 3, recovered: true });
    expect(t.resync('room')).toEqual([{ t: 'unsub', ch: 'room' }, { t: 'sub', ch: 'room', from: { epoch: E, offset: 3 }, presence }]);
  });

  it('hello leaves out a presence channel the server may not hold (a sub in flight): restored from a position alone it would be no membership', () => {
    const t = new ChannelTable();
    t.subscribe('held', { epoch: E, offset: 1 }, true, {});
    t.subscribed({ ch: 'held', epoch: E, offset: 1, recovered: true });
    t.subscribe('inflight', { epoch: E, offset: 2 }, true, { events: true });
    t.subscribe('plain', { epoch: E, offset: 3 }, true);
    t.disconnected();
    expect(t.hello(1000)).toEqual({ held: { epoch: E, offset: 1 }, plain: { epoch: E, offset: 3 } });
    expect(Object.keys(t.positions()).sort()).toEqual(['held', 'inflight', 'plain']);
    // Resumed: what the server may not hold is subscribed at once, the presence channel with its presence (had the
    // server restored it from the hello without it, this sub would only have been answered "already subscribed").
    expect(t.welcome(true)).toEqual([
      { t: 'sub', ch: 'inflight', from: { epoch: E, offset: 2 }, presence: { events: true } },
      { t: 'sub', ch: 'plain', from: { epoch: E, offset: 3 } },
    ]);
  });
});
