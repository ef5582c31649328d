/**
 * The SQLite engine's rollback fence: a database file restored from a backup older than what clients saw
 * never gives an offset out twice with other data in one epoch. Each affected channel gets a fresh epoch
 * when the store opens, so a reader at a position of the old epoch is told its read is not complete.
 * Real files, SQLite's own online backup API, and a second real process on the same file.
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, copyFileSync, existsSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isUnwrittenEpoch } from '../../src/protocol/frames.js';
import type { StoredMessage } from '../../src/store/index.js';
import { createSqliteStore, fencePathOf, type SqliteStore, type SqliteStoreOptions, type StoreRollback } from '../../src/store/sqlite/index.js';

const STORE_MODULE = fileURLToPath(new URL('../../dist/store/sqlite/index.js', import.meta.url));

let dir: string;
const stores = new Set<SqliteStore>();

function open(path: string, options: Partial<SqliteStoreOptions> = {}): SqliteStore {
  const store = createSqliteStore({ path, ...options });
  stores.add(store);
  return store;
}

async function close(store: SqliteStore): Promise<void> {
  stores.delete(store);
  await store.close();
}

/** A consistent copy of the live database through SQLite's online backup API (as `sqlite3 .backup` takes one). */
async function backup(path: string, to: string): Promise<void> {
  const db = new Database(path, { readonly: true });
  try {
    await db.backup(to);
  } finally {
    db.close();
  }
}

/** Restore `from` over the (closed) database at `path`: the main file replaced, its WAL and index gone. */
function restore(from: string, path: string): void {
  rmSync(`${path}-wal`, { force: true });
  rmSync(`${path}-shm`, { force: true });
  copyFileSync(from, path);
}

/** The rollbacks `store.onRollback` hands a listener, once the microtask that delivers them ran. */
async function heard(store: SqliteStore): Promise<StoreRollback[]> {
  const got: StoreRollback[] = [];
  const off = store.onRollback((r) => got.push(r));
  await new Promise((r) => setImmediate(r));
  off();
  return got;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lifeline-sqlite-fence-'));
});
afterEach(async () => {
  for (const store of stores) await store.close();
  stores.clear();
  rmSync(dir, { recursive: true, force: true });
});

describe('sqlite rollback fence', () => {
  it('a backup taken after a3 and restored after a6: a fresh epoch, the old position not complete, offsets 4-6 never reused under the old epoch', async () => {
    const path = join(dir, 'lifeline.db');
    const saved = join(dir, 'backup-after-3.db');
    const store = open(path);
    expect(store.fencePath).toBe(join(dir, 'lifeline.fence.db'));
    expect(store.rollbacksAtOpen).toEqual([]);
    for (let n = 1; n <= 3; n++) await store.append('a', `a${n}`, { idempotencyKey: `key-${n}` });
    await store.append('b', 'b1');
    await backup(path, saved);
    for (let n = 4; n <= 6; n++) await store.append('a', `a${n}`);
    const seen = await store.head('a');
    const headB = await store.head('b');
    expect(seen.offset).toBe(6);
    await close(store);

    restore(saved, path);
    const reopened = open(path);
    const newEpoch = (await reopened.head('a')).epoch;
    const expected: StoreRollback = { channel: 'a', epoch: seen.epoch, seen: 6, found: 3, newEpoch };
    expect(newEpoch).not.toBe(seen.epoch);
    expect(reopened.rollbacksAtOpen).toEqual([expected]);
    expect(await heard(reopened)).toEqual([expected]);
    // The channel the backup holds whole keeps its epoch: nothing of it was lost.
    expect(await reopened.head('b')).toEqual(headB);

    // A client that had a6 (or only a3) resumes: another epoch, so not complete, and the retained
    // history is offered from its start, a1-a3 under the new epoch (the same data the backup holds).
    for (const offset of [3, 6]) {
      const read = await reopened.read('a', { epoch: seen.epoch, offset }, 10);
      expect(read.complete).toBe(false);
      expect(read.head).toEqual({ epoch: newEpoch, offset: 3 });
      expect(read.messages.map((m) => [m.epoch, m.offset, m.data])).toEqual([
        [newEpoch, 1, 'a1'],
        [newEpoch, 2, 'a2'],
        [newEpoch, 3, 'a3'],
      ]);
    }
    // The next append is offset 4 of the new epoch, never of the old one.
    const next = await reopened.append('a', 'other a4');
    expect(next.message).toMatchObject({ epoch: newEpoch, offset: 4 });
    // A publisher retrying a2 with its key gets the same message, under the epoch it now lives in.
    const retry = await reopened.append('a', 'a2', { idempotencyKey: 'key-2' });
    expect(retry).toMatchObject({ duplicate: true, message: { epoch: newEpoch, offset: 2, data: 'a2' } });
    await close(reopened);

    // Once rotated, the fence matches the file: opening again rotates nothing.
    const again = open(path);
    expect(again.rollbacksAtOpen).toEqual([]);
    expect(await again.head('a')).toEqual({ epoch: newEpoch, offset: 4 });
  });

  it('a file copied while closed: a channel the copy lacks is unwritten, reported once, and its next epoch is a fresh one', async () => {
    const path = join(dir, 'lifeline.db');
    const saved = join(dir, 'copy.db');
    const store = open(path);
    await store.append('a', 'a1');
    await close(store); // closing checkpoints the WAL into the main file: a plain copy is whole
    copyFileSync(path, saved);
    const later = open(path);
    await later.append('a', 'a2');
    const c1 = await later.append('c', 'c1');
    await close(later);

    restore(saved, path);
    const reopened = open(path);
    const byChannel = new Map(reopened.rollbacksAtOpen.map((r) => [r.channel, r]));
    expect(byChannel.get('a')).toMatchObject({ seen: 2, found: 1 });
    const headC = await reopened.head('c');
    expect(isUnwrittenEpoch(headC.epoch)).toBe(true);
    expect(byChannel.get('c')).toEqual({ channel: 'c', epoch: c1.message.epoch, seen: 1, found: 0, newEpoch: headC.epoch });
    expect((await reopened.read('c', { epoch: c1.message.epoch, offset: 1 }, 10)).complete).toBe(false);
    const c1again = await reopened.append('c', 'other c1');
    expect(c1again.message.offset).toBe(1);
    expect(c1again.message.epoch).not.toBe(c1.message.epoch);
    await close(reopened);
    expect(open(path).rollbacksAtOpen).toEqual([]);
  });

  it('a backup from before an earlier rotation (the file in an older epoch than the fence) is rotated again', async () => {
    const path = join(dir, 'lifeline.db');
    const saved = join(dir, 'old.db');
    const store = open(path);
    const first = await store.append('a', 'a1');
    await store.append('a', 'a2');
    await backup(path, saved);
    await store.append('a', 'a3');
    await close(store);
    restore(saved, path);
    const second = open(path);
    const rotated = second.rollbacksAtOpen[0]!;
    expect(rotated).toMatchObject({ epoch: first.message.epoch, seen: 3, found: 2 });
    await second.append('a', 'b3');
    await close(second);

    // The same old backup again: the file says the first epoch at offset 2, the fence the second at 3.
    restore(saved, path);
    const third = open(path);
    const head = await third.head('a');
    expect(third.rollbacksAtOpen).toEqual([{ channel: 'a', epoch: rotated.newEpoch, seen: 3, found: 0, newEpoch: head.epoch }]);
    expect([first.message.epoch, rotated.newEpoch]).not.toContain(head.epoch);
    expect(head.offset).toBe(2);
  });

  it('a file ahead of the fence (appends it never saw, as when a crash cuts the fence write off) is not rotated, and the fence catches up', async () => {
    const path = join(dir, 'lifeline.db');
    const store = open(path);
    await store.append('a', 'a1');
    await close(store);
    const unfenced = open(path, { fence: false });
    await unfenced.append('a', 'a2');
    await close(unfenced);
    const saved = join(dir, 'after-2.db');
    copyFileSync(path, saved);
    const fenced = open(path);
    expect(fenced.rollbacksAtOpen).toEqual([]);
    const head = await fenced.head('a');
    await fenced.append('a', 'a3');
    await close(fenced);
    restore(saved, path);
    // The fence now knows offset 3: the restored file (at 2) is behind it.
    expect(open(path).rollbacksAtOpen).toEqual([expect.objectContaining({ epoch: head.epoch, seen: 3, found: 2 })]);
  });

  it('a file written before the fence existed (an upgrade) is fenced from its first open on, appended to or not', async () => {
    const path = join(dir, 'lifeline.db');
    const saved = join(dir, 'saved.db');
    const before = open(path, { fence: false });
    for (let n = 1; n <= 5; n++) await before.append('a', `a${n}`);
    await backup(path, saved);
    await before.append('a', 'a6');
    await close(before);
    const upgraded = open(path);
    expect(upgraded.rollbacksAtOpen).toEqual([]);
    const head = await upgraded.head('a');
    await close(upgraded);
    restore(saved, path);
    expect(open(path).rollbacksAtOpen).toEqual([expect.objectContaining({ epoch: head.epoch, seen: 6, found: 5 })]);
  });

  it('fence: false keeps no fence file and detects nothing (a restored file then continues its epoch); a :memory: database has none', async () => {
    const path = join(dir, 'plain.db');
    const saved = join(dir, 'plain-copy.db');
    const store = open(path, { fence: false });
    expect(store.fencePath).toBeUndefined();
    await store.append('a', 'a1');
    await backup(path, saved);
    const a2 = await store.append('a', 'a2');
    await close(store);
    expect(existsSync(fencePathOf(path))).toBe(false);
    restore(saved, path);
    const reopened = open(path, { fence: false });
    expect(reopened.rollbacksAtOpen).toEqual([]);
    // What the fence is for: without it, offset 2 of the same epoch is given out again with other data.
    expect((await reopened.append('a', 'other a2')).message).toMatchObject({ epoch: a2.message.epoch, offset: 2 });

    const memory = open(':memory:');
    expect(memory.fencePath).toBeUndefined();
    expect(() => createSqliteStore({ path: ':memory:', fence: true })).toThrow(RangeError);
    expect(() => createSqliteStore({ path, fence: path })).toThrow(RangeError);
    expect(() => createSqliteStore({ path, fenceSynchronous: 'always' as 'full' })).toThrow(RangeError);
    expect(fencePathOf('/d/lifeline.db')).toBe('/d/lifeline.fence.db');
    expect(fencePathOf('/d/data')).toBe('/d/data.fence');
  });

  it('a fence at a path of its own, fsynced on every append, works the same', async () => {
    const path = join(dir, 'lifeline.db');
    const fence = join(dir, 'elsewhere', 'fence.db');
    const saved = join(dir, 'saved.db');
    const store = open(path, { fence: join(dir, 'fence.db'), fenceSynchronous: 'full' });
    await store.append('a', 'a1');
    await backup(path, saved);
    await store.append('a', 'a2');
    await close(store);
    restore(saved, path);
    // Another (empty) fence knows nothing; the right one does.
    expect(open(path, { fence }).rollbacksAtOpen).toEqual([]);
    for (const s of [...stores]) await close(s);
    expect(open(path, { fence: join(dir, 'fence.db') }).rollbacksAtOpen).toEqual([expect.objectContaining({ seen: 2, found: 1 })]);
  });

  it('a listener removed before the delivery hears nothing; one that throws does not silence the others', async () => {
    const path = join(dir, 'lifeline.db');
    const saved = join(dir, 'saved.db');
    const store = open(path);
    await store.append('a', 'a1');
    await backup(path, saved);
    await store.append('a', 'a2');
    await close(store);
    restore(saved, path);
    const reopened = open(path);
    const removed: StoreRollback[] = [];
    reopened.onRollback((r) => removed.push(r))();
    reopened.onRollback(() => {
      throw new Error('a broken listener');
    });
    expect(await heard(reopened)).toHaveLength(1);
    expect(removed).toEqual([]);
    expect(() => reopened.onRollback('no' as never)).toThrow(TypeError);
  });

  it('processes sharing the file share the fence: another process appends a4-a6, a backup after a3 is restored, and of two processes opening at once exactly one rotates', async () => {
    const path = join(dir, 'lifeline.db');
    const saved = join(dir, 'saved.db');
    const store = open(path);
    for (let n = 1; n <= 3; n++) await store.append('a', `a${n}`);
    await backup(path, saved);
    // A second, real process on the file (its own connection, its own attachment of the fence).
    const child = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { createSqliteStore } = await import(${JSON.stringify(STORE_MODULE)});
         const store = createSqliteStore({ path: ${JSON.stringify(path)} });
         for (let n = 4; n <= 6; n++) console.log((await store.append('a', 'a' + n)).message.offset);
         await store.close();`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    expect(out.trim().split('\n')).toEqual(['4', '5', '6']);
    const seen = await store.head('a');
    await close(store);

    restore(saved, path);
    const one = open(path);
    const two = open(path);
    const rotations = [...one.rollbacksAtOpen, ...two.rollbacksAtOpen];
    expect(rotations).toEqual([expect.objectContaining({ channel: 'a', epoch: seen.epoch, seen: 6, found: 3 })]);
    expect(await one.head('a')).toEqual({ epoch: rotations[0]!.newEpoch, offset: 3 });
    expect(await two.head('a')).toEqual({ epoch: rotations[0]!.newEpoch, offset: 3 });
    expect((await two.append('a', 'x')).message).toMatchObject({ epoch: rotations[0]!.newEpoch, offset: 4 });
  });

  it('a full disk under the fence alone: an append the database took is answered outcome unknown, never "not stored"; readers get it; its resend answers its offset', async (context) => {
    // The main file commits first, then the fence (two WAL files, each atomic on its own): with the
    // fence's disk full, the commit fails after the database took the append.
    const small = mkdtempSync(join(tmpdir(), 'lifeline-fence-disk-'));
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', small], { encoding: 'utf8' });
    if (mounted.status !== 0) {
      rmSync(small, { recursive: true, force: true });
      console.log(`skipped: cannot mount a tmpfs here (${(mounted.stderr || mounted.error?.message || '').trim()})`);
      context.skip();
      return;
    }
    try {
      const store = open(join(dir, 'lifeline.db'), { fence: join(small, 'fence.db'), probeIntervalMs: 50, watchIntervalMs: 5 });
      const other = open(join(dir, 'lifeline.db'), { fence: join(small, 'fence.db') });
      const seenHere: StoredMessage[] = [];
      store.watch!((m) => seenHere.push(m));
      await store.append('a', 'a1');
      const filler = openSync(join(small, 'filler'), 'w');
      try {
        for (;;) writeSync(filler, Buffer.alloc(4096));
      } catch (error) {
        expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
      } finally {
        closeSync(filler);
      }

      const failed = await store.append('b', 'b1', { idempotencyKey: 'key-b1' }).then(
        () => undefined,
        (e: unknown) => e as { code?: string },
      );
      expect(failed?.code).toBe('LIFELINE_ERR_STORE_OUTCOME_UNKNOWN');
      // It is stored: readers of the file (another store object, and this one) see it.
      const read = await other.read('b', { epoch: '', offset: 0 }, 10);
      expect(read.messages.map((m) => m.data)).toEqual(['b1']);
      // This object's own watchers get it too (from the feed, as another process's append): nothing visible is left undelivered.
      await expect.poll(() => seenHere.map((m) => `${m.channel}/${m.offset}`)).toContain('b/1');
      // Down until an append could succeed again: the probe writes the fence too.
      expect(store.available).toBe(false);
      await new Promise((r) => setTimeout(r, 300));
      expect(store.available).toBe(false);

      rmSync(join(small, 'filler'));
      await expect.poll(() => store.available, { timeout: 10_000 }).toBe(true);
      const again = await store.append('b', 'b1', { idempotencyKey: 'key-b1' });
      expect(again.duplicate).toBe(true);
      expect(again.message.offset).toBe(1);
      expect((await store.append('b', 'b2')).message.offset).toBe(2);
    } finally {
      for (const s of [...stores]) await close(s);
      spawnSync('umount', ['-l', small]);
      rmSync(small, { recursive: true, force: true });
    }
  });
});
