/**
 * The store conformance suite, run against every engine in this package.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LifelineError } from '../../src/errors.js';
import { createMemoryStore, StoreError, StoreUnavailableError, type Store } from '../../src/store/index.js';
import { createSqliteStore } from '../../src/store/sqlite/index.js';
import { storeConformance } from '../../src/testing/index.js';

const test = { describe, it, expect, afterEach };

storeConformance({
  name: 'memory',
  open: (opts) => createMemoryStore(opts),
  reopen: (_previous, opts) => createMemoryStore(opts),
  test,
  presence: true,
});

describe('sqlite engine', () => {
  let dir: string;
  let files = 0;
  const paths = new WeakMap<Store, string>();

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lifeline-sqlite-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  storeConformance({
    name: 'sqlite',
    open: (opts) => {
      const path = join(dir, `store-${++files}.db`);
      const store = createSqliteStore({ ...opts, path });
      paths.set(store, path);
      return store;
    },
    reopen: (previous, opts) => {
      const path = paths.get(previous)!;
      const store = createSqliteStore({ ...opts, path });
      paths.set(store, path);
      return store;
    },
    test,
    presence: true,
  });
});

describe('store errors', () => {
  it('carry stable codes and their cause', () => {
    const cause = new Error('disk on fire');
    const unavailable = new StoreUnavailableError('gone', { cause });
    expect(unavailable.code).toBe('LIFELINE_ERR_STORE_UNAVAILABLE');
    expect(unavailable.name).toBe('StoreUnavailableError');
    expect(unavailable.cause).toBe(cause);
    expect(unavailable).toBeInstanceOf(StoreError);
    expect(unavailable).toBeInstanceOf(LifelineError);
    const failed = new StoreError('refused');
    expect(failed.code).toBe('LIFELINE_ERR_STORE');
    expect(failed.name).toBe('StoreError');
    expect(failed).not.toBeInstanceOf(StoreUnavailableError);
  });
});

describe('store options', () => {
  it('are validated on entry, synchronously', () => {
    expect(() => createMemoryStore({ history: { maxCount: -1 } })).toThrow(RangeError);
    expect(() => createMemoryStore({ history: { maxCount: 1.5 } })).toThrow(RangeError);
    expect(() => createMemoryStore({ history: { maxAgeMs: Number.NaN } })).toThrow(RangeError);
    expect(() => createMemoryStore({ dedupeTtlMs: -5 })).toThrow(RangeError);
    expect(() => createMemoryStore({ now: 5 as unknown as () => number })).toThrow(TypeError);
    expect(() => createSqliteStore({ path: '' })).toThrow(TypeError);
    expect(() => createSqliteStore({ path: ':memory:', synchronous: 'sometimes' as 'full' })).toThrow(RangeError);
    expect(createMemoryStore({ history: { maxCount: Infinity, maxAgeMs: Infinity } }).kind).toBe('memory');
  });
});
