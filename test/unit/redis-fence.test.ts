/**
 * The rollback fence's memory (issue 16), alone: what it gives the scripts, that it never goes back
 * within an epoch, that it is bounded (least recently seen forgotten first, each eviction reported),
 * and that rotations reach the listeners. The scripts' side runs against real Redis in
 * test/integration/redis-durability.test.ts and redis-failover.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { RollbackFence } from '../../src/store/redis/fence.js';
import { resolveRedisSettings } from '../../src/store/redis/options.js';
import type { StoreRollback } from '../../src/store/types.js';

describe('RollbackFence', () => {
  it('gives the scripts the highest offset seen in the current epoch, never a lower one', () => {
    const fence = new RollbackFence(10, () => {});
    expect(fence.args('a')).toEqual(['', '0']);
    fence.observe('a', 'e1', 5);
    fence.observe('a', 'e1', 3); // a late or stale sighting does not lower what was seen
    expect(fence.args('a')).toEqual(['e1', '5']);
    fence.observe('a', 'e2', 1); // another epoch replaces it
    expect(fence.args('a')).toEqual(['e2', '1']);
  });

  it('is bounded: past its capacity the channel seen least recently is forgotten, and reported', () => {
    const evicted: string[] = [];
    const fence = new RollbackFence(3, (channel) => evicted.push(channel));
    fence.observe('a', 'e', 1);
    fence.observe('b', 'e', 1);
    fence.observe('c', 'e', 1);
    fence.observe('a', 'e', 2); // a seen again: b is now the oldest
    for (let i = 0; i < 1000; i++) fence.observe(`hostile${i}`, 'e', 1);
    expect(fence.stats()).toEqual({ rollbacks: 0, evicted: 1000, channels: 3 });
    expect(evicted.slice(0, 3)).toEqual(['b', 'c', 'a']);
    expect(fence.args('b')).toEqual(['', '0']);
  });

  it('reports a rotation to every listener, with what was seen and found, and starts the new epoch at 0', () => {
    const fence = new RollbackFence(10, () => {});
    const got: StoreRollback[] = [];
    fence.onRollback(() => {
      throw new Error('a listener that throws');
    });
    const off = fence.onRollback((r) => got.push(r));
    fence.observe('ch', 'old', 6);
    fence.rotated('ch', 'old', 3, 'new');
    expect(got).toEqual([{ channel: 'ch', epoch: 'old', seen: 6, found: 3, newEpoch: 'new' }]);
    expect(fence.args('ch')).toEqual(['new', '0']);
    off();
    fence.rotated('ch', 'new', 0, 'newer');
    expect(got).toHaveLength(1);
    expect(fence.stats().rollbacks).toBe(2);
  });
});

describe('durability options', () => {
  const url = 'redis://127.0.0.1:1';
  it('default to primary, 1 replica, 1000 ms', () => {
    expect(resolveRedisSettings({ url })).toMatchObject({ durability: 'primary', replicas: 1, replicationTimeoutMs: 1000 });
  });
  it('are checked: a known mode, a whole number of replicas >= 1, a timeout within commandTimeoutMs', () => {
    expect(resolveRedisSettings({ url, durability: 'replicas-aof', replicas: 2, replicationTimeoutMs: 250.5 })).toMatchObject({ durability: 'replicas-aof', replicas: 2, replicationTimeoutMs: 251 });
    expect(() => resolveRedisSettings({ url, durability: 'quorum' as never })).toThrow(RangeError);
    expect(() => resolveRedisSettings({ url, replicas: 0 })).toThrow(/replicas must be an integer >= 1/);
    expect(() => resolveRedisSettings({ url, replicas: 2.5 })).toThrow(RangeError);
    expect(() => resolveRedisSettings({ url, replicationTimeoutMs: -1 })).toThrow(RangeError);
    expect(() => resolveRedisSettings({ url, replicationTimeoutMs: Number.NaN })).toThrow(RangeError);
    expect(() => resolveRedisSettings({ url, durability: 'replicas', replicationTimeoutMs: 6000 })).toThrow(/less than commandTimeoutMs \(5000\)/);
    // Primary never waits for replicas: a short commandTimeoutMs is fine, and the default follows it.
    expect(resolveRedisSettings({ url, commandTimeoutMs: 1000 })).toMatchObject({ replicationTimeoutMs: 500 });
    expect(resolveRedisSettings({ url, durability: 'replicas', commandTimeoutMs: 600 })).toMatchObject({ replicationTimeoutMs: 300 });
  });
});
