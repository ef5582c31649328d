/**
 * The guard every engine sits behind (`src/store/guarded.ts`), on a recording core: what reaches an
 * engine, and the one automatic-sweep rule. The engines themselves are proven by the conformance suite
 * (test/conformance); this pins the guard's own decisions, which no engine can get wrong any more.
 */
import { describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/store/errors.js';
import type { StoreCore } from '../../src/store/core.js';
import { GuardedStore } from '../../src/store/guarded.js';
import { AUTO_SWEEP_INTERVAL_MS, resolveStoreOptions } from '../../src/store/options.js';
import type { JsonValue } from '../../src/store/types.js';

/** A core that records the calls it gets; its automatic sweeps finish when the test says so. */
class RecordingCore implements StoreCore {
  readonly label = 'the recording store';
  readonly calls: { op: string; now?: number }[] = [];
  readonly sweeps: { now: number; finish: () => void; fail: (error: Error) => void }[] = [];
  /** Whether automatic sweeps continue in the background (a promise) or finish inside the write. */
  background = true;

  append(channel: string, _data: JsonValue, json: string, _options: unknown, now: number) {
    this.calls.push({ op: `append ${channel} ${json}`, now });
    return { message: { channel, epoch: 'e', offset: 1, data: JSON.parse(json) as JsonValue, time: now }, duplicate: false };
  }
  read(_channel: string, from: { epoch: string; offset: number }, _limit: number, maxBytes: number, now: number) {
    this.calls.push({ op: `read ${maxBytes}`, now });
    return { messages: [], complete: true, more: false, head: from };
  }
  head(channel: string) {
    this.calls.push({ op: `head ${channel}` });
    return { epoch: 'e', offset: 0 };
  }
  saveSession(_session: unknown, now: number) {
    this.calls.push({ op: 'saveSession', now });
  }
  updateSession(_id: string, _patch: unknown, now: number) {
    this.calls.push({ op: 'updateSession', now });
    return true;
  }
  loadSession(_id: string, now: number) {
    this.calls.push({ op: 'loadSession', now });
    return undefined;
  }
  deleteSession() {
    this.calls.push({ op: 'deleteSession' });
  }
  claimMessage(_scope: string, _id: number, _options: unknown, now: number) {
    this.calls.push({ op: 'claimMessage', now });
    return { claimed: true as const };
  }
  finishMessage(_scope: string, _id: number, _outcome: unknown, now: number) {
    this.calls.push({ op: 'finishMessage', now });
  }
  sweep(now: number) {
    this.calls.push({ op: 'sweep', now });
  }
  autoSweep(now: number): Promise<void> | undefined {
    this.calls.push({ op: 'autoSweep', now });
    if (!this.background) return undefined;
    return new Promise<void>((finish, fail) => this.sweeps.push({ now, finish, fail }));
  }
  close() {
    this.calls.push({ op: 'close' });
  }
}

class TestStore extends GuardedStore {
  readonly kind = 'test';
  readonly durable = false;
  constructor(core: StoreCore, now: () => number) {
    super(core, resolveStoreOptions({ now }));
  }
}

function open() {
  let t = 1_000_000;
  const core = new RecordingCore();
  const store = new TestStore(core, () => t);
  return { core, store, advance: (ms: number) => (t += ms), ops: () => core.calls.map((c) => c.op) };
}

/** Let promise callbacks run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('the store guard', () => {
  it('hands the core checked arguments, the data as JSON text and the clock read for the call', async () => {
    const { core, store } = open();
    core.background = false;
    await store.append('news', { n: 1 });
    await store.read('news', { epoch: 'e', offset: 0 }, 10);
    await store.read('news', { epoch: 'e', offset: 0 }, 10, { maxBytes: 5 });
    await store.read('news', undefined, 10);
    expect(core.calls).toEqual([
      { op: 'autoSweep', now: 1_000_000 },
      { op: 'append news {"n":1}', now: 1_000_000 },
      { op: 'read Infinity', now: 1_000_000 },
      { op: 'read 5', now: 1_000_000 },
      // A read without a position is the head: nothing to read.
      { op: 'head news' },
    ]);
  });

  it('rejects bad arguments before the core sees them, as TypeError or RangeError', async () => {
    const { store, ops } = open();
    await expect(store.append('', 1)).rejects.toBeInstanceOf(TypeError);
    await expect(store.append('a', undefined as unknown as JsonValue)).rejects.toBeInstanceOf(TypeError);
    await expect(store.append('a', 1, { claim: { scope: 's', id: 1.5, fingerprint: 'f' } })).rejects.toBeInstanceOf(RangeError);
    await expect(store.read('a', undefined, -1)).rejects.toBeInstanceOf(RangeError);
    await expect(store.claimMessage('', 1)).rejects.toBeInstanceOf(TypeError);
    await expect(store.finishMessage('s', 1, { state: 'lost' } as never)).rejects.toBeInstanceOf(TypeError);
    await expect(store.updateSession('s', null as never)).rejects.toBeInstanceOf(TypeError);
    expect(ops()).toEqual([]);
  });

  it('after close, every call rejects with StoreUnavailableError before any check; close is called once', async () => {
    const { store, ops } = open();
    await store.close();
    await store.close();
    for (const call of [() => store.append('', 1), () => store.head('a'), () => store.read('a', undefined, -1), () => store.sweep(), () => store.stats()]) {
      const error = await call().then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect((error as Error).message).toBe('the recording store is closed');
    }
    expect(ops()).toEqual(['close']);
  });

  it('starts an automatic sweep at the start of a write once the interval has passed since the last one started', async () => {
    const { core, store, advance, ops } = open();
    core.background = false;
    await store.saveSession({ id: 's', tokenHash: 'h', channels: [], expiresAt: 1 });
    await store.head('a'); // reads never sweep
    advance(AUTO_SWEEP_INTERVAL_MS - 1);
    await store.claimMessage('s', 1);
    advance(1);
    await store.finishMessage('s', 1, { state: 'done' });
    await store.deleteSession('s'); // deletes never sweep
    expect(ops()).toEqual(['autoSweep', 'saveSession', 'head a', 'claimMessage', 'autoSweep', 'finishMessage', 'deleteSession']);
  });

  it('starts no other automatic sweep while one still runs, however long it takes; the next due write starts one after', async () => {
    const { core, store, advance } = open();
    await store.append('a', 1);
    expect(core.sweeps).toHaveLength(1);
    advance(3 * AUTO_SWEEP_INTERVAL_MS);
    await store.append('a', 2);
    expect(core.sweeps).toHaveLength(1);
    core.sweeps[0]!.finish();
    await settle();
    // The time was marked when the running sweep started, so the next write finds one due at once.
    await store.append('a', 3);
    expect(core.sweeps.map((s) => s.now)).toEqual([1_000_000, 1_000_000 + 3 * AUTO_SWEEP_INTERVAL_MS]);
  });

  it('a failed automatic sweep ends quietly and is tried again by the next due write, not by every write', async () => {
    const { core, store, advance } = open();
    await store.append('a', 1);
    core.sweeps[0]!.fail(new Error('disk full'));
    await settle();
    advance(1000);
    await store.append('a', 2);
    expect(core.sweeps).toHaveLength(1);
    advance(AUTO_SWEEP_INTERVAL_MS);
    await store.append('a', 3);
    expect(core.sweeps).toHaveLength(2);
  });

  it('a called sweep counts as a sweep: the interval runs from when it started', async () => {
    const { core, store, advance, ops } = open();
    core.background = false;
    await store.sweep();
    advance(AUTO_SWEEP_INTERVAL_MS - 1);
    await store.append('a', 1);
    advance(1);
    await store.append('a', 2);
    expect(ops()).toEqual(['sweep', 'append a 1', 'autoSweep', 'append a 2']);
  });
});
