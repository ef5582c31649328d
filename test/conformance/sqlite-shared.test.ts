/**
 * Several processes on one SQLite file: the conformance suite on two store objects of one file (every
 * call alternates between them, so a stale in-process copy of a head, an epoch, a session, a claim or a
 * presence record would fail it), the fan-out feed between real processes appending to one channel at
 * once (both directions, no loss, no duplicate, in order), the feed's fall-back when a reader fell
 * behind, the presence feed (every change to every watcher, with its channel's version; a reader that
 * fell behind is told), several processes opening a new file at once, and the automatic sweep taken by
 * one process per interval.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AppendOptions, ChannelPosition, ClaimOptions, JsonValue, MessageOutcome, PresenceChange, PresenceStore, ReadOptions, SessionPatch, SessionRecord, Store, StoredMessage } from '../../src/store/index.js';
import { AUTO_SWEEP_INTERVAL_MS } from '../../src/store/options.js';
import { createSqliteStore, SQLITE_SCHEMA_VERSION, type SqliteStore } from '../../src/store/sqlite/index.js';
import { storeConformance } from '../../src/testing/index.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WRITER = fileURLToPath(new URL('./fixtures/sqlite-shared-writer.mjs', import.meta.url));
// The children run the built engine (npm run build), as `lifeline serve` does.
const STORE_MODULE = join(ROOT, 'dist', 'store', 'sqlite', 'index.js');
const T0 = 1_700_000_000_000;

let dir: string;
const stores = new Set<Store>();
const children = new Set<ChildProcess>();

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lifeline-sqlite-shared-'));
});
afterEach(async () => {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
  for (const store of stores) await store.close();
  stores.clear();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * One {@link Store} made of two store objects on one file, as two processes would hold them: each call
 * goes to the other object than the call before.
 */
class AlternatingStore implements Store {
  readonly kind = 'sqlite';
  readonly durable = true;
  #turn = 0;
  constructor(readonly a: SqliteStore, readonly b: SqliteStore) {}
  #next(): SqliteStore {
    this.#turn += 1;
    return this.#turn % 2 === 0 ? this.a : this.b;
  }
  append(channel: string, data: JsonValue, options?: AppendOptions) {
    return this.#next().append(channel, data, options);
  }
  read(channel: string, from: ChannelPosition | undefined, limit: number, options?: ReadOptions) {
    return this.#next().read(channel, from, limit, options);
  }
  head(channel: string) {
    return this.#next().head(channel);
  }
  saveSession(session: SessionRecord) {
    return this.#next().saveSession(session);
  }
  updateSession(id: string, patch: SessionPatch) {
    return this.#next().updateSession(id, patch);
  }
  loadSession(id: string) {
    return this.#next().loadSession(id);
  }
  deleteSession(id: string) {
    return this.#next().deleteSession(id);
  }
  claimMessage(session: string, messageId: number, options?: ClaimOptions) {
    return this.#next().claimMessage(session, messageId, options);
  }
  finishMessage(session: string, messageId: number, outcome: MessageOutcome) {
    return this.#next().finishMessage(session, messageId, outcome);
  }
  /** Presence, alternating between the two objects' as the rest does. */
  readonly presence: PresenceStore = {
    join: (...args) => this.#next().presence!.join(...args),
    detach: (...args) => this.#next().presence!.detach(...args),
    leave: (...args) => this.#next().presence!.leave(...args),
    refreshNode: (...args) => this.#next().presence!.refreshNode(...args),
    expire: (...args) => this.#next().presence!.expire(...args),
    page: (...args) => this.#next().presence!.page(...args),
    count: (...args) => this.#next().presence!.count(...args),
  };
  stats() {
    return this.#next().stats();
  }
  sweep() {
    return this.#next().sweep();
  }
  async close() {
    await Promise.all([this.a.close(), this.b.close()]);
  }
}

describe('two store objects on one file', () => {
  const paths = new WeakMap<Store, string>();
  let files = 0;
  const pair = (path: string, opts: Parameters<typeof createSqliteStore>[0]): AlternatingStore => {
    const store = new AlternatingStore(createSqliteStore({ ...opts, path }), createSqliteStore({ ...opts, path }));
    paths.set(store, path);
    return store;
  };
  storeConformance({
    name: 'sqlite, two objects on one file',
    open: (opts) => pair(join(dir, `pair-${++files}.db`), { ...opts, path: '' }),
    reopen: (previous, opts) => pair(paths.get(previous)!, { ...opts, path: '' }),
    test: { describe, it, expect, afterEach },
    presence: true,
  });
});

interface WriterReport {
  acks: [offset: number, i: number][];
  seen: [offset: number, tag: string, i: number][];
}

/** Start a writer process on `path`; resolves once it is ready (watching). */
async function startWriter(path: string, tag: string, count: number, total: number) {
  const child = spawn(process.execPath, [WRITER, STORE_MODULE, path, tag, String(count), String(total)], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(child);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const first = await lines.next();
  expect(first.value, stderr).toBe('ready');
  return {
    go: () => child.stdin!.write('go\n'),
    report: async (): Promise<WriterReport> => {
      const line = await lines.next();
      const [code] = (await once(child, 'exit')) as [number | null];
      expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
      return JSON.parse(line.value as string) as WriterReport;
    },
  };
}

describe('processes on one file', () => {
  it('two processes appending to one channel at once: each watch gets every message of the other, once, in offset order', async () => {
    const path = join(dir, 'shared.db');
    const COUNT = 1500;
    // Created first, so both children open an existing file (opening at once has its own test).
    await createSqliteStore({ path }).close();
    const writers = await Promise.all([startWriter(path, 'A', COUNT, COUNT), startWriter(path, 'B', COUNT, COUNT)]);
    for (const w of writers) w.go();
    const [a, b] = await Promise.all(writers.map((w) => w.report()));

    // Offsets are given out once each, 1..2N, between the two processes: the appends did interleave.
    const owner = new Map<number, string>();
    for (const [tag, report] of [['A', a!], ['B', b!]] as const) {
      expect(report.acks.map(([, i]) => i)).toEqual(Array.from({ length: COUNT }, (_, i) => i));
      for (const [offset] of report.acks) {
        expect(owner.has(offset), `offset ${offset} given twice`).toBe(false);
        owner.set(offset, tag);
      }
    }
    expect([...owner.keys()].sort((x, y) => x - y)).toEqual(Array.from({ length: 2 * COUNT }, (_, i) => i + 1));
    const switches = [...owner.keys()].sort((x, y) => x - y).filter((o, k, all) => k > 0 && owner.get(o) !== owner.get(all[k - 1]!)).length;
    expect(switches).toBeGreaterThan(1);

    // Each process's watch: every message of the other process (its own it has: it appended them), each
    // once, in offset order, and what it read at each offset is what was appended there.
    for (const [own, report] of [['A', a!], ['B', b!]] as const) {
      const other = own === 'A' ? 'B' : 'A';
      expect(report.seen.map(([offset]) => offset)).toEqual([...owner.keys()].filter((o) => owner.get(o) === other).sort((x, y) => x - y));
      for (const [offset, tag] of report.seen) expect(tag).toBe(owner.get(offset));
      expect(report.seen.map(([, , i]) => i)).toEqual(Array.from({ length: COUNT }, (_, i) => i));
    }
  }, 60_000);

  it('several processes opening a new file at once all come up on one schema, one empty epoch and the feed', async () => {
    const path = join(dir, 'race.db');
    const writers = await Promise.all(Array.from({ length: 6 }, (_, k) => startWriter(path, `P${k}`, 20, 100)));
    for (const w of writers) w.go();
    const reports = await Promise.all(writers.map((w) => w.report()));
    // Between its own appends and what it heard of the others', each process knows all 120, once each.
    for (const report of reports) {
      const known = [...report.acks.map(([offset]) => offset), ...report.seen.map(([offset]) => offset)].sort((x, y) => x - y);
      expect(known).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
    }
    const db = new Database(path, { readonly: true });
    try {
      expect(db.pragma('user_version', { simple: true })).toBe(SQLITE_SCHEMA_VERSION);
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.prepare("SELECT COUNT(*) AS n FROM meta WHERE key = 'empty_epoch'").get()).toEqual({ n: 1 });
      expect(db.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE name IN ('fanout', 'messages_fanout')").get()).toEqual({ n: 2 });
    } finally {
      db.close();
    }
  }, 60_000);
});

describe('the fan-out feed in one process', () => {
  const open = (path: string, now: () => number = () => T0): SqliteStore => {
    const store = createSqliteStore({ path, now, watchIntervalMs: 5 });
    stores.add(store);
    return store;
  };
  const settle = () => new Promise((r) => setTimeout(r, 60));

  it('a watch hears the other object\'s appends (not its own), from the moment it started, and stops when removed', async () => {
    const path = join(dir, 'feed.db');
    const [a, b] = [open(path), open(path)];
    await a.append('before', 0);
    const got: StoredMessage[] = [];
    const off = b.watch!((m) => got.push(m));
    const fromA = await a.append('x', { n: 1 });
    await b.append('x', { n: 2 }); // b's own: its caller has it
    const fromA2 = await a.append('x', { n: 3 });
    await settle();
    expect(got).toEqual([fromA.message, fromA2.message]);
    // Only b's own appends since the last look: nothing to hand out.
    await b.append('x', { n: 4 });
    await settle();
    expect(got).toHaveLength(2);
    off();
    await a.append('x', { n: 5 });
    await settle();
    expect(got).toHaveLength(2);
    // A duplicate (same idempotency key) is no new message: nothing to hear.
    const again = b.watch!((m) => got.push(m));
    await a.append('y', 1, { idempotencyKey: 'k' });
    await a.append('y', 1, { idempotencyKey: 'k' });
    await settle();
    expect(got.map((m) => [m.channel, m.offset])).toEqual([['x', 1], ['x', 3], ['y', 1]]);
    again();
  });

  it('a reader that fell behind the trimming of the feed gets the newest message of each channel written since, then goes on', async () => {
    const path = join(dir, 'behind.db');
    const [a, b] = [open(path), open(path)];
    const got: StoredMessage[] = [];
    b.watch!((m) => got.push(m));
    // Appended without yielding to the event loop: b's watch cannot read in between.
    for (let n = 1; n <= 5; n++) await a.append('p', n);
    for (let n = 1; n <= 3; n++) await a.append('q', n);
    await a.append('r', 1);
    // What the trigger does to rows past FANOUT_ROWS_KEPT, done by hand: the first rows are gone.
    const raw = new Database(path);
    raw.prepare('DELETE FROM fanout WHERE id <= (SELECT MIN(id) FROM fanout) + 6').run();
    raw.close();
    await settle();
    // The newest of every channel written since (subscribers read the rest from history), then the
    // rows still in the feed, in order.
    const summary = got.map((m) => `${m.channel}${m.offset}`);
    expect(summary.slice(0, 3).sort()).toEqual(['p5', 'q3', 'r1']);
    expect(summary.slice(3)).toEqual(['q3', 'r1']);
    await a.append('p', 6);
    await settle();
    expect(got.at(-1)).toMatchObject({ channel: 'p', offset: 6, data: 6 });
  });

  it('a private in-memory database has no watch (nothing else can write it)', () => {
    const store = createSqliteStore({ path: ':memory:' });
    stores.add(store);
    expect(store.watch).toBeUndefined();
    expect(store.presence?.watch).toBeUndefined();
    expect(() => createSqliteStore({ path: join(dir, 'bad.db'), watchIntervalMs: 0 })).toThrow(RangeError);
  });

  it('presence: every change of either object reaches both watches (their own included), in commit order, each channel\'s versions counting up by one', async () => {
    const path = join(dir, 'presence-feed.db');
    const [a, b] = [open(path), open(path)];
    const A = { node: 'na', connection: 'c1' };
    const B = { node: 'nb', connection: 'c2' };
    const JOIN = { graceMs: 1000, maxMembers: 100 };
    await a.presence!.join('before', { session: 's0' }, A, JOIN);
    const atA: PresenceChange[] = [];
    const atB: PresenceChange[] = [];
    a.presence!.watch!((c) => atA.push(c));
    b.presence!.watch!((c) => atB.push(c));
    await a.presence!.join('room', { session: 's1', user: 'u1', info: { k: 1 } }, A, JOIN);
    await b.presence!.join('room', { session: 's2' }, B, JOIN);
    await b.presence!.join('room', { session: 's1', info: 'moved' }, B, JOIN); // continued: no change
    await a.presence!.leave('s2', ['room']);
    await b.presence!.leave('s1', ['room']); // the channel empties: its version goes with it
    await a.presence!.join('room', { session: 's3' }, A, JOIN);
    await settle();
    const summary = (changes: PresenceChange[]) => changes.map((c) => `${c.kind} ${c.member.session} ${c.version!.seq}`);
    expect(summary(atA)).toEqual(['join s1 1', 'join s2 2', 'leave s2 3', 'leave s1 4', 'join s3 1']);
    expect(atB).toEqual(atA);
    expect(atA[0]).toEqual({ kind: 'join', channel: 'room', member: { session: 's1', user: 'u1', info: { k: 1 } }, version: atA[0]!.version });
    const epochs = new Set(atA.map((c) => c.version!.epoch));
    expect(epochs.size).toBe(2);
    expect(atA[4]!.version!.epoch).not.toBe(atA[0]!.version!.epoch);
    // A read of every member says which change it reflects.
    expect(await b.presence!.snapshot!('room')).toEqual({ version: atA[4]!.version, members: [{ session: 's3' }] });
    expect(await b.presence!.snapshot!('nobody')).toEqual({ members: [] });
  });

  it('presence: a reader that fell behind the trimming of its feed is told it may have missed any channel\'s changes, then goes on', async () => {
    const path = join(dir, 'presence-behind.db');
    const [a, b] = [open(path), open(path)];
    const A = { node: 'na', connection: 'c1' };
    const JOIN = { graceMs: 1000, maxMembers: 100 };
    const got: PresenceChange[] = [];
    const missed: (readonly string[] | undefined)[] = [];
    b.presence!.watch!((c) => got.push(c));
    b.presence!.onMissed!((channels) => missed.push(channels));
    for (let i = 0; i < 5; i++) await a.presence!.join('p', { session: `s${i}` }, A, JOIN);
    // What the triggers do to rows past PRESENCE_FEED_ROWS_KEPT, done by hand: the first rows are gone.
    const raw = new Database(path);
    raw.prepare('DELETE FROM presence_feed WHERE id <= (SELECT MIN(id) FROM presence_feed) + 2').run();
    raw.close();
    await settle();
    expect(missed).toEqual([undefined]);
    expect(got.map((c) => c.member.session)).toEqual(['s3', 's4']);
    await a.presence!.leave('s4', ['p']);
    await settle();
    expect(got.at(-1)).toMatchObject({ kind: 'leave', member: { session: 's4' }, version: { seq: 6 } });
    expect(missed).toHaveLength(1);
  });

  it('the automatic sweep runs in one process per interval between all the processes on the file', async () => {
    const path = join(dir, 'sweep.db');
    let t = T0;
    const now = () => t;
    const [a, b] = [open(path, now), open(path, now)];
    const swept = () => {
      const raw = new Database(path, { readonly: true });
      try {
        return Number((raw.prepare("SELECT value FROM meta WHERE key = 'sweep_started_at'").get() as { value: string } | undefined)?.value);
      } finally {
        raw.close();
      }
    };
    await a.append('c', 1); // a's first write: its automatic sweep is due, and it takes it
    expect(swept()).toBe(T0);
    t += 1000;
    await b.append('c', 2); // b's first write: due by b's own count, but a swept a second ago
    expect(swept()).toBe(T0);
    t += AUTO_SWEEP_INTERVAL_MS;
    await b.append('c', 3); // past the interval since a's: b takes it
    expect(swept()).toBe(t);
    t += 10;
    await a.append('c', 4);
    expect(swept()).toBe(t - 10);
    // A called sweep always runs, and counts.
    await a.sweep();
    expect(swept()).toBe(t);
  });
});
