import { describe, expect, it } from 'vitest';
import { drainOffsets } from '../../src/server/core/drain.js';

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('drain schedule', () => {
  it('puts one close in each slot of the window, in random order', () => {
    const offsets = drainOffsets(10, 1000, seeded(1));
    expect(offsets).toHaveLength(10);
    const sorted = [...offsets].sort((a, b) => a - b);
    sorted.forEach((o, i) => {
      expect(o).toBeGreaterThanOrEqual(i * 100);
      expect(o).toBeLessThan((i + 1) * 100);
    });
    expect(offsets).not.toEqual(sorted); // the order of connections is shuffled
  });

  it('never closes everyone in the same 50 ms even with a worst-case random source', () => {
    const zero = drainOffsets(20, 2000, () => 0);
    const buckets = new Set(zero.map((o) => Math.floor(o / 50)));
    expect(buckets.size).toBe(20);
  });

  it('handles empty and zero-length windows', () => {
    expect(drainOffsets(0, 1000)).toEqual([]);
    expect(drainOffsets(3, 0)).toEqual([0, 0, 0]);
  });
});
