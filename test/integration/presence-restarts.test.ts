/**
 * Presence that does not flap on a deploy (issue 17 §1), end to end:
 * - in process: 200 members and a restart (1012 cycle, `server.restart()`): no leave and no join for the
 *   clients that resumed; exactly one leave for each client that really went away (closed with 1000,
 *   unsubscribed, never came back within the grace); every member still there afterwards;
 * - `lifeline serve` on sqlite: a SIGTERM cold restart (a new process on the same data dir) resumes every
 *   membership silently and the one client that did not come back leaves once, after the grace; a
 *   SIGKILLed process's members that do not come back leave after its lease and the grace, once a process
 *   is back (and those that come back stay, silently).
 * Watchers are real clients that ask for the events; the server's own `join`/`leave` events and /metrics
 * count the same things from the other side.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createSession, type LifelineSession, type PresenceEvent, type SessionOptions } from '../../src/client/index.js';
import type { WelcomeFrame } from '../../src/protocol/index.js';
import { createServer, type LifelineServer, type PresenceEvent as ServerPresenceEvent } from '../../src/server/index.js';
import { freePort } from '../support/ports.js';
import { killAll, startServe, tempDataDir } from '../support/serve-process.js';
import { connectV1, type V1Peer } from '../support/v1-peer.js';

const sessions: LifelineSession[] = [];
const peers: V1Peer[] = [];
let server: LifelineServer | undefined;
afterEach(async () => {
  for (const s of sessions.splice(0)) s.close();
  for (const p of peers.splice(0)) p.ws.terminate();
  await server?.shutdown();
  server = undefined;
  await killAll();
});

/** A session that records its presence events and every welcome (resumed or not). */
function member(url: string, options: Partial<SessionOptions> = {}) {
  const session = createSession({ url, soon: { minMs: 10, maxMs: 100 }, backoff: { baseMs: 50, capMs: 300 }, ...options });
  sessions.push(session);
  const seen = { joins: [] as PresenceEvent[], leaves: [] as { event: PresenceEvent; at: number }[], welcomes: [] as boolean[] };
  session.on('join', (e) => seen.joins.push(e));
  session.on('leave', (event) => seen.leaves.push({ event, at: Date.now() }));
  session.on('welcome', (w) => seen.welcomes.push(w.resumed));
  session.on('error', () => undefined);
  return { session, seen };
}
type Member = ReturnType<typeof member>;

/** A raw peer that joins and never reconnects by itself: a client that really goes away. */
async function goner(url: string, channel: string): Promise<{ peer: V1Peer; session: string }> {
  const peer = await connectV1(url);
  peers.push(peer);
  peer.send({ t: 'hello', v: 1 });
  const welcome = await peer.next<WelcomeFrame>((f) => f.t === 'welcome');
  peer.send({ t: 'sub', ch: channel, presence: { info: 'goner' } });
  await peer.next((f) => f.t === 'subscribed');
  return { peer, session: welcome.session };
}

/** A member watching `room`'s events, once it does (so it sees every member that joins after). */
async function watching(url: string): Promise<Member> {
  const watcher = member(url);
  let subscribed = false;
  watcher.session.on('subscribed', () => void (subscribed = true));
  watcher.session.subscribe('room', { presence: { events: true } });
  await until(() => subscribed, 'the watcher to watch');
  return watcher;
}

async function until(check: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Every member has been welcomed `n` times, the last one resumed, and is ready. */
const allResumed = (members: Member[], n: number) => () => members.every((m) => m.seen.welcomes.length >= n && m.seen.welcomes[n - 1] === true && m.session.ready);

/** A presence counter of a `lifeline serve` process's /metrics. */
async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`lifeline_${name} `));
  if (line === undefined) throw new Error(`no lifeline_${name} in /metrics`);
  return Number(line.split(' ')[1]);
}

describe('presence across a restart in process (1012 cycle, memory store)', () => {
  it('200 members: 0 leaves and 0 joins for those that resumed; one leave each for closed, unsubscribed, and never back', async () => {
    const GRACE = 4000;
    server = createServer({
      logger: pino({ level: 'silent' }),
      drainWindowMs: 1000,
      graceMs: 100,
      closeTimeoutMs: 500,
      retryHint: { minMs: 20, maxMs: 300 },
      presenceGraceMs: GRACE,
    });
    const joins: ServerPresenceEvent[] = [];
    const leaves: { event: ServerPresenceEvent; at: number }[] = [];
    server.on('join', (e) => joins.push(e));
    server.on('leave', (event) => leaves.push({ event, at: Date.now() }));
    const { port } = await server.listen(0);
    const url = `ws://127.0.0.1:${port}/`;

    const watchers = Array.from({ length: 3 }, () => member(url));
    let watching = 0;
    for (const w of watchers) w.session.on('subscribed', () => void (watching += 1));
    watchers.forEach((w, i) => w.session.subscribe('room', { presence: { info: { watcher: i }, events: true } }));
    await until(() => watching === 3, 'the watchers to watch');
    const members = [...watchers, ...Array.from({ length: 197 }, () => member(url))];
    members.slice(3).forEach((m, i) => m.session.subscribe('room', { presence: { info: { i } } }));
    const gone = await goner(url, 'room');
    await until(() => joins.length === 201, '201 joins');
    // Every member that joined after them, at the channel's event rate (100 a second by default).
    await until(() => watchers.every((w) => w.seen.joins.length >= 198), 'the watchers to see the 198 members that joined after them');
    const joinsBefore = joins.length;
    const seenBefore = watchers.map((w) => ({ joins: w.seen.joins.length, leaves: w.seen.leaves.length }));
    expect(leaves).toHaveLength(0);

    const goneClosed = gone.peer.closed.then(() => Date.now());
    await server.restart();
    await until(allResumed(members, 2), 'all 200 to resume');
    expect(members.every((m) => m.seen.welcomes.length === 2)).toBe(true);
    const [closer, unsubscriber] = [members[10]!, members[11]!];
    closer.session.close();
    unsubscriber.session.unsubscribe('room');
    await until(() => leaves.length === 3, 'three leaves', GRACE + 15_000);
    await sleep(1000);

    expect(joins).toHaveLength(joinsBefore);
    const left = leaves.map((l) => l.event.member.session);
    expect(left.sort()).toEqual([closer.session.session!, unsubscriber.session.session!, gone.session].sort());
    // The one that never came back left after its grace, never before.
    const goneLeave = leaves.find((l) => l.event.member.session === gone.session)!;
    expect(goneLeave.at - (await goneClosed)).toBeGreaterThanOrEqual(GRACE - 100);
    for (const [i, w] of watchers.entries()) {
      expect(w.seen.joins).toHaveLength(seenBefore[i]!.joins);
      expect(w.seen.leaves.slice(seenBefore[i]!.leaves).map((l) => l.event.member.session).sort()).toEqual([...left].sort());
    }

    const stillThere = members.filter((m) => m !== closer && m !== unsubscriber).map((m) => m.session.session!);
    const listed: string[] = [];
    let after: string | undefined;
    do {
      const page = await server.presence('room', after === undefined ? {} : { after });
      expect(page.count).toBe(198);
      listed.push(...page.members.map((m) => m.session));
      after = page.next;
    } while (after !== undefined);
    expect(listed.sort()).toEqual(stillThere.sort());
    expect(server.stats().presence).toMatchObject({ held: 198, joins: 201, leaves: 3, expired: 1 });
  });
});

describe('presence across `lifeline serve` restarts (sqlite, real processes)', () => {
  const GRACE = 4000;
  const LEASE = 1500;
  function config(): string {
    const file = join(tempDataDir(), 'lifeline.json');
    writeFileSync(
      file,
      JSON.stringify({ drainWindowMs: 500, closeTimeoutMs: 500, retryHint: { minMs: 50, maxMs: 300 }, presenceGraceMs: GRACE, presenceLeaseMs: LEASE }),
    );
    return file;
  }

  it('SIGTERM, then a new process on the same data: every resumed membership continues silently; the one not back leaves once, after the grace', async () => {
    const port = await freePort();
    const args = ['--port', String(port), '--data-dir', tempDataDir(), '--config', config()];
    const first = await startServe(args);
    const url = first.url;
    const watcher = await watching(url);
    const members = [watcher, ...Array.from({ length: 20 }, () => member(url))];
    members.slice(1).forEach((m, i) => m.session.subscribe('room', { presence: { info: { i } } }));
    const gone = await goner(url, 'room');
    await until(() => watcher.seen.joins.length === 21, '21 joins at the watcher');

    first.kill('SIGTERM');
    expect(await first.exited).toEqual({ code: 0, signal: null });
    const stoppedAt = Date.now();
    const second = await startServe(args);
    await until(allResumed(members, 2), 'every session to resume on the new process');
    await until(() => watcher.seen.leaves.length === 1, "the leave of the client that did not come back", GRACE + 15_000);
    await sleep(1500);

    expect(watcher.seen.leaves.map((l) => l.event.member.session)).toEqual([gone.session]);
    expect(watcher.seen.leaves[0]!.at - stoppedAt).toBeGreaterThanOrEqual(GRACE - 1000);
    expect(watcher.seen.joins).toHaveLength(21);
    const page = await watcher.session.presence('room');
    expect(page.count).toBe(21);
    expect(page.members.map((m) => m.session).sort()).toEqual(members.map((m) => m.session.session!).sort());
    expect(await metric(second.port, 'presence_joins_total')).toBe(0);
    expect(await metric(second.port, 'presence_leaves_total')).toBe(1);
    expect(await metric(second.port, 'presence_expired_total')).toBe(1);
  });

  it("SIGKILL: once a process is back, the dead process's members that did not come back leave after its lease and the grace; those that came back stay", async () => {
    const port = await freePort();
    const args = ['--port', String(port), '--data-dir', tempDataDir(), '--config', config()];
    const first = await startServe(args);
    const url = first.url;
    const watcher = await watching(url);
    const members = [watcher, ...Array.from({ length: 10 }, () => member(url))];
    members.slice(1).forEach((m) => m.session.subscribe('room', { presence: {} }));
    const gone = await Promise.all(Array.from({ length: 10 }, () => goner(url, 'room')));
    await until(() => watcher.seen.joins.length === 20, '20 joins at the watcher');

    const killedAt = Date.now();
    first.kill('SIGKILL');
    await first.exited;
    const second = await startServe(args);
    await until(allResumed(members, 2), 'the sessions that come back to resume');
    await until(() => watcher.seen.leaves.length === 10, 'the ten leaves', LEASE + GRACE + 20_000);
    await sleep(1500);

    expect(watcher.seen.leaves.map((l) => l.event.member.session).sort()).toEqual(gone.map((g) => g.session).sort());
    for (const { at } of watcher.seen.leaves) expect(at - killedAt).toBeGreaterThanOrEqual(GRACE);
    expect(watcher.seen.joins).toHaveLength(20);
    expect((await watcher.session.presence('room')).count).toBe(11);
    expect(await metric(second.port, 'presence_joins_total')).toBe(0);
    expect(await metric(second.port, 'presence_expired_total')).toBe(10);
  });
});
