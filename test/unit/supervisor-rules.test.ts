/**
 * The rules of `lifeline serve`'s supervisor that need no process: what a drain request asks (and what
 * one from a primary of an earlier version meant), and a restart's drain window counted from its signal.
 * The processes themselves: test/integration/supervisor.test.ts and zero-dark.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { drainRequestOf, handoverWindowMs } from '../../src/cli/workers.js';

describe('the supervisor rules', () => {
  it('a drain request: a successor ready stops listening and says "now"; a cold one keeps listening', () => {
    expect(drainRequestOf({ cmd: 'lifeline:drain', successorReady: true, requestedAt: 5 })).toEqual({ stopListening: true, successorReady: true, requestedAt: 5 });
    expect(drainRequestOf({ cmd: 'lifeline:drain', successorReady: false })).toEqual({ stopListening: false, successorReady: false });
    // An earlier primary's rolling drain: stop listening, the configured hint.
    expect(drainRequestOf({ cmd: 'lifeline:drain' })).toEqual({ stopListening: true, successorReady: false });
    for (const other of [null, 'lifeline:drain', { cmd: 'lifeline:ready' }, { successorReady: true }]) expect(drainRequestOf(other)).toBeUndefined();
  });

  it("a restart's window counts from its signal, never below half the window", () => {
    expect(handoverWindowMs(5000, undefined, 1000)).toBe(5000);
    expect(handoverWindowMs(5000, 1000, 1400)).toBe(4600); // the successor took 400 ms to be ready
    expect(handoverWindowMs(5000, 1000, 9000)).toBe(2500); // a very slow start: half the window still
    expect(handoverWindowMs(5000, 1000, 900)).toBe(5000); // clocks a little apart: nothing taken out
  });
});
