/**
 * What only the SQLite engine promises: data outlives the store instance and the process, including a
 * process killed with SIGKILL in the middle of a stream of appends.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import ts from 'typescript';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { StoreError, StoreUnavailableError } from '../../src/store/index.js';
import { createSqliteStore, SQLITE_SCHEMA_VERSION, type SqliteStore } from '../../src/store/sqlite/index.js';
import { isUnwrittenEpoch } from '../../src/protocol/frames.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURE = fileURLToPath(new URL('./fixtures/sqlite-appender.mjs', import.meta.url));
const T0 = 1_700_000_000_000;

let dir: string;
const stores = new Set<SqliteStore>();
const children = new Set<ChildProcess>();

function open(path: string, now: () => number = () => T0): SqliteStore {
  const store = createSqliteStore({ path, now });
  stores.add(store);
  return store;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lifeline-sqlite-durability-'));
});
afterEach(async () => {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
  for (const store of stores) await store.close();
  stores.clear();
  rmSync(dir, { recursive: true, force: true });
});

describe('sqlite store on disk', () => {
  it('a new instance on the same file continues the epoch and offsets, and keeps sessions and dedupe records', async () => {
    const path = join(dir, 'store.db');
    const first = open(path);
    const a1 = await first.append('a', { n: 1 }, { idempotencyKey: 'key-1' });
    await first.append('a', { n: 2 });
    await first.append('b', 'b1');
    await first.saveSession({ id: 's', tokenHash: 'h', user: 'alice', channels: ['a', 'b'], expiresAt: T0 + 60_000 });
    await first.claimMessage('s', 1);
    await first.finishMessage('s', 1, { state: 'done' });
    await first.claimMessage('s', 2);
    const headA = await first.head('a');
    const headB = await first.head('b');
    await first.close();

    const second = open(path);
    expect(await second.head('a')).toEqual(headA);
    expect(await second.head('b')).toEqual(headB);
    const history = await second.read('a', { epoch: headA.epoch, offset: 0 }, 10);
    expect(history.complete).toBe(true);
    expect(history.messages.map((m) => [m.offset, m.data, m.time])).toEqual([
      [1, { n: 1 }, T0],
      [2, { n: 2 }, T0],
    ]);
    const a3 = await second.append('a', { n: 3 });
    expect(a3.message).toMatchObject({ epoch: headA.epoch, offset: 3 });
    expect(await second.append('a', { n: 1 }, { idempotencyKey: 'key-1' })).toEqual({ message: a1.message, duplicate: true });
    expect(await second.loadSession('s')).toEqual({ id: 's', tokenHash: 'h', user: 'alice', channels: ['a', 'b'], expiresAt: T0 + 60_000 });
    expect(await second.claimMessage('s', 1)).toEqual({ claimed: false, outcome: { state: 'done' } });
    expect(await second.claimMessage('s', 2)).toEqual({ claimed: false, outcome: { state: 'claimed' } });
    expect(await second.claimMessage('s', 3)).toEqual({ claimed: true });
  });

  it('upgrades a version 1 file in place: sessions keep their channels, read-only channels become unwritten', async () => {
    const path = join(dir, 'v1.db');
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.exec(`
      CREATE TABLE channels (name TEXT PRIMARY KEY, epoch TEXT NOT NULL, last_offset INTEGER NOT NULL, last_time INTEGER) WITHOUT ROWID;
      CREATE TABLE messages (channel TEXT NOT NULL, seq INTEGER NOT NULL, time INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (channel, seq));
      CREATE INDEX messages_by_time ON messages (channel, time, seq);
      CREATE TABLE idempotency_keys (key TEXT PRIMARY KEY, channel TEXT NOT NULL, epoch TEXT NOT NULL, seq INTEGER NOT NULL, time INTEGER NOT NULL, data TEXT NOT NULL, expires_at INTEGER NOT NULL);
      CREATE INDEX idempotency_keys_by_expiry ON idempotency_keys (expires_at);
      CREATE TABLE sessions (id TEXT PRIMARY KEY, token_hash TEXT NOT NULL, user TEXT, channels TEXT NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID;
      CREATE INDEX sessions_by_expiry ON sessions (expires_at);
      CREATE TABLE message_claims (session TEXT NOT NULL, message_id INTEGER NOT NULL, state TEXT NOT NULL, incident TEXT, expires_at INTEGER NOT NULL, PRIMARY KEY (session, message_id)) WITHOUT ROWID;
      CREATE INDEX message_claims_by_expiry ON message_claims (expires_at);
      INSERT INTO channels VALUES ('news', 'abcdef0123456789', 2, ${T0}), ('read-only', 'fedcba9876543210', 0, NULL);
      INSERT INTO messages VALUES ('news', 1, ${T0}, '"one"'), ('news', 2, ${T0}, '"two"');
      INSERT INTO sessions VALUES ('s', 'h', NULL, '["news","read-only"]', ${T0 + 60_000});
      INSERT INTO message_claims VALUES ('s', 1, 'done', NULL, ${T0 + 60_000});
      PRAGMA user_version = 1;
    `);
    db.close();
    const store = open(path);
    expect(await store.head('news')).toEqual({ epoch: 'abcdef0123456789', offset: 2 });
    expect((await store.read('news', { epoch: 'abcdef0123456789', offset: 0 }, 10)).messages.map((m) => m.data)).toEqual(['one', 'two']);
    expect(isUnwrittenEpoch((await store.head('read-only')).epoch)).toBe(true);
    expect((await store.loadSession('s'))?.channels).toEqual(['news', 'read-only']);
    expect(await store.claimMessage('s', 1)).toEqual({ claimed: false, outcome: { state: 'done' } });
    expect((await store.append('news', 'three')).message).toMatchObject({ epoch: 'abcdef0123456789', offset: 3 });
  });

  it('an automatic sweep goes a bounded batch at a time, whatever the number of channels, and finishes in the background', async () => {
    let t = T0;
    const store = createSqliteStore({ path: join(dir, 'sweep.db'), now: () => t, history: { maxAgeMs: 1000 } });
    stores.add(store);
    for (let c = 0; c < 5000; c++) await store.append(`ch.${c}`, c);
    await store.sweep();
    t += 61_000; // past the age limit and the automatic sweep interval
    await store.append('trigger', 'x');
    // One step ran inside that write: at most one batch (2000) of the 5000 aged-out messages is gone.
    const after = (await store.stats()).messages!;
    expect(after).toBeGreaterThanOrEqual(5001 - 2000);
    expect(after).toBeLessThan(5001);
    // The rest goes in further steps, without another write.
    await expect.poll(async () => (await store.stats()).messages, { timeout: 10_000 }).toBe(1);
  });

  it('trimmed offsets are not reused after a restart', async () => {
    const path = join(dir, 'store.db');
    let t = T0;
    const first = createSqliteStore({ path, now: () => t, history: { maxAgeMs: 1000 } });
    stores.add(first);
    await first.append('a', 1);
    await first.append('a', 2);
    t += 5000;
    await first.sweep();
    await first.close();
    const second = createSqliteStore({ path, now: () => t, history: { maxAgeMs: 1000 } });
    stores.add(second);
    expect((await second.head('a')).offset).toBe(2);
    expect((await second.append('a', 3)).message.offset).toBe(3);
  });

  it('a version-2 file gets presence (version 3): its sessions and history stay, members can join', async () => {
    const path = join(dir, 'v2.db');
    const made = open(path);
    await made.append('news', 'one');
    await made.saveSession({ id: 's', tokenHash: 'h', channels: ['news'], expiresAt: Date.now() + 60_000 });
    await made.close();
    const db = new Database(path);
    db.exec('DROP TABLE presence; DROP TABLE presence_nodes; ALTER TABLE session_channels DROP COLUMN presence; PRAGMA user_version = 2;');
    db.close();
    const store = open(path);
    expect((await store.loadSession('s'))?.channels).toEqual(['news']);
    expect((await store.head('news')).offset).toBe(1);
    expect(await store.presence!.join('news', { session: 's' }, { node: 'n', connection: 'c' }, { graceMs: 1000, maxMembers: 10 })).toBe('joined');
    await store.updateSession('s', { subscribe: [{ channel: 'news', presence: { events: true } }] });
    expect({ ...(await store.loadSession('s'))?.presence }).toEqual({ news: { events: true } });
    const raw = new Database(path, { readonly: true });
    try {
      expect(raw.pragma('user_version', { simple: true })).toBe(SQLITE_SCHEMA_VERSION);
    } finally {
      raw.close();
    }
  });

  it('two instances on one file claim each presence leave once, sweeping at once', async () => {
    const path = join(dir, 'store.db');
    const one = open(path);
    const two = open(path);
    const holder = { node: 'n', connection: 'c' };
    for (let i = 0; i < 200; i++) await one.presence!.join('room', { session: `s${i}` }, holder, { graceMs: 0, maxMembers: 1000 });
    for (let i = 0; i < 200; i++) await two.presence!.detach(`s${i}`, ['room'], holder, 0);
    const claimed: string[] = [];
    const sweep = async (store: typeof one) => {
      for (;;) {
        const left = await store.presence!.expire(7);
        claimed.push(...left.map((c) => c.member.session));
        if (left.length === 0) return;
        await new Promise((r) => setImmediate(r));
      }
    };
    await Promise.all([sweep(one), sweep(two)]);
    expect(claimed).toHaveLength(200);
    expect(new Set(claimed).size).toBe(200);
    expect(await one.presence!.count('room')).toBe(0);
  });

  it('two instances on one file share one sequence per channel', async () => {
    const path = join(dir, 'store.db');
    const one = open(path);
    const two = open(path);
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 ? one : two).append('a', i)));
    expect(results.map((r) => r.message.offset).sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(new Set(results.map((r) => r.message.epoch)).size).toBe(1);
    expect(await one.head('a')).toEqual(await two.head('a'));
  });

  it('creates the parent directory, uses WAL mode and records its schema version', async () => {
    const path = join(dir, 'deep', 'er', 'store.db');
    const store = open(path);
    await store.append('a', 1);
    expect(store.durable).toBe(true);
    expect(store.kind).toBe('sqlite');
    const raw = new Database(path, { readonly: true });
    try {
      expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(raw.pragma('user_version', { simple: true })).toBe(SQLITE_SCHEMA_VERSION);
    } finally {
      raw.close();
    }
  });

  it('refuses a file written by a newer schema version with StoreError, leaving it alone', () => {
    const path = join(dir, 'future.db');
    const raw = new Database(path);
    raw.pragma(`user_version = ${SQLITE_SCHEMA_VERSION + 1}`);
    raw.close();
    let error: unknown;
    try {
      open(path);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).code).toBe('LIFELINE_ERR_STORE');
    const check = new Database(path, { readonly: true });
    try {
      expect(check.pragma('user_version', { simple: true })).toBe(SQLITE_SCHEMA_VERSION + 1);
    } finally {
      check.close();
    }
  });

  it('reports a file that is not a database as StoreUnavailableError, with the engine error as cause', () => {
    const path = join(dir, 'garbage.db');
    writeFileSync(path, 'this is not a sqlite database, just text that is long enough to fill a header. '.repeat(20));
    let error: unknown;
    try {
      open(path);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as StoreUnavailableError).code).toBe('LIFELINE_ERR_STORE_UNAVAILABLE');
    expect((error as Error).cause).toBeInstanceOf(Error);
  });
});

// The child runs plain node on JavaScript compiled from src/store (and src/errors.ts, src/optional-dependency.ts), transpiled
// here so the test does not depend on the rest of the tree building. The output sits under
// node_modules/.cache so the child resolves better-sqlite3 from this package.
describe('sqlite store after SIGKILL', () => {
  let build: string;
  let storeModule: string;

  beforeAll(() => {
    const cache = join(ROOT, 'node_modules', '.cache');
    mkdirSync(cache, { recursive: true });
    build = mkdtempSync(join(cache, 'lifeline-store-crash-'));
    // The store and everything inward of it (the protocol's types and text rules), whole folders: a new
    // module there is compiled without this list having to know it.
    const folder = (dir: string): string[] => readdirSync(join(ROOT, 'src', dir), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => `${dir}/${f}`);
    const sources = ['errors.ts', 'optional-dependency.ts', ...folder('protocol'), ...folder('store')];
    for (const source of sources) {
      const { outputText } = ts.transpileModule(readFileSync(join(ROOT, 'src', source), 'utf8'), {
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
        fileName: source,
      });
      const out = join(build, source.replace(/\.ts$/, '.js'));
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, outputText);
    }
    writeFileSync(join(build, 'package.json'), '{"type":"module"}\n');
    storeModule = join(build, 'store', 'sqlite', 'index.js');
  });
  afterAll(() => {
    if (build) rmSync(build, { recursive: true, force: true });
  });

  interface Ack {
    epoch: string;
    offset: number;
    i: number;
  }

  /** Start the appender, SIGKILL it once it has acknowledged `count` appends, return what it printed. */
  async function appendUntilKilled(path: string, first: number, count: number, synchronous: string) {
    const child = spawn(process.execPath, [FIXTURE, storeModule, path, String(first), synchronous], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = once(child, 'exit');
    const lines = createInterface({ input: child.stdout! });
    const acks: Ack[] = [];
    let ready: { epoch: string; offset: number } | undefined;
    for await (const line of lines) {
      const r = /^ready (~?[0-9a-f]+) (\d+)$/.exec(line);
      if (r) ready = { epoch: r[1]!, offset: Number(r[2]) };
      // A line cut by the kill does not match: only complete acks count.
      const m = /^ack ([0-9a-f]+) (\d+) (\d+) (true|false)$/.exec(line);
      if (m) {
        expect(m[4]).toBe('false');
        acks.push({ epoch: m[1]!, offset: Number(m[2]), i: Number(m[3]) });
        if (acks.length === count) child.kill('SIGKILL');
      }
    }
    const [code, signal] = (await exited) as [number | null, NodeJS.Signals | null];
    children.delete(child);
    expect({ code, signal, stderr }).toEqual({ code: null, signal: 'SIGKILL', stderr: '' });
    expect(ready).toBeDefined();
    return { ready: ready!, acks };
  }

  for (const synchronous of ['normal', 'full'] as const) {
    it(`keeps every acknowledged append, contiguous from 1, across two kills (synchronous: ${synchronous})`, async () => {
      expect(existsSync(storeModule)).toBe(true);
      const path = join(dir, 'crash.db');
      const round1 = await appendUntilKilled(path, 1, 300, synchronous);
      const round2 = await appendUntilKilled(path, 1_000_000, 150, synchronous);

      // The restarted process continued the same epoch, after every acknowledged offset.
      expect(round1.ready.offset).toBe(0);
      expect(round2.ready.epoch).toBe(round1.acks[0]!.epoch);
      expect(round2.ready.offset).toBeGreaterThanOrEqual(round1.acks.at(-1)!.offset);
      expect(round2.acks[0]!.offset).toBe(round2.ready.offset + 1);
      for (const round of [round1, round2]) {
        round.acks.forEach((ack, n) => expect(ack.offset).toBe(round.acks[0]!.offset + n));
      }

      const store = open(path, Date.now);
      const head = await store.head('crash');
      expect(head.epoch).toBe(round1.acks[0]!.epoch);
      const { messages, complete, more } = await store.read('crash', { epoch: head.epoch, offset: 0 }, 1_000_000);
      expect([complete, more]).toEqual([true, false]);
      // Contiguous from 1 to the head: nothing lost, nothing doubled.
      expect(messages.map((m) => m.offset)).toEqual(Array.from({ length: head.offset }, (_, n) => n + 1));
      // Every acknowledged append is there with its data.
      const byOffset = new Map(messages.map((m) => [m.offset, m.data as { i: number; pad: string }]));
      for (const ack of [...round1.acks, ...round2.acks]) {
        expect(ack.epoch).toBe(head.epoch);
        expect(byOffset.get(ack.offset)).toEqual({ i: ack.i, pad: 'x'.repeat(200) });
      }
      // Every stored message has its idempotency record (one transaction), and no record exists
      // without its message: the key after the last stored one of each round is unused.
      for (const m of messages) {
        const i = (m.data as { i: number }).i;
        const retry = await store.append('crash', m.data, { idempotencyKey: `k${i}` });
        expect(retry).toEqual({ message: m, duplicate: true });
      }
      const lastOfRound1 = round2.ready.offset;
      const nextKeys = [(byOffset.get(lastOfRound1)?.i ?? 0) + 1, byOffset.get(head.offset)!.i + 1];
      expect(nextKeys[0]).toBeLessThan(1_000_000);
      for (const i of nextKeys) {
        expect((await store.append('crash', 'new', { idempotencyKey: `k${i}` })).duplicate).toBe(false);
      }
    });
  }
});
