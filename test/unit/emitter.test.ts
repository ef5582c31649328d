/** The one event emitter (client, server and dashboard): its promises about unsubscribing and throwing listeners. */
import { describe, expect, it, vi } from 'vitest';
import { Emitter } from '../../src/util/emitter.js';

interface Events {
  tick: number;
  error: Error;
}

describe('Emitter', () => {
  it('delivers in subscription order until the returned function unsubscribes (twice is harmless)', () => {
    const e = new Emitter<Events>();
    const seen: string[] = [];
    const offA = e.on('tick', (n) => seen.push(`a${n}`));
    e.on('tick', (n) => seen.push(`b${n}`));
    e.emit('tick', 1);
    offA();
    offA();
    e.emit('tick', 2);
    expect(seen).toEqual(['a1', 'b1', 'b2']);
    expect(e.has('tick')).toBe(true);
    expect(e.has('error')).toBe(false);
  });

  it('the same function subscribed twice is two subscriptions, each removed by its own unsubscribe', () => {
    const e = new Emitter<Events>();
    const listener = vi.fn();
    const off1 = e.on('tick', listener);
    e.on('tick', listener);
    e.emit('tick', 1);
    off1();
    e.emit('tick', 2);
    expect(listener.mock.calls).toEqual([[1], [1], [2]]);
  });

  it('skips a listener removed during an emit; one added during an emit waits for the next', () => {
    const e = new Emitter<Events>();
    const seen: string[] = [];
    let offB = (): void => {};
    e.on('tick', () => {
      seen.push('a');
      offB();
      e.on('tick', () => seen.push('late'));
    });
    offB = e.on('tick', () => seen.push('b'));
    e.emit('tick', 1);
    expect(seen).toEqual(['a']);
    e.emit('tick', 2);
    expect(seen).toEqual(['a', 'a', 'late']);
  });

  it('a throwing listener goes to the hook with its event; the others still run and emit does not throw', () => {
    const failures: [unknown, string][] = [];
    const e = new Emitter<Events>((error, event) => failures.push([error, event]));
    const after = vi.fn();
    const boom = new Error('boom');
    e.on('tick', () => {
      throw boom;
    });
    e.on('tick', after);
    expect(() => e.emit('tick', 1)).not.toThrow();
    expect(after).toHaveBeenCalledWith(1);
    expect(failures).toEqual([[boom, 'tick']]);
  });

  it('refuses a listener that is not a function', () => {
    expect(() => new Emitter<Events>().on('tick', 42 as never)).toThrow(TypeError);
  });
});
