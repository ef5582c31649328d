import { describe, expect, it } from 'vitest';
import {
  DEFAULT_BACKOFF,
  backoffCeiling,
  backoffDelay,
  clampWindow,
  uniformDelay,
} from '../../src/client/backoff.js';

const fixed = (value: number) => () => value;
const JUST_BELOW_ONE = 1 - 1e-12;

describe('client backoff math', () => {
  it('draws uniformly inside a window', () => {
    const w = { minMs: 1000, maxMs: 5000 };
    expect(uniformDelay(w, fixed(0))).toBe(1000);
    expect(uniformDelay(w, fixed(0.5))).toBe(3000);
    const top = uniformDelay(w, fixed(JUST_BELOW_ONE));
    expect(top).toBeLessThan(5000);
    expect(top).toBeGreaterThan(4999.99);
  });

  it('clamps a window into limits, keeping it ordered', () => {
    const limits = { minMs: 1000, maxMs: 10_000 };
    expect(clampWindow({ minMs: 0, maxMs: 600_000 }, limits)).toEqual({ minMs: 1000, maxMs: 10_000 });
    expect(clampWindow({ minMs: 100, maxMs: 200 }, limits)).toEqual({ minMs: 1000, maxMs: 1000 });
    expect(clampWindow({ minMs: 20_000, maxMs: 30_000 }, limits)).toEqual({ minMs: 10_000, maxMs: 10_000 });
    expect(clampWindow({ minMs: 2000, maxMs: 4000 }, limits)).toEqual({ minMs: 2000, maxMs: 4000 });
  });

  it('grows the ceiling exponentially up to the cap', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoffCeiling(n))).toEqual([500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
    expect(backoffCeiling(0)).toBe(500); // attempts below 1 count as 1
    expect(backoffCeiling(1e6)).toBe(30_000); // overflow is just the cap, never NaN
    expect(backoffCeiling(1e6, { baseMs: 0, factor: 2, capMs: 30_000 })).toBe(0);
  });

  it('applies full jitter per attempt: [0, ceiling)', () => {
    for (let n = 1; n <= 10; n++) {
      const ceiling = Math.min(30_000, 500 * 2 ** (n - 1));
      expect(backoffDelay(n, DEFAULT_BACKOFF, fixed(0))).toBe(0);
      const top = backoffDelay(n, DEFAULT_BACKOFF, fixed(JUST_BELOW_ONE));
      expect(top).toBeLessThan(ceiling);
      expect(top).toBeGreaterThan(ceiling * 0.999);
    }
  });

  it('tolerates a broken random source without producing NaN, negative or out-of-range delays', () => {
    for (const bad of [Number.NaN, -1, 1, 5, Infinity]) {
      const d = backoffDelay(3, DEFAULT_BACKOFF, fixed(bad));
      expect(Number.isFinite(d)).toBe(true);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThan(2000);
    }
  });
});
