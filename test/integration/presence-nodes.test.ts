/**
 * Presence that does not flap on a deploy, across real processes (issue 17 §1, phase 2):
 * - Redis, and a 3-master Redis Cluster: two `lifeline serve` nodes (A with `--workers 2`), 200 members
 *   spread over both, watchers on both. A SIGHUP rolling restart of A, then a SIGTERM restart of B (a new
 *   process on its port): 0 leaves and 0 joins at every watcher for the clients that resumed, exactly one
 *   leave for the client that really went away, and every node lists the same members afterwards. Then
 *   B is SIGKILLed (its supervisor and workers): its members leave, at A's watchers, a grace period after
 *   B's lease ran out (the times are printed).
 * - SQLite, one machine: `serve` (a supervisor and its worker) restarted zero-dark with SIGHUP, and
 *   `--workers 2`, where every watcher sees the members that joined through the other worker (the presence
 *   feed between processes), then a SIGHUP rolling restart: the same counts.
 * Watchers are real clients that ask for the events; each counts what it was told.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSession, type LifelineSession, type PresenceEvent } from '../../src/client/index.js';
import type { WelcomeFrame } from '../../src/protocol/index.js';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../support/redis.js';
import { clusterSkipReason, RedisCluster } from '../support/redis-cluster.js';
import { killAll, startServe, tempDataDir, type ServeProcess } from '../support/serve-process.js';
import { connectV1, type V1Peer } from '../support/v1-peer.js';

const GRACE = 10_000;
const LEASE = 2000;
const MEMBERS = 200;
const WATCHERS_PER_NODE = 3;

const sessions: LifelineSession[] = [];
const peers: V1Peer[] = [];
const prefixes: string[] = [];
afterEach(async () => {
  for (const s of sessions.splice(0)) s.close();
  for (const p of peers.splice(0)) p.ws.terminate();
  await killAll();
});
afterAll(async () => {
  for (const prefix of prefixes) await deletePrefix(REDIS_URL, prefix);
});

function config(): string {
  const file = join(tempDataDir(), 'lifeline.json');
  writeFileSync(
    file,
    JSON.stringify({ drainWindowMs: 1000, graceMs: 200, closeTimeoutMs: 500, retryHint: { minMs: 50, maxMs: 500 }, presenceGraceMs: GRACE, presenceLeaseMs: LEASE }),
  );
  return file;
}

/** A member: a session that resumes by itself, recording its presence events (with when) and welcomes. */
function member(url: string) {
  const session = createSession({ url, soon: { minMs: 10, maxMs: 200 }, backoff: { baseMs: 50, capMs: 300 } });
  sessions.push(session);
  const seen = { joins: [] as PresenceEvent[], leaves: [] as { event: PresenceEvent; at: number }[], welcomes: [] as boolean[], subscribed: false };
  session.on('join', (e) => seen.joins.push(e));
  session.on('leave', (event) => seen.leaves.push({ event, at: Date.now() }));
  session.on('welcome', (w) => seen.welcomes.push(w.resumed));
  session.on('subscribed', () => void (seen.subscribed = true));
  session.on('error', () => undefined);
  return { session, seen, url };
}
type Member = ReturnType<typeof member>;

/** A raw client that joins and never reconnects by itself: one that really goes away at its node's restart. */
async function goner(url: string): Promise<{ peer: V1Peer; session: string }> {
  const peer = await connectV1(url);
  peers.push(peer);
  peer.send({ t: 'hello', v: 1 });
  const welcome = await peer.next<WelcomeFrame>((f) => f.t === 'welcome');
  peer.send({ t: 'sub', ch: 'room', presence: { info: 'goner' } });
  await peer.next((f) => f.t === 'subscribed');
  return { peer, session: welcome.session };
}

async function until(check: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every member has been welcomed again since `before[i]` welcomes, every welcome resumed, and is ready. */
function resumedSince(members: readonly Member[], before: readonly number[]): () => boolean {
  return () => members.every((m, i) => m.seen.welcomes.length > before[i]! && m.seen.welcomes.every((w, k) => k === 0 || w) && m.session.ready);
}
const welcomesOf = (members: readonly Member[]) => members.map((m) => m.seen.welcomes.length);

/** Watchers first (each sees every member that joins after it), then the members, then the goner. */
async function populate(urls: readonly string[], gonerUrl: string) {
  const watchers: Member[] = [];
  for (const url of urls) {
    for (let i = 0; i < WATCHERS_PER_NODE; i++) {
      const w = member(url);
      w.session.subscribe('room', { presence: { info: { watcher: watchers.length }, events: true } });
      await until(() => w.seen.subscribed, 'a watcher');
      watchers.push(w);
    }
  }
  const others = Array.from({ length: MEMBERS - watchers.length }, (_, i) => member(urls[i % urls.length]!));
  others.forEach((m, i) => m.session.subscribe('room', { presence: { info: { i } } }));
  const all = [...watchers, ...others];
  await until(() => all.every((m) => m.seen.subscribed), 'every member to subscribe');
  const gone = await goner(gonerUrl);
  // The last watcher sees every member but the watchers before it; the first, every other.
  await until(() => watchers.every((w, i) => w.seen.joins.length >= MEMBERS - i), 'the watchers to see every member that joined after them', 90_000);
  await sleep(1000);
  return { watchers, all, gone };
}

/** Every member of `room`, through `session`'s queries (page by page). */
async function membersVia(session: LifelineSession): Promise<string[]> {
  const listed: string[] = [];
  let after: string | undefined;
  do {
    const page = await session.presence('room', after === undefined ? {} : { after });
    listed.push(...page.members.map((m) => m.session));
    after = page.next;
  } while (after !== undefined);
  return listed.sort();
}

/** What each watcher was told since `mark` (its counts then). */
function toldSince(watchers: readonly Member[], mark: readonly { joins: number; leaves: number }[]) {
  return watchers.map((w, i) => ({ joins: w.seen.joins.slice(mark[i]!.joins), leaves: w.seen.leaves.slice(mark[i]!.leaves) }));
}
const markOf = (watchers: readonly Member[]) => watchers.map((w) => ({ joins: w.seen.joins.length, leaves: w.seen.leaves.length }));

/** SIGKILL a `serve` process and every process it logged from (its workers): a node dying without a word. */
function killNode(node: ServeProcess): number[] {
  const pids = [...new Set(node.logs.map((e) => e.pid).filter((p): p is number => typeof p === 'number'))];
  node.kill('SIGKILL');
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone already (a retired worker, or one that exited with its primary).
    }
  }
  return pids;
}

/**
 * The Redis drill, on a single Redis or a cluster (`store` as `serve --store` takes it): see the module comment.
 */
async function redisDrill(store: string, label: string): Promise<void> {
  const prefix = uniquePrefix(`presence-${label}`);
  prefixes.push(prefix);
  const file = config();
  const common = ['--store', store, '--redis-prefix', prefix, '--config', file];
  const a = await startServe([...common, '--workers', '2']);
  await a.waitForLog((e) => e.msg === 'listening' && e.workers === 2, 60_000);
  let b = await startServe(common);
  const { watchers, all, gone } = await populate([a.url, b.url], b.url);
  const onA = all.filter((m) => m.url === a.url);
  const onB = all.filter((m) => m.url === b.url);
  expect(onA.length + onB.length).toBe(MEMBERS);
  const mark = markOf(watchers);

  // A: a rolling restart of its two workers (each new one ready before an old one drains).
  const hupAt = Date.now();
  let before = welcomesOf(onA);
  a.kill('SIGHUP');
  await a.waitForLog((e) => e.msg === 'rolling restart finished', 90_000);
  await until(resumedSince(onA, before), "A's members to resume");
  const hupMs = Date.now() - hupAt;

  // B: SIGTERM (drained with 1012), then a new process on its port. The goner, on B, never comes back.
  const termAt = Date.now();
  before = welcomesOf(onB);
  b.kill('SIGTERM');
  expect(await b.exited).toEqual({ code: 0, signal: null });
  b = await startServe([...common, '--port', String(b.port)]);
  await until(resumedSince(onB, before), "B's members to resume on the new process");
  const termMs = Date.now() - termAt;

  await until(() => watchers.every((w) => w.seen.leaves.length > mark[watchers.indexOf(w)]!.leaves), "the goner's leave at every watcher", GRACE + 30_000);
  await sleep(2000);
  const told = toldSince(watchers, mark);
  const leaveAfterMs = Math.min(...told.map((t) => t.leaves[0]!.at)) - termAt;
  console.log(`presence ${label}: SIGHUP of A (2 workers) resumed in ${hupMs} ms, SIGTERM restart of B in ${termMs} ms; the goner left ${leaveAfterMs} ms after B's SIGTERM (grace ${GRACE} ms)`);
  for (const t of told) {
    expect(t.joins).toEqual([]);
    expect(t.leaves.map((l) => l.event.member.session)).toEqual([gone.session]);
  }
  expect(leaveAfterMs).toBeGreaterThanOrEqual(GRACE - 1000);
  const everyone = all.map((m) => m.session.session!).sort();
  for (const w of [watchers[0]!, watchers.at(-1)!]) expect(await membersVia(w.session)).toEqual(everyone);

  // B dies without a word: its members leave at A's watchers once B's lease ran out and their grace passed.
  const markKill = markOf(watchers);
  const killedAt = Date.now();
  killNode(b);
  const watchersOnA = watchers.filter((w) => onA.includes(w));
  const onBSessions = onB.map((m) => m.session.session!).sort();
  await until(() => watchersOnA.every((w) => w.seen.leaves.length - markKill[watchers.indexOf(w)]!.leaves >= onB.length), "B's members' leaves at A's watchers", LEASE + GRACE + 60_000);
  await sleep(2000);
  const afterKill = toldSince(watchers, markKill).filter((_, i) => onA.includes(watchers[i]!));
  const times = afterKill.flatMap((t) => t.leaves.map((l) => l.at - killedAt));
  console.log(
    `presence ${label}: SIGKILL of B: ${onB.length} members left at each of A's ${watchersOnA.length} watchers, ${Math.min(...times)}-${Math.max(...times)} ms after the kill (lease ${LEASE} ms + grace ${GRACE} ms)`,
  );
  for (const t of afterKill) {
    expect(t.joins).toEqual([]);
    expect(t.leaves.map((l) => l.event.member.session).sort()).toEqual(onBSessions);
  }
  expect(Math.min(...times)).toBeGreaterThanOrEqual(GRACE);
  expect(await membersVia(watchersOnA[0]!.session)).toEqual(onA.map((m) => m.session.session!).sort());
}

describe('presence across two `serve` nodes on Redis', () => {
  it('SIGHUP rolling restart (--workers 2) and SIGTERM restart: 0 leaves and 0 joins for 200 resumed members, one leave for the one gone; a SIGKILLed node\'s members leave after lease + grace', async () => {
    await redisDrill(REDIS_URL, 'redis');
  }, 300_000);
});

const skip = clusterSkipReason();
describe.skipIf(skip !== undefined)('presence across two `serve` nodes on a 3-master Redis Cluster', () => {
  let cluster: RedisCluster | undefined;
  beforeAll(async () => {
    cluster = await RedisCluster.start(3);
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });
  it('the same drill: 0 leaves and 0 joins for the resumed, one for the one gone, the SIGKILLed node\'s members after lease + grace', async () => {
    await redisDrill(cluster!.storeUrl, 'cluster');
  }, 300_000);
});

describe('presence on one machine with sqlite', () => {
  async function sqliteDrill(workers: number): Promise<void> {
    const args = ['--data-dir', tempDataDir(), '--config', config(), ...(workers > 1 ? ['--workers', String(workers)] : [])];
    const server = await startServe(args);
    if (workers > 1) await server.waitForLog((e) => e.msg === 'listening' && e.workers === workers, 60_000);
    // One URL: the supervisor hands connections to its workers (several: round-robin). Every watcher sees
    // every member, whichever worker it came through.
    const { watchers, all, gone } = await populate([server.url, server.url], server.url);
    const mark = markOf(watchers);
    const before = welcomesOf(all);
    const hupAt = Date.now();
    server.kill('SIGHUP');
    await server.waitForLog((e) => e.msg === 'rolling restart finished', 90_000);
    await until(resumedSince(all, before), 'every member to resume');
    const hupMs = Date.now() - hupAt;
    await until(() => watchers.every((w, i) => w.seen.leaves.length > mark[i]!.leaves), "the goner's leave", GRACE + 30_000);
    await sleep(2000);
    const told = toldSince(watchers, mark);
    const leaveAfterMs = Math.min(...told.map((t) => t.leaves[0]!.at)) - hupAt;
    console.log(`presence sqlite (${workers} worker${workers > 1 ? 's' : ''}): SIGHUP resumed ${all.length} members in ${hupMs} ms; the goner left ${leaveAfterMs} ms after the SIGHUP (grace ${GRACE} ms)`);
    for (const t of told) {
      expect(t.joins).toEqual([]);
      expect(t.leaves.map((l) => l.event.member.session)).toEqual([gone.session]);
    }
    const everyone = all.map((m) => m.session.session!).sort();
    for (const w of [watchers[0]!, watchers.at(-1)!]) expect(await membersVia(w.session)).toEqual(everyone);
  }

  it('serve (a supervisor and its worker), SIGHUP zero-dark: 0 leaves and 0 joins for 200 resumed members, one leave for the one gone', async () => {
    await sqliteDrill(1);
  }, 240_000);

  it('--workers 2: members of one worker seen by the watchers of the other; a SIGHUP rolling restart: the same counts', async () => {
    await sqliteDrill(2);
  }, 240_000);
});
