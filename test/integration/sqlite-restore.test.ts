/**
 * A backup of the embedded store restored under a real `lifeline serve` process (sqlite, `--data-dir`):
 * a client that saw messages the backup does not hold is told `recovered: false` with the channel's new
 * epoch, never handed other messages under the offsets it already had; new publishes reach it; the
 * server says what happened in its log. The backup is taken while the server runs, through SQLite's
 * online backup API (as `sqlite3 lifeline.db ".backup ..."` takes one).
 */
import { copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { EventFrame, SubscribedFrame, WelcomeFrame } from '../../src/protocol/index.js';
import { killAll, startServe, tempDataDir, type ServeProcess, publishTo } from '../support/serve-process.js';
import { connectV1, type V1Peer } from '../support/v1-peer.js';

const KEY = 'restore-test-key-0123456789';

afterEach(async () => {
  await killAll();
});

async function publish(node: ServeProcess, channel: string, data: unknown): Promise<void> {
  expect(await publishTo(node, KEY, channel, data)).toBe(200);
}

async function events(peer: V1Peer, count: number): Promise<EventFrame[]> {
  const got: EventFrame[] = [];
  for (let i = 0; i < count; i++) got.push(await peer.next<EventFrame>((f) => f.t === 'ev', 10_000));
  return got;
}

describe('a sqlite backup restored under lifeline serve', () => {
  it('a client that had 1-6 resumes after a restore of a backup taken after 3: recovered false, the new epoch, offsets 4-6 never reused under the old one', async () => {
    const dir = tempDataDir();
    const db = join(dir, 'lifeline.db');
    const saved = join(dir, 'backup-after-3.db');
    const args = ['--data-dir', dir, '--publish-key', KEY];
    const first = await startServe(args);

    const peer = await connectV1(first.url);
    peer.send({ t: 'hello', v: 1 });
    const welcome = await peer.next<WelcomeFrame>((f) => f.t === 'welcome');
    peer.send({ t: 'sub', ch: 'news' });
    await peer.next((f) => f.t === 'subscribed');
    for (let n = 1; n <= 3; n++) await publish(first, 'news', `n${n}`);
    const early = await events(peer, 3);
    // The backup, while the server runs: what an operator's nightly `.backup` holds.
    const source = new Database(db, { readonly: true });
    await source.backup(saved);
    source.close();
    for (let n = 4; n <= 6; n++) await publish(first, 'news', `n${n}`);
    const late = await events(peer, 3);
    const seen = [...early, ...late];
    expect(seen.map((e) => [e.off, e.data])).toEqual([1, 2, 3, 4, 5, 6].map((n) => [n, `n${n}`]));
    const oldEpoch = seen[0]!.epoch;
    expect(seen.every((e) => e.epoch === oldEpoch)).toBe(true);

    first.kill('SIGTERM');
    expect(await first.exited).toEqual({ code: 0, signal: null });
    await peer.closed;
    // The restore: the service stopped, the main file replaced, its WAL and index (if any) removed.
    rmSync(`${db}-wal`, { force: true });
    rmSync(`${db}-shm`, { force: true });
    copyFileSync(saved, db);

    const second = await startServe(args);
    const back = await connectV1(second.url);
    back.send({ t: 'hello', v: 1, token: welcome.token, channels: { news: { epoch: oldEpoch, offset: 6 } } });
    expect(await back.next<WelcomeFrame>((f) => f.t === 'welcome')).toMatchObject({ resumed: true, recovered: false });
    const sub = await back.next<SubscribedFrame>((f) => f.t === 'subscribed');
    expect(sub).toMatchObject({ ch: 'news', recovered: false });
    const newEpoch = sub.epoch;
    expect(newEpoch).not.toBe(oldEpoch);
    const warning = await second.waitForLog((e) => typeof e.msg === 'string' && e.msg.startsWith('store rollback'));
    expect(warning).toMatchObject({ level: 40, channel: 'news', epoch: oldEpoch, seen: 6, found: 3, newEpoch });
    // Whatever is replayed or published now is of the new epoch: nothing arrives as offset 4-6 of the old one.
    await publish(second, 'news', 'after the restore');
    const after: EventFrame[] = [];
    for (;;) {
      const ev = await back.next<EventFrame>((f) => f.t === 'ev', 10_000);
      after.push(ev);
      if (ev.data === 'after the restore') break;
    }
    expect(after.every((e) => e.epoch === newEpoch)).toBe(true);
    expect(after.at(-1)).toMatchObject({ epoch: newEpoch, off: 4 });
    back.ws.close();

    // Started again on the same files: the fence matches, nothing more is rotated or logged.
    second.kill('SIGTERM');
    expect(await second.exited).toEqual({ code: 0, signal: null });
    const third = await startServe(args);
    const fresh = await connectV1(third.url);
    fresh.send({ t: 'hello', v: 1 });
    await fresh.next((f) => f.t === 'welcome');
    fresh.send({ t: 'sub', ch: 'news', from: { epoch: newEpoch, offset: 4 } });
    expect(await fresh.next<SubscribedFrame>((f) => f.t === 'subscribed')).toMatchObject({ epoch: newEpoch, offset: 4, recovered: true });
    expect(third.logs.some((e) => typeof e.msg === 'string' && e.msg.startsWith('store rollback'))).toBe(false);
    fresh.ws.close();
  }, 60_000);
});
