/**
 * The store conformance suite: the behaviour every engine of the {@link Store} contract must show, pinned
 * against an injected clock (no sleeping). lifeline runs it on its own engines (memory, sqlite, redis);
 * run it on yours to prove it can stand in for them:
 *
 * ```ts
 * import { afterEach, describe, expect, it } from 'vitest';
 * import { storeConformance } from 'lifeline/testing';
 *
 * storeConformance({
 *   name: 'my-engine',
 *   open: (options) => createMyStore(options),
 *   reopen: (previous, options) => createMyStore({ ...options, file: fileOf(previous) }),
 *   test: { describe, it, expect, afterEach },
 * });
 * ```
 *
 * The test runner's functions are passed in, not imported, so lifeline depends on no test runner:
 * vitest's and jest's fit as they are.
 * @packageDocumentation
 */
import { LifelineError } from '../errors.js';
import { isUnwrittenEpoch } from '../protocol/frames.js';
import { IdempotencyConflictError, IdempotencyWindowError, StoreError, StoreUnavailableError } from '../store/errors.js';
import type { ChannelPosition, JsonValue, SessionRecord, Store, StoreOptions } from '../store/types.js';
import { presenceConformance } from './presence-conformance.js';

/** What the suite passes to an engine factory: the options under test plus the test's clock. */
export type ConformanceOptions = StoreOptions & { now: () => number };

/** Open a fresh, empty store for one test, with the given options. */
export type OpenStore = (options: ConformanceOptions) => Promise<Store> | Store;

/**
 * Open a new instance on the data of `previous`, as a restarted process would. Called after
 * `previous` has been closed. For a non-durable engine this is simply a new, empty store.
 */
export type ReopenStore = (previous: Store, options: ConformanceOptions) => Promise<Store> | Store;

/** A class, for `toBeInstanceOf`. */
export type ErrorClass = abstract new (...args: never[]) => unknown;

/** The assertions the suite makes on a value: a part of what vitest's and jest's `expect(value)` return. */
export interface ConformanceAssertion {
  toBe(expected: unknown): void;
  toEqual(expected: unknown): void;
  toStrictEqual(expected: unknown): void;
  toMatchObject(expected: object): void;
  toHaveLength(length: number): void;
  toBeInstanceOf(expected: ErrorClass): void;
  toBeUndefined(): void;
  toBeDefined(): void;
  toBeGreaterThan(expected: number): void;
  toBeLessThanOrEqual(expected: number): void;
  /** The same assertions, negated. */
  readonly not: ConformanceAssertion;
  /** The assertions on what a promise resolves to. */
  readonly resolves: { toBeUndefined(): Promise<void> };
  /** The assertions on what a promise rejects with. */
  readonly rejects: { toBeInstanceOf(expected: ErrorClass): Promise<void> };
}

/** The test runner's functions the suite registers its tests with (vitest's or jest's fit). */
export interface ConformanceTestApi {
  /** Group tests. */
  describe(name: string, body: () => void): void;
  /** Register one test; `timeout` in ms. */
  it(name: string, body: () => Promise<void>, timeout?: number): void;
  /** Make an assertion on a value. */
  expect(actual: unknown): ConformanceAssertion;
  /** Run cleanup after each test of the enclosing group. */
  afterEach(body: () => Promise<void> | void): void;
}

/** What {@link storeConformance} needs to know about an engine. */
export interface StoreConformanceOptions {
  /** The engine's name, shown in test titles. */
  readonly name: string;
  /** Opens a fresh, empty store with the given options (history bounds, dedupe TTL, the test's clock...). */
  readonly open: OpenStore;
  /** Opens a new instance on the data of a closed one; enables the restart tests. */
  readonly reopen?: ReopenStore;
  /** The test runner's `describe`, `it`, `expect` and `afterEach`. */
  readonly test: ConformanceTestApi;
  /**
   * A bound on each test, in ms, passed to `it` (a networked engine may need more than a runner's
   * default: one test reads ten thousand channels). @default the runner's own
   */
  readonly timeoutMs?: number;
  /**
   * Whether the engine keeps presence ({@link Store.presence}): the presence tests run when true; when
   * false the suite checks that `store.presence` is undefined (a server then refuses presence). @default false
   */
  readonly presence?: boolean;
}

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;
const T0 = 1_700_000_000_000;

/** A clock the test moves by hand. */
class Clock {
  t = T0;
  readonly now = (): number => this.t;
  advance(ms: number): number {
    this.t += ms;
    return this.t;
  }
}

function session(id: string, expiresAt: number, extra: Partial<SessionRecord> = {}): SessionRecord {
  return { id, tokenHash: `hash-of-${id}`, channels: ['a', 'b'], expiresAt, ...extra };
}

/**
 * Register the conformance suite for one engine: about a hundred tests under
 * `store conformance: <name>`, each on a fresh store it closes afterwards.
 * @param options - the engine (how to open and reopen it) and the test runner's functions
 */
export function storeConformance(options: StoreConformanceOptions): void {
  const { describe, expect, afterEach } = options.test;
  const it = (name: string, body: () => Promise<void>): void => options.test.it(name, body, options.timeoutMs);

  async function expectUnavailable(promise: Promise<unknown>): Promise<void> {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect(error).toBeInstanceOf(StoreError);
    expect(error).toBeInstanceOf(LifelineError);
    expect((error as LifelineError).code).toBe('LIFELINE_ERR_STORE_UNAVAILABLE');
  }

  describe(`store conformance: ${options.name}`, () => {
    const open = new Set<Store>();
    let clock = new Clock();

    /** Open a store with the test's clock; closed after the test. */
    async function fresh(storeOptions: StoreOptions = {}): Promise<Store> {
      const store = await options.open({ ...storeOptions, now: clock.now });
      open.add(store);
      return store;
    }

    afterEach(async () => {
      for (const store of open) await store.close();
      open.clear();
      clock = new Clock();
    });

    /** Read everything retained after `from` in one call. */
    async function readAll(store: Store, channel: string, from: ChannelPosition) {
      return store.read(channel, from, 1_000_000);
    }
    async function offsets(store: Store, channel: string): Promise<number[]> {
      const head = await store.head(channel);
      const result = await readAll(store, channel, { epoch: head.epoch, offset: 0 });
      return result.messages.map((m) => m.offset);
    }

    describe('identity', () => {
      it('names its kind and says whether it is durable', async () => {
        const store = await fresh();
        expect(typeof store.kind).toBe('string');
        expect(store.kind.length).toBeGreaterThan(0);
        expect(typeof store.durable).toBe('boolean');
      });
    });

    describe('append', () => {
      it('gives offsets 1, 2, 3... in one epoch, matching the head', async () => {
        const store = await fresh();
        const results = [];
        for (let i = 0; i < 5; i++) results.push(await store.append('a', i));
        expect(results.map((r) => r.message.offset)).toEqual([1, 2, 3, 4, 5]);
        expect(results.every((r) => !r.duplicate)).toBe(true);
        const head = await store.head('a');
        expect(head.offset).toBe(5);
        expect(new Set(results.map((r) => r.message.epoch))).toEqual(new Set([head.epoch]));
        expect(results.every((r) => r.message.channel === 'a')).toBe(true);
      });

      it('keeps channels independent', async () => {
        const store = await fresh();
        await store.append('a', 'a1');
        await store.append('a', 'a2');
        const b1 = await store.append('b', 'b1');
        await store.append('a', 'a3');
        expect(b1.message.offset).toBe(1);
        expect((await store.head('a')).offset).toBe(3);
        expect((await store.head('b')).offset).toBe(1);
        const b = await store.read('b', { epoch: b1.message.epoch, offset: 0 }, 10);
        expect(b.messages.map((m) => m.data)).toEqual(['b1']);
      });

      it('accepts any non-empty channel name', async () => {
        const store = await fresh();
        const names = ['room:1', 'with space', 'ünïcödé/频道/🎉', 'a'.repeat(300), "quote'\"--;"];
        for (const n of names) await store.append(n, n);
        for (const n of names) {
          const head = await store.head(n);
          expect(head.offset).toBe(1);
          const read = await store.read(n, { epoch: head.epoch, offset: 0 }, 10);
          expect(read.messages.map((m) => [m.channel, m.data])).toEqual([[n, n]]);
        }
      });

      const values: [string, JsonValue][] = [
        ['null', null],
        ['true', true],
        ['false', false],
        ['zero', 0],
        ['a negative float', -12.375],
        ['a large number', 1.7976931348623157e308],
        ['the largest safe integer', Number.MAX_SAFE_INTEGER],
        ['an empty string', ''],
        ['unicode', 'héllo 世界 🎉 \u202e ٱلسلام'],
        ['control characters and a lone surrogate', 'nul:\u0000 tab:\t newline:\n bell:\u0007 lone:\ud800'],
        ['an empty array', []],
        ['an empty object', {}],
        ['a nested object', { a: [1, { b: null, c: [true, 'x'] }], 'ключ': { '': 'empty key' }, n: -0.5 }],
        ['a deep nest', JSON.parse('['.repeat(60) + '1' + ']'.repeat(60)) as JsonValue],
        ['a large string', 'x'.repeat(256 * 1024)],
      ];
      for (const [label, value] of values) {
        it(`round-trips ${label}`, async () => {
          const store = await fresh();
          const { message } = await store.append('data', value);
          expect(message.data).toEqual(value);
          const read = await store.read('data', { epoch: message.epoch, offset: 0 }, 10);
          expect(read.messages).toHaveLength(1);
          expect(read.messages[0]!.data).toStrictEqual(value);
        });
      }

      it('shares no objects with the caller', async () => {
        const store = await fresh();
        const data = { list: [1, 2], inner: { v: 'before' } };
        const { message } = await store.append('a', data);
        data.list.push(3);
        data.inner.v = 'after';
        (message.data as { list: number[] }).list.push(99);
        const first = await store.read('a', { epoch: message.epoch, offset: 0 }, 10);
        expect(first.messages[0]!.data).toEqual({ list: [1, 2], inner: { v: 'before' } });
        (first.messages[0]!.data as { list: number[] }).list.push(100);
        const second = await store.read('a', { epoch: message.epoch, offset: 0 }, 10);
        expect(second.messages[0]!.data).toEqual({ list: [1, 2], inner: { v: 'before' } });
      });

      it('records the time from the injected clock', async () => {
        const store = await fresh();
        const m1 = await store.append('a', 1);
        const t2 = clock.advance(1234);
        const m2 = await store.append('a', 2);
        expect(m1.message.time).toBe(T0);
        expect(m2.message.time).toBe(t2);
        const read = await store.read('a', { epoch: m1.message.epoch, offset: 0 }, 10);
        expect(read.messages.map((m) => m.time)).toEqual([T0, t2]);
      });

      it('rejects bad arguments with TypeError or RangeError, storing nothing', async () => {
        const store = await fresh();
        await expect(store.append('', 1)).rejects.toBeInstanceOf(TypeError);
        await expect(store.append(42 as unknown as string, 1)).rejects.toBeInstanceOf(TypeError);
        await expect(store.append('a', undefined as unknown as JsonValue)).rejects.toBeInstanceOf(TypeError);
        await expect(store.append('a', 1, { idempotencyKey: '' })).rejects.toBeInstanceOf(TypeError);
        await expect(store.read('a', undefined, -1)).rejects.toBeInstanceOf(RangeError);
        await expect(store.read('a', undefined, 1.5)).rejects.toBeInstanceOf(RangeError);
        const head = await store.head('a');
        await expect(store.read('a', { epoch: head.epoch, offset: -1 }, 10)).rejects.toBeInstanceOf(RangeError);
        await expect(store.claimMessage('s', 1.5)).rejects.toBeInstanceOf(RangeError);
        await expect(store.finishMessage('s', 1, { state: 'exploded' } as never)).rejects.toBeInstanceOf(TypeError);
        await expect(store.saveSession({ id: 's' } as SessionRecord)).rejects.toBeInstanceOf(TypeError);
        expect(head.offset).toBe(0);
        expect((await store.head('a')).offset).toBe(0);
        expect(await store.loadSession('s')).toBeUndefined();
      });
    });

    describe('idempotency keys', () => {
      it('store a message once: the second append returns the first message as a duplicate', async () => {
        const store = await fresh();
        const first = await store.append('a', { n: 1 }, { idempotencyKey: 'k1' });
        clock.advance(10);
        const second = await store.append('a', { n: 1 }, { idempotencyKey: 'k1' });
        expect(first.duplicate).toBe(false);
        expect(second.duplicate).toBe(true);
        expect(second.message).toEqual(first.message);
        expect(second.message.data).toEqual({ n: 1 });
        expect(await offsets(store, 'a')).toEqual([1]);
        expect((await store.head('a')).offset).toBe(1);
      });

      it('reused for other data or another channel is a conflict, storing nothing', async () => {
        const store = await fresh();
        const first = await store.append('a', { n: 1 }, { idempotencyKey: 'k1' });
        const other = await store.append('a', { n: 2 }, { idempotencyKey: 'k1' }).catch((e: unknown) => e);
        expect(other).toBeInstanceOf(IdempotencyConflictError);
        expect((other as IdempotencyConflictError).code).toBe('LIFELINE_ERR_IDEMPOTENCY_CONFLICT');
        expect((other as IdempotencyConflictError).original).toEqual({ channel: 'a', epoch: first.message.epoch, offset: 1 });
        expect(other).not.toBeInstanceOf(StoreError);
        await expect(store.append('b', { n: 1 }, { idempotencyKey: 'k1' })).rejects.toBeInstanceOf(IdempotencyConflictError);
        expect(await offsets(store, 'a')).toEqual([1]);
        expect((await store.head('b')).offset).toBe(0);
      });

      it('compare data as JSON values: keys in another order are the same data, a reordered array is not', async () => {
        const store = await fresh();
        const first = await store.append('a', { a: 1, b: { c: [1, 2], d: 'x' } }, { idempotencyKey: 'k1' });
        const retry = await store.append('a', { b: { d: 'x', c: [1, 2] }, a: 1 }, { idempotencyKey: 'k1' });
        expect(retry.duplicate).toBe(true);
        expect(retry.message).toEqual(first.message);
        await expect(store.append('a', { a: 1, b: { c: [2, 1], d: 'x' } }, { idempotencyKey: 'k1' })).rejects.toBeInstanceOf(IdempotencyConflictError);
        await expect(store.append('a', { a: 1, b: { c: [1, 2] } }, { idempotencyKey: 'k1' })).rejects.toBeInstanceOf(IdempotencyConflictError);
        await expect(store.append('a', { a: 1, b: { c: [1, 2], d: 'x' }, e: null }, { idempotencyKey: 'k1' })).rejects.toBeInstanceOf(IdempotencyConflictError);
        expect(await offsets(store, 'a')).toEqual([1]);
      });

      it('are global across channels', async () => {
        const store = await fresh();
        const first = await store.append('a', 'same', { idempotencyKey: 'shared' });
        await expect(store.append('b', 'same', { idempotencyKey: 'shared' })).rejects.toBeInstanceOf(IdempotencyConflictError);
        const again = await store.append('a', 'same', { idempotencyKey: 'shared' });
        expect(again).toEqual({ message: first.message, duplicate: true });
      });

      it('with a scope: at most maxKeysPerScope per scope, the oldest forgotten first', async () => {
        const store = await fresh({ maxKeysPerScope: 3 });
        for (let i = 1; i <= 5; i++) {
          await store.append('a', i, { idempotencyKey: `k${i}`, idempotencyScope: 'alice' });
          clock.advance(1);
        }
        await store.append('a', 'b1', { idempotencyKey: 'b1', idempotencyScope: 'bob' });
        // alice's k1 and k2 are forgotten (a resend stores again); k3..k5 and bob's key are remembered.
        expect((await store.append('a', 1, { idempotencyKey: 'k1', idempotencyScope: 'alice' })).duplicate).toBe(false);
        expect((await store.append('a', 5, { idempotencyKey: 'k5', idempotencyScope: 'alice' })).duplicate).toBe(true);
        expect((await store.append('a', 'b1', { idempotencyKey: 'b1', idempotencyScope: 'bob' })).duplicate).toBe(true);
      });

      it('distinct keys, or no key, store every message', async () => {
        const store = await fresh();
        const r = [
          await store.append('a', 'same', { idempotencyKey: 'k1' }),
          await store.append('a', 'same', { idempotencyKey: 'k2' }),
          await store.append('a', 'same'),
          await store.append('a', 'same'),
        ];
        expect(r.map((x) => [x.message.offset, x.duplicate])).toEqual([
          [1, false],
          [2, false],
          [3, false],
          [4, false],
        ]);
      });

      it('expire after dedupeTtlMs, then the key stores a new message', async () => {
        const store = await fresh({ dedupeTtlMs: 1000 });
        await store.append('a', 'first', { idempotencyKey: 'k' });
        clock.advance(999);
        expect((await store.append('a', 'first', { idempotencyKey: 'k' })).duplicate).toBe(true);
        clock.advance(1);
        const later = await store.append('a', 'after ttl', { idempotencyKey: 'k' });
        expect(later.duplicate).toBe(false);
        expect(later.message.offset).toBe(2);
        clock.advance(500);
        const again = await store.append('a', 'after ttl', { idempotencyKey: 'k' });
        expect(again.duplicate).toBe(true);
        expect(again.message.offset).toBe(2);
        expect(again.message.data).toBe('after ttl');
      });

      it('default to a 24 h lifetime', async () => {
        const store = await fresh();
        await store.append('a', 1, { idempotencyKey: 'k' });
        clock.advance(DAY - 1);
        expect((await store.append('a', 1, { idempotencyKey: 'k' })).duplicate).toBe(true);
        clock.advance(1);
        expect((await store.append('a', 3, { idempotencyKey: 'k' })).duplicate).toBe(false);
      });

      it('still return the first message after history dropped it', async () => {
        const store = await fresh({ history: { maxCount: 1 } });
        const first = await store.append('a', 'first', { idempotencyKey: 'k' });
        await store.append('a', 'second');
        const retry = await store.append('a', 'first', { idempotencyKey: 'k' });
        expect(retry.duplicate).toBe(true);
        expect(retry.message).toEqual(first.message);
        expect((await store.head('a')).offset).toBe(2);
      });

      it('survive a sweep while live, and are gone after it once expired', async () => {
        const store = await fresh({ dedupeTtlMs: 1000 });
        await store.append('a', 1, { idempotencyKey: 'k' });
        await store.sweep();
        expect((await store.append('a', 1, { idempotencyKey: 'k' })).duplicate).toBe(true);
        clock.advance(1000);
        await store.sweep();
        expect((await store.append('a', 3, { idempotencyKey: 'k' })).duplicate).toBe(false);
      });
    });

    describe('concurrency', () => {
      it('200 concurrent appends to one channel get offsets 1..200, once each', async () => {
        const store = await fresh();
        const results = await Promise.all(Array.from({ length: 200 }, (_, i) => store.append('hot', { i })));
        const got = results.map((r) => r.message.offset).sort((x, y) => x - y);
        expect(got).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
        const byOffset = new Map(results.map((r) => [r.message.offset, r.message.data]));
        const read = await readAll(store, 'hot', { epoch: results[0]!.message.epoch, offset: 0 });
        expect(read.messages.map((m) => m.offset)).toEqual(got);
        for (const m of read.messages) expect(m.data).toEqual(byOffset.get(m.offset));
        expect((await store.head('hot')).offset).toBe(200);
      });

      it('concurrent appends with one idempotency key store exactly one message', async () => {
        const store = await fresh();
        const results = await Promise.all(
          Array.from({ length: 50 }, () => store.append('a', { same: true }, { idempotencyKey: 'once' })),
        );
        expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
        expect(new Set(results.map((r) => r.message.offset))).toEqual(new Set([1]));
        expect(await offsets(store, 'a')).toEqual([1]);
      });

      it('concurrent appends to several channels keep each sequence contiguous', async () => {
        const store = await fresh();
        const channels = ['x', 'y', 'z'];
        await Promise.all(Array.from({ length: 90 }, (_, i) => store.append(channels[i % 3]!, i)));
        for (const c of channels) expect(await offsets(store, c)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
      });
    });

    describe('read', () => {
      async function withFive(options: StoreOptions = {}) {
        const store = await fresh(options);
        for (let i = 1; i <= 5; i++) await store.append('a', `m${i}`);
        const head = await store.head('a');
        return { store, head, epoch: head.epoch };
      }

      it('without a position reads nothing and reports the head', async () => {
        const { store, head } = await withFive();
        const result = await store.read('a', undefined, 10);
        expect(result).toEqual({ messages: [], complete: true, more: false, head });
        expect(head.offset).toBe(5);
      });

      it('from offset 0 of the current epoch returns everything in order', async () => {
        const { store, epoch, head } = await withFive();
        const result = await store.read('a', { epoch, offset: 0 }, 10);
        expect(result.messages.map((m) => [m.offset, m.data])).toEqual([
          [1, 'm1'],
          [2, 'm2'],
          [3, 'm3'],
          [4, 'm4'],
          [5, 'm5'],
        ]);
        expect(result.messages.every((m) => m.channel === 'a' && m.epoch === epoch)).toBe(true);
        expect(result.complete).toBe(true);
        expect(result.more).toBe(false);
        expect(result.head).toEqual(head);
      });

      it('from offset n returns the messages after n', async () => {
        const { store, epoch } = await withFive();
        const result = await store.read('a', { epoch, offset: 3 }, 10);
        expect(result.messages.map((m) => m.offset)).toEqual([4, 5]);
        expect(result.complete).toBe(true);
        expect(result.more).toBe(false);
      });

      it('returns at most limit messages and says when there are more', async () => {
        const { store, epoch } = await withFive();
        const page1 = await store.read('a', { epoch, offset: 0 }, 2);
        expect(page1.messages.map((m) => m.offset)).toEqual([1, 2]);
        expect([page1.complete, page1.more]).toEqual([true, true]);
        const page2 = await store.read('a', { epoch, offset: 2 }, 2);
        expect(page2.messages.map((m) => m.offset)).toEqual([3, 4]);
        expect([page2.complete, page2.more]).toEqual([true, true]);
        const page3 = await store.read('a', { epoch, offset: 4 }, 2);
        expect(page3.messages.map((m) => m.offset)).toEqual([5]);
        expect([page3.complete, page3.more]).toEqual([true, false]);
        const exact = await store.read('a', { epoch, offset: 0 }, 5);
        expect(exact.messages).toHaveLength(5);
        expect(exact.more).toBe(false);
        const none = await store.read('a', { epoch, offset: 0 }, 0);
        expect(none.messages).toEqual([]);
        expect([none.complete, none.more]).toEqual([true, true]);
      });

      it('from the head returns nothing, complete', async () => {
        const { store, head } = await withFive();
        const result = await store.read('a', head, 10);
        expect(result).toEqual({ messages: [], complete: true, more: false, head });
      });

      it('from another epoch is not complete and offers the retained history from the oldest', async () => {
        const { store, epoch } = await withFive({ history: { maxCount: 3 } });
        const result = await store.read('a', { epoch: `not-${epoch}`, offset: 1 }, 10);
        expect(result.complete).toBe(false);
        expect(result.messages.map((m) => m.offset)).toEqual([3, 4, 5]);
        expect(result.more).toBe(false);
        const limited = await store.read('a', { epoch: `not-${epoch}`, offset: 4 }, 2);
        expect(limited.complete).toBe(false);
        expect(limited.messages.map((m) => m.offset)).toEqual([3, 4]);
        expect(limited.more).toBe(true);
      });

      it('from beyond the head of this epoch is not complete (a position this history never gave)', async () => {
        const { store, epoch } = await withFive();
        const result = await store.read('a', { epoch, offset: 9 }, 10);
        expect(result.complete).toBe(false);
        expect(result.messages.map((m) => m.offset)).toEqual([1, 2, 3, 4, 5]);
      });

      it('is not complete when history was trimmed past the position, and returns what follows the gap', async () => {
        const { store, epoch } = await withFive({ history: { maxCount: 2 } });
        const gap = await store.read('a', { epoch, offset: 1 }, 10);
        expect(gap.complete).toBe(false);
        expect(gap.messages.map((m) => m.offset)).toEqual([4, 5]);
        const edge = await store.read('a', { epoch, offset: 3 }, 10);
        expect(edge.complete).toBe(true);
        expect(edge.messages.map((m) => m.offset)).toEqual([4, 5]);
      });

      it('of an unknown channel: empty, offset 0, the empty epoch, complete from offset 0 of it', async () => {
        const store = await fresh();
        const head = await store.head('nobody');
        expect(head.offset).toBe(0);
        expect(isUnwrittenEpoch(head.epoch)).toBe(true);
        expect(head.epoch.length).toBeLessThanOrEqual(64);
        const result = await store.read('nobody', { epoch: head.epoch, offset: 0 }, 10);
        expect(result).toEqual({ messages: [], complete: true, more: false, head });
        const foreign = await store.read('nobody', { epoch: `x${head.epoch}`, offset: 0 }, 10);
        expect(foreign.complete).toBe(false);
        expect(foreign.messages).toEqual([]);
        // Every unwritten channel shares the one empty epoch.
        expect(await store.head('somebody else')).toEqual(head);
      });

      it('a reader who saw a channel unwritten continues into its first epoch, missing nothing', async () => {
        const store = await fresh();
        const before = await store.read('later', undefined, 10);
        const { message } = await store.append('later', 'x');
        expect(isUnwrittenEpoch(message.epoch)).toBe(false);
        expect(message.epoch).not.toBe(before.head.epoch);
        const result = await store.read('later', before.head, 10);
        expect(result.complete).toBe(true);
        expect(result.messages.map((m) => m.data)).toEqual(['x']);
        expect(result.head).toEqual({ epoch: message.epoch, offset: 1 });
      });

      it('from the empty epoch is not complete once the channel history no longer starts at 1', async () => {
        const store = await fresh({ history: { maxCount: 2 } });
        const empty = await store.head('c');
        for (let i = 1; i <= 3; i++) await store.append('c', i);
        const result = await store.read('c', empty, 10);
        expect(result.complete).toBe(false);
        expect(result.messages.map((m) => m.offset)).toEqual([2, 3]);
      });

      it('creates nothing: reading ten thousand unknown channels leaves the store as it was', async () => {
        const store = await fresh();
        const empty = await store.head('x');
        for (let i = 0; i < 10_000; i++) await store.read(`ghost-${i}`, { epoch: empty.epoch, offset: 0 }, 10);
        for (let i = 0; i < 100; i++) expect(await store.head(`ghost-${i}`)).toEqual(empty);
      });

      it('stops a page at maxBytes, always returning at least one message', async () => {
        const store = await fresh();
        const big = 'x'.repeat(1000);
        for (let i = 1; i <= 10; i++) await store.append('b', `${i}${big}`);
        const { epoch } = await store.head('b');
        const page = await store.read('b', { epoch, offset: 0 }, 100, { maxBytes: 2500 });
        expect(page.messages.map((m) => m.offset)).toEqual([1, 2, 3]);
        expect(page.more).toBe(true);
        expect(page.complete).toBe(true);
        const one = await store.read('b', { epoch, offset: 3 }, 100, { maxBytes: 1 });
        expect(one.messages.map((m) => m.offset)).toEqual([4]);
        expect(one.more).toBe(true);
        const rest = await store.read('b', { epoch, offset: 8 }, 100, { maxBytes: 1_000_000 });
        expect(rest.messages.map((m) => m.offset)).toEqual([9, 10]);
        expect(rest.more).toBe(false);
        await expect(store.read('b', { epoch, offset: 0 }, 10, { maxBytes: 0 })).rejects.toBeInstanceOf(RangeError);
      });

      it('changes nothing: reading twice gives the same answer', async () => {
        const { store, epoch } = await withFive();
        const one = await store.read('a', { epoch, offset: 1 }, 3);
        const two = await store.read('a', { epoch, offset: 1 }, 3);
        expect(two).toEqual(one);
        expect((await store.head('a')).offset).toBe(5);
      });
    });

    describe('head', () => {
      it('is offset 0 for an empty channel, with an epoch stable between calls; the first append gives the channel its own', async () => {
        const store = await fresh();
        const h1 = await store.head('a');
        const h2 = await store.head('a');
        expect(h1).toEqual({ epoch: h2.epoch, offset: 0 });
        const first = await store.append('a', 1);
        await store.append('a', 2);
        expect(await store.head('a')).toEqual({ epoch: first.message.epoch, offset: 2 });
        expect(first.message.epoch).not.toBe(h1.epoch);
      });
    });

    describe('history limits', () => {
      it('maxCount trims the oldest at append time', async () => {
        const store = await fresh({ history: { maxCount: 3 } });
        for (let i = 1; i <= 5; i++) await store.append('a', i);
        expect(await offsets(store, 'a')).toEqual([3, 4, 5]);
        for (let i = 6; i <= 7; i++) await store.append('a', i);
        expect(await offsets(store, 'a')).toEqual([5, 6, 7]);
        expect((await store.head('a')).offset).toBe(7);
      });

      it('maxAgeMs trims lazily on read: a message exactly maxAgeMs old is kept, an older one is not', async () => {
        const store = await fresh({ history: { maxAgeMs: 1000 } });
        await store.append('a', 'old');
        clock.advance(500);
        await store.append('a', 'newer');
        clock.advance(500);
        expect(await offsets(store, 'a')).toEqual([1, 2]);
        clock.advance(1);
        const head = await store.head('a');
        const result = await store.read('a', { epoch: head.epoch, offset: 0 }, 10);
        expect(result.messages.map((m) => m.data)).toEqual(['newer']);
        expect(result.complete).toBe(false);
        const fromOne = await store.read('a', { epoch: head.epoch, offset: 1 }, 10);
        expect(fromOne.complete).toBe(true);
      });

      it('maxAgeMs trims in sweep', async () => {
        const store = await fresh({ history: { maxAgeMs: 1000 } });
        await store.append('a', 1);
        await store.append('b', 1);
        clock.advance(1001);
        await store.sweep();
        const head = await store.head('a');
        const result = await store.read('a', { epoch: head.epoch, offset: 0 }, 10);
        expect(result.messages).toEqual([]);
        expect(result.complete).toBe(false);
        expect(await offsets(store, 'b')).toEqual([]);
        expect(head.offset).toBe(1);
      });

      it('after everything aged out, the next append continues the sequence in the same epoch', async () => {
        const store = await fresh({ history: { maxAgeMs: 1000 } });
        const first = await store.append('a', 1);
        await store.append('a', 2);
        await store.append('a', 3);
        clock.advance(5000);
        await store.sweep();
        expect(await offsets(store, 'a')).toEqual([]);
        const next = await store.append('a', 4);
        expect(next.message.offset).toBe(4);
        expect(next.message.epoch).toBe(first.message.epoch);
        const fromThree = await store.read('a', { epoch: first.message.epoch, offset: 3 }, 10);
        expect(fromThree.complete).toBe(true);
        expect(fromThree.messages.map((m) => m.data)).toEqual([4]);
      });

      it('trimming never changes the epoch and never reuses an offset', async () => {
        const store = await fresh({ history: { maxCount: 1, maxAgeMs: 100 } });
        const epochs = new Set<string>();
        const seen: number[] = [];
        for (let i = 0; i < 10; i++) {
          const { message } = await store.append('a', i);
          epochs.add(message.epoch);
          seen.push(message.offset);
          if (i % 3 === 0) {
            clock.advance(1000);
            await store.sweep();
          }
        }
        epochs.add((await store.head('a')).epoch);
        expect(epochs.size).toBe(1);
        expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      });

      it('default to 10000 messages and 24 h', async () => {
        const store = await fresh();
        for (let i = 0; i < 10_005; i += 1) await store.append('a', i);
        let list = await offsets(store, 'a');
        expect(list).toHaveLength(10_000);
        expect(list[0]).toBe(6);
        expect(list.at(-1)).toBe(10_005);
        clock.advance(DAY);
        expect(await offsets(store, 'a')).toHaveLength(10_000);
        clock.advance(1);
        list = await offsets(store, 'a');
        expect(list).toEqual([]);
      });
    });

    describe('sessions', () => {
      it('save and load round-trip, with and without a user', async () => {
        const store = await fresh();
        const withUser = session('s1', T0 + HOUR, { user: 'alice', channels: ['news', 'chat:1'] });
        const withoutUser = session('s2', T0 + HOUR, { channels: [] });
        await store.saveSession(withUser);
        await store.saveSession(withoutUser);
        expect(await store.loadSession('s1')).toEqual(withUser);
        const loaded = await store.loadSession('s2');
        expect(loaded).toEqual(withoutUser);
        expect(loaded && 'user' in loaded ? loaded.user : undefined).toBeUndefined();
      });

      it('share no objects with the caller', async () => {
        const store = await fresh();
        const channels = ['a'];
        await store.saveSession(session('s', T0 + HOUR, { channels }));
        channels.push('mutated');
        const loaded = await store.loadSession('s');
        expect(loaded?.channels).toEqual(['a']);
        (loaded!.channels as string[]).push('mutated too');
        expect((await store.loadSession('s'))?.channels).toEqual(['a']);
      });

      it('load as undefined when unknown', async () => {
        const store = await fresh();
        expect(await store.loadSession('nope')).toBeUndefined();
      });

      it('load as undefined from expiresAt on (by the injected clock)', async () => {
        const store = await fresh();
        await store.saveSession(session('s', T0 + 1000));
        clock.advance(999);
        expect(await store.loadSession('s')).toBeDefined();
        clock.advance(1);
        expect(await store.loadSession('s')).toBeUndefined();
        await store.sweep();
        expect(await store.loadSession('s')).toBeUndefined();
      });

      it('saving again replaces the record', async () => {
        const store = await fresh();
        await store.saveSession(session('s', T0 + 1000, { user: 'alice', channels: ['a'] }));
        const replacement = session('s', T0 + 5000, { tokenHash: 'new-hash', channels: ['b', 'c'] });
        await store.saveSession(replacement);
        clock.advance(2000);
        expect(await store.loadSession('s')).toEqual(replacement);
      });

      it('deleteSession forgets the session and its message claims, and nothing else', async () => {
        const store = await fresh();
        await store.saveSession(session('s', T0 + HOUR));
        await store.saveSession(session('other', T0 + HOUR));
        await store.claimMessage('s', 1);
        await store.finishMessage('s', 2, { state: 'done' });
        await store.claimMessage('other', 1);
        await store.deleteSession('s');
        expect(await store.loadSession('s')).toBeUndefined();
        expect(await store.claimMessage('s', 1)).toEqual({ claimed: true });
        expect(await store.claimMessage('s', 2)).toEqual({ claimed: true });
        expect(await store.loadSession('other')).toBeDefined();
        expect(await store.claimMessage('other', 1)).toEqual({ claimed: false, outcome: { state: 'claimed' } });
        await expect(store.deleteSession('never-existed')).resolves.toBeUndefined();
      });
    });

    describe('session updates', () => {
      it('add and remove channels with positions, one change at a time, and touch the expiry', async () => {
        const store = await fresh();
        await store.saveSession(session('s', T0 + HOUR, { channels: ['a'], positions: { a: { epoch: 'e', offset: 3 } } }));
        expect(await store.updateSession('s', { subscribe: [{ channel: 'b', position: { epoch: 'f', offset: 0 } }, { channel: '__proto__' }] })).toBe(true);
        expect(await store.updateSession('s', { unsubscribe: ['a'], expiresAt: T0 + 2 * HOUR })).toBe(true);
        expect(await store.updateSession('s', { subscribe: [{ channel: 'a', position: { epoch: 'e', offset: 9 } }] })).toBe(true);
        const loaded = await store.loadSession('s');
        expect(loaded?.channels).toEqual(['b', '__proto__', 'a']);
        expect(loaded?.expiresAt).toBe(T0 + 2 * HOUR);
        expect({ ...loaded?.positions }).toEqual({ b: { epoch: 'f', offset: 0 }, a: { epoch: 'e', offset: 9 } });
        expect(Object.getPrototypeOf(loaded?.positions ?? {})).toBe(null);
        clock.advance(HOUR + 1);
        expect(await store.loadSession('s')).toBeDefined();
      });

      it('answer false for an unknown or expired session, changing nothing', async () => {
        const store = await fresh();
        expect(await store.updateSession('nobody', { subscribe: [{ channel: 'x' }] })).toBe(false);
        expect(await store.loadSession('nobody')).toBeUndefined();
        await store.saveSession(session('s', T0 + 1000));
        clock.advance(1000);
        expect(await store.updateSession('s', { expiresAt: T0 + HOUR })).toBe(false);
        expect(await store.loadSession('s')).toBeUndefined();
      });
    });

    describe('message claims', () => {
      it('the first claim wins; later ones see it claimed, then running once started', async () => {
        const store = await fresh();
        expect(await store.claimMessage('s', 7)).toEqual({ claimed: true });
        expect(await store.claimMessage('s', 7)).toEqual({ claimed: false, outcome: { state: 'claimed' } });
        await store.finishMessage('s', 7, { state: 'running' });
        expect(await store.claimMessage('s', 7)).toEqual({ claimed: false, outcome: { state: 'running' } });
        expect(await store.claimMessage('s', 8)).toEqual({ claimed: true });
      });

      it('a claim lapses after its lease unless started; a started one lives dedupeTtlMs', async () => {
        const store = await fresh({ dedupeTtlMs: HOUR });
        await store.claimMessage('s', 1, { leaseMs: 1000 });
        await store.claimMessage('s', 2, { leaseMs: 1000 });
        await store.finishMessage('s', 2, { state: 'running' });
        clock.advance(1000);
        expect(await store.claimMessage('s', 1, { leaseMs: 1000 })).toEqual({ claimed: true });
        expect(await store.claimMessage('s', 2, { leaseMs: 1000 })).toEqual({ claimed: false, outcome: { state: 'running' } });
      });

      it('carry a fingerprint: a claim with another one is a conflict', async () => {
        const store = await fresh();
        await store.claimMessage('s', 1, { fingerprint: 'A' });
        await store.finishMessage('s', 1, { state: 'done', result: { answer: 42 } });
        expect(await store.claimMessage('s', 1, { fingerprint: 'A' })).toEqual({ claimed: false, outcome: { state: 'done', result: { answer: 42 } } });
        expect(await store.claimMessage('s', 1, { fingerprint: 'B' })).toEqual({ claimed: false, outcome: { state: 'done', result: { answer: 42 } }, conflict: true });
      });

      it("accept a claim's legacyFingerprint as its own (a resend of a message recorded before an upgrade), never recording it", async () => {
        const store = await fresh();
        await store.claimMessage('s', 1, { fingerprint: 'old' });
        await store.finishMessage('s', 1, { state: 'done' });
        expect(await store.claimMessage('s', 1, { fingerprint: 'new', legacyFingerprint: 'old' })).toEqual({ claimed: false, outcome: { state: 'done' } });
        expect(await store.claimMessage('s', 1, { fingerprint: 'new', legacyFingerprint: 'other' })).toMatchObject({ conflict: true });
        const first = await store.append('ch', { x: 1 }, { claim: { scope: 'o', id: 1, fingerprint: 'old' } });
        const again = await store.append('ch', { x: 1 }, { claim: { scope: 'o', id: 1, fingerprint: 'new', legacyFingerprint: 'old' } });
        expect(again).toMatchObject({ duplicate: true, message: { epoch: first.message.epoch, offset: 1 } });
        await expect(store.append('ch', { x: 1 }, { claim: { scope: 'o', id: 1, fingerprint: 'new', legacyFingerprint: 'other' } })).rejects.toBeInstanceOf(IdempotencyConflictError);
        expect((await store.head('ch')).offset).toBe(1);
      });

      it('keep a window of maxClaimsPerScope ids per scope: older ids are forgotten, and said to be', async () => {
        const store = await fresh({ maxClaimsPerScope: 100 });
        for (let id = 1; id <= 251; id += 2) await store.claimMessage('s', id);
        expect(await store.claimMessage('s', 202)).toEqual({ claimed: true }); // in the window (151..251): new to the store
        expect(await store.claimMessage('s', 201)).toEqual({ claimed: false, outcome: { state: 'claimed' } });
        expect(await store.claimMessage('s', 100)).toEqual({ claimed: false, forgotten: true });
        expect(await store.claimMessage('s', 1)).toEqual({ claimed: false, forgotten: true });
        expect(await store.claimMessage('other', 1)).toEqual({ claimed: true });
      });

      it('dedupe appends by (scope, id), atomically, sharing the id space with messages', async () => {
        const store = await fresh({ maxClaimsPerScope: 10 });
        const claim = { scope: 'o', id: 5, fingerprint: 'pub-a' };
        const first = await store.append('ch', { x: 1 }, { claim });
        const again = await store.append('ch', { x: 1 }, { claim });
        expect(again.duplicate).toBe(true);
        expect(again.message).toMatchObject({ channel: 'ch', epoch: first.message.epoch, offset: 1, data: { x: 1 } });
        await expect(store.append('ch', { x: 2 }, { claim: { ...claim, fingerprint: 'pub-b' } })).rejects.toBeInstanceOf(IdempotencyConflictError);
        const asMessage = await store.claimMessage('o', 5, { fingerprint: 'msg' });
        expect(asMessage).toMatchObject({ claimed: false, conflict: true, outcome: { state: 'done' } });
        await store.claimMessage('o', 6);
        await expect(store.append('ch', 1, { claim: { scope: 'o', id: 6, fingerprint: 'p' } })).rejects.toBeInstanceOf(IdempotencyConflictError);
        await store.append('ch', 'far', { claim: { scope: 'o', id: 100, fingerprint: 'p' } });
        await expect(store.append('ch', 'old', { claim: { scope: 'o', id: 50, fingerprint: 'p' } })).rejects.toBeInstanceOf(IdempotencyWindowError);
        expect(await offsets(store, 'ch')).toEqual([1, 2]);
      });

      it('later claims see done or failed, with the incident', async () => {
        const store = await fresh();
        await store.claimMessage('s', 1);
        await store.claimMessage('s', 2);
        await store.finishMessage('s', 1, { state: 'done' });
        await store.finishMessage('s', 2, { state: 'failed', incident: 'inc-42' });
        expect(await store.claimMessage('s', 1)).toEqual({ claimed: false, outcome: { state: 'done' } });
        expect(await store.claimMessage('s', 2)).toEqual({ claimed: false, outcome: { state: 'failed', incident: 'inc-42' } });
      });

      it('are per session', async () => {
        const store = await fresh();
        expect(await store.claimMessage('s1', 1)).toEqual({ claimed: true });
        expect(await store.claimMessage('s2', 1)).toEqual({ claimed: true });
        await store.finishMessage('s1', 1, { state: 'done' });
        expect(await store.claimMessage('s2', 1)).toEqual({ claimed: false, outcome: { state: 'claimed' } });
      });

      it('only one of many concurrent claims wins', async () => {
        const store = await fresh();
        const results = await Promise.all(Array.from({ length: 20 }, () => store.claimMessage('s', 1)));
        expect(results.filter((r) => r.claimed)).toHaveLength(1);
      });

      it('expire dedupeTtlMs after the claim', async () => {
        const store = await fresh({ dedupeTtlMs: 1000 });
        await store.claimMessage('s', 1);
        clock.advance(999);
        expect((await store.claimMessage('s', 1)).claimed).toBe(false);
        clock.advance(1);
        expect((await store.claimMessage('s', 1)).claimed).toBe(true);
      });

      it('an outcome is remembered for dedupeTtlMs after it is recorded', async () => {
        const store = await fresh({ dedupeTtlMs: 1000 });
        await store.claimMessage('s', 1);
        clock.advance(600);
        await store.finishMessage('s', 1, { state: 'done' });
        clock.advance(999);
        expect(await store.claimMessage('s', 1)).toEqual({ claimed: false, outcome: { state: 'done' } });
        clock.advance(1);
        await store.sweep();
        expect(await store.claimMessage('s', 1)).toEqual({ claimed: true });
      });

      it('finishing an unclaimed id records the outcome', async () => {
        const store = await fresh();
        await store.finishMessage('s', 3, { state: 'failed', incident: 'inc-1' });
        expect(await store.claimMessage('s', 3)).toEqual({ claimed: false, outcome: { state: 'failed', incident: 'inc-1' } });
      });
    });

    describe('sweep', () => {
      it('keeps everything that is still live', async () => {
        const store = await fresh({ dedupeTtlMs: 1000, history: { maxAgeMs: 1000 } });
        await store.append('a', 1, { idempotencyKey: 'k' });
        await store.saveSession(session('s', T0 + 1000));
        await store.claimMessage('s', 1);
        clock.advance(999);
        await store.sweep();
        expect(await offsets(store, 'a')).toEqual([1]);
        expect(await store.loadSession('s')).toBeDefined();
        expect((await store.claimMessage('s', 1)).claimed).toBe(false);
        expect((await store.append('a', 1, { idempotencyKey: 'k' })).duplicate).toBe(true);
      });
    });

    describe('close', () => {
      it('makes every method reject with StoreUnavailableError; closing again is harmless', async () => {
        const store = await fresh();
        const head = await store.head('a');
        await store.close();
        await expectUnavailable(store.append('a', 1));
        await expectUnavailable(store.append('a', 1, { idempotencyKey: 'k' }));
        await expectUnavailable(store.read('a', undefined, 10));
        await expectUnavailable(store.read('a', head, 10));
        await expectUnavailable(store.head('a'));
        await expectUnavailable(store.saveSession(session('s', T0 + HOUR)));
        await expectUnavailable(store.loadSession('s'));
        await expectUnavailable(store.deleteSession('s'));
        await expectUnavailable(store.claimMessage('s', 1));
        await expectUnavailable(store.finishMessage('s', 1, { state: 'done' }));
        await expectUnavailable(store.sweep());
        await expect(store.close()).resolves.toBeUndefined();
      });
    });

    const reopen = options.reopen;
    if (options.presence === true) {
      presenceConformance({
        describe,
        it,
        expect,
        fresh,
        advance: (ms) => clock.advance(ms),
        now: () => clock.now(),
        expectUnavailable,
        restart: reopen
          ? async (store) => {
              await store.close();
              open.delete(store);
              const next = await reopen(store, { now: clock.now });
              open.add(next);
              return next;
            }
          : undefined,
      });
    } else {
      describe('presence', () => {
        it('is absent: the engine keeps no presence records', async () => {
          expect((await fresh()).presence).toBeUndefined();
        });
      });
    }
    if (reopen) {
      describe('restart', () => {
        const restart = async (store: Store, storeOptions: StoreOptions = {}): Promise<Store> => {
          await store.close();
          open.delete(store);
          const next = await reopen(store, { ...storeOptions, now: clock.now });
          open.add(next);
          return next;
        };

        it('keeps history, epoch, offsets, sessions and dedupe records when durable; starts a new epoch when not', async () => {
          const store = await fresh({ dedupeTtlMs: HOUR });
          const m1 = await store.append('a', { n: 1 }, { idempotencyKey: 'k' });
          await store.append('a', { n: 2 });
          await store.saveSession(session('s', T0 + HOUR, { user: 'u' }));
          await store.claimMessage('s', 1);
          await store.finishMessage('s', 2, { state: 'failed', incident: 'inc' });
          const position = await store.head('a');
          const durable = store.durable;

          const next = await restart(store, { dedupeTtlMs: HOUR });
          expect(next.durable).toBe(durable);
          const result = await next.read('a', position, 10);
          if (durable) {
            expect(await next.head('a')).toEqual(position);
            expect(result).toEqual({ messages: [], complete: true, more: false, head: position });
            expect(await offsets(next, 'a')).toEqual([1, 2]);
            const again = await next.append('a', { n: 3 });
            expect(again.message).toMatchObject({ epoch: position.epoch, offset: 3 });
            const dup = await next.append('a', { n: 1 }, { idempotencyKey: 'k' });
            expect(dup).toEqual({ message: m1.message, duplicate: true });
            expect(await next.loadSession('s')).toEqual(session('s', T0 + HOUR, { user: 'u' }));
            expect(await next.claimMessage('s', 1)).toEqual({ claimed: false, outcome: { state: 'claimed' } });
            expect(await next.claimMessage('s', 2)).toEqual({ claimed: false, outcome: { state: 'failed', incident: 'inc' } });
          } else {
            const head = await next.head('a');
            expect(head.epoch).not.toBe(position.epoch);
            expect(head.offset).toBe(0);
            expect(result.complete).toBe(false);
            expect((await next.append('a', { n: 1 }, { idempotencyKey: 'k' })).duplicate).toBe(false);
            expect(await next.loadSession('s')).toBeUndefined();
          }
        });
      });
    }
  });
}
