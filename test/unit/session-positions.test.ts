import { describe, expect, it } from 'vitest';
import { ChannelCursor } from '../../src/client/positions.js';

const ev = (off: number, epoch = 'E') => ({ epoch, off });

describe('ChannelCursor: exactly once, in order', () => {
  it('ignores everything until a subscription is confirmed, and again after suspend()', () => {
    const c = new ChannelCursor();
    expect(c.event(ev(1))).toBe('ignore');
    c.subscribed({ epoch: 'E', offset: 0, recovered: true });
    expect(c.event(ev(1))).toBe('deliver');
    c.suspend();
    expect(c.event(ev(2))).toBe('ignore');
    expect(c.position).toEqual({ epoch: 'E', offset: 1 });
  });

  it('delivers the next offset, drops repeats, and reports a skipped offset as a gap without moving', () => {
    const c = new ChannelCursor();
    c.subscribed({ epoch: 'E', offset: 4, recovered: true });
    expect(c.position).toEqual({ epoch: 'E', offset: 4 });
    expect(c.event(ev(5))).toBe('deliver');
    expect(c.event(ev(5))).toBe('duplicate');
    expect(c.event(ev(3))).toBe('duplicate');
    expect(c.event(ev(7))).toBe('gap');
    expect(c.position).toEqual({ epoch: 'E', offset: 5 });
    expect(c.event(ev(6))).toBe('deliver');
    expect(c.event(ev(7))).toBe('deliver');
  });

  it('a message from another epoch under a live subscription is a gap (re-sync), never delivered', () => {
    const c = new ChannelCursor();
    c.subscribed({ epoch: 'E', offset: 0, recovered: true });
    expect(c.event(ev(1, 'F'))).toBe('gap');
    expect(c.position).toEqual({ epoch: 'E', offset: 0 });
  });

  it('keeps its own position across a re-subscribe in the same epoch, so replayed repeats are dropped', () => {
    const c = new ChannelCursor();
    c.subscribed({ epoch: 'E', offset: 0, recovered: true });
    for (let i = 1; i <= 3; i++) c.event(ev(i));
    c.suspend();
    expect(c.subscribed({ epoch: 'E', offset: 1, recovered: true })).toEqual({ lost: false, epochChanged: false });
    expect(c.event(ev(2))).toBe('duplicate');
    expect(c.event(ev(3))).toBe('duplicate');
    expect(c.event(ev(4))).toBe('deliver');
  });

  it('after recovered: false in the same epoch (trimmed history) accepts one jump, then is strict again', () => {
    const c = new ChannelCursor({ epoch: 'E', offset: 3 });
    expect(c.subscribed({ epoch: 'E', offset: 3, recovered: false })).toEqual({ lost: true, epochChanged: false });
    expect(c.event(ev(19))).toBe('deliver');
    expect(c.event(ev(21))).toBe('gap');
    expect(c.event(ev(20))).toBe('deliver');
  });

  it('a subscription that resumes past its position is a loss even if the server says recovered', () => {
    const c = new ChannelCursor({ epoch: 'E', offset: 3 });
    expect(c.subscribed({ epoch: 'E', offset: 9, recovered: true })).toEqual({ lost: true, epochChanged: false });
    expect(c.position).toEqual({ epoch: 'E', offset: 9 });
    expect(c.event(ev(10))).toBe('deliver');
  });

  it('adopts a new epoch with its offset; reports the loss; first subscribe is not a loss', () => {
    const fresh = new ChannelCursor();
    expect(fresh.subscribed({ epoch: 'E', offset: 42, recovered: true })).toEqual({ lost: false, epochChanged: false });
    const c = new ChannelCursor({ epoch: 'OLD', offset: 100 });
    expect(c.subscribed({ epoch: 'NEW', offset: 2, recovered: false })).toEqual({ lost: true, epochChanged: true });
    expect(c.position).toEqual({ epoch: 'NEW', offset: 2 });
    expect(c.event(ev(3, 'NEW'))).toBe('deliver');
  });

  it('does not share the position object it was given or hands out', () => {
    const from = { epoch: 'E', offset: 1 };
    const c = new ChannelCursor(from);
    c.subscribed({ epoch: 'E', offset: 1, recovered: true });
    c.event(ev(2));
    expect(from).toEqual({ epoch: 'E', offset: 1 });
  });
});

describe('a channel that was unwritten when subscribed', () => {
  it('takes the first message of its first epoch as the next one, and reports no epoch change', () => {
    const cursor = new ChannelCursor();
    expect(cursor.subscribed({ epoch: '~0123456789abcdef', offset: 0, recovered: true })).toEqual({ lost: false, epochChanged: false });
    expect(cursor.event({ epoch: 'fedcba9876543210', off: 1 })).toBe('deliver');
    expect(cursor.position).toEqual({ epoch: 'fedcba9876543210', offset: 1 });
    expect(cursor.event({ epoch: 'fedcba9876543210', off: 2 })).toBe('deliver');
    // From a real epoch another epoch is still a gap; from an unwritten one only offset 1 continues.
    expect(cursor.event({ epoch: 'another', off: 3 })).toBe('gap');
    const fresh = new ChannelCursor();
    fresh.subscribed({ epoch: '~0123456789abcdef', offset: 0, recovered: true });
    expect(fresh.event({ epoch: 'fedcba9876543210', off: 2 })).toBe('gap');
    const resumed = new ChannelCursor({ epoch: '~0123456789abcdef', offset: 0 });
    expect(resumed.subscribed({ epoch: 'fedcba9876543210', offset: 0, recovered: true })).toEqual({ lost: false, epochChanged: false });
  });
});
