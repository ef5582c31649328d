/**
 * Presence in Redis, shared by every process on the prefix (one Redis or a Redis Cluster): the rules of
 * `presence-rules.ts` in the scripts of `presence-scripts.ts`.
 *
 * Where things live:
 * - a channel's members, in its partition's slot (`ChannelKeys.key`): a hash `pres:<channel>` (a record
 *   per session, and the channel's version) and a sorted set `pidx:<channel>` of the sessions (pages
 *   are cut from it in session order);
 * - a partition's indexes, in its slot: `pdue` (members nobody holds, by deadline: a sweep reads the due
 *   ones only) and `pheld/<node>` (the members each node holds, to detach them when it dies);
 * - under the `{presence}` tag: each node's lease (`leases`, `lease-due`), the partitions each node holds
 *   members in (`parts:<node>`), and `due`, the partitions with members nobody holds, by their earliest
 *   deadline: a sweep looks at the partitions due now, not at every partition.
 *
 * A leave is claimed by the script that removes the record (whichever process runs it first reports it,
 * once). Every change of membership is published on its channel's topic with the channel's version, so
 * the processes that follow the channel learn it (`watch`), and one that missed some (a gap in the
 * versions, a subscription restored after a break) reads the channel's members at once (`snapshot`).
 *
 * Why `due` can be trusted, though it lives in another slot than the partitions: a detach writes the
 * partition first, then lowers the partition's score in `due` (`ZADD LT`); a sweep that raises a score
 * (after claiming leaves) reads the partition again afterwards and lowers it back if something became due
 * meanwhile. A process dying between two steps can still leave a partition out: once a minute one process
 * reads every partition's earliest deadline into `due` again.
 * @packageDocumentation
 */
import type { PresenceCore } from '../core.js';
import { encodeInfo } from '../presence-rules.js';
import { randomEpoch } from '../rules.js';
import type { PresenceChange, PresenceHolder, PresenceJoinOptions, PresenceJoinResult, PresenceMember, PresencePage, PresenceSnapshot, PresenceVersion } from '../types.js';
import type { RedisContext } from './context.js';
import { allPartitions, keyPart } from './keys.js';

/** Leases that ran out claimed by one sweep. */
const DEAD_NODES_PER_SWEEP = 16;
/** How long a sweep that claimed a dead node has to detach its members before another sweep may, in ms. */
const ORPHAN_RETRY_MS = 30_000;
/** Members of a dead node detached per script call. */
const ORPHAN_BATCH = 500;
/** Partitions a sweep works on at once (a dead node's, a rescan's). */
const PARTITIONS_AT_ONCE = 32;
/** Partitions read from `due` per round of a sweep. */
const DUE_PARTITIONS = 64;
/** Rounds of a sweep (each reads `due` again), so one call is bounded whatever is due. */
const DUE_ROUNDS = 8;
/** The lease assumed of other nodes, before this object renewed one itself (the server's default), in ms. */
const ASSUMED_LEASE_MS = 10_000;
/**
 * How much longer than a lease the other nodes get to renew theirs after this one reconnected, in ms:
 * each reconnects on its own schedule (a backoff of up to 2 s, then the layout check).
 */
const RECONNECT_MARGIN_MS = 5000;
/** How often one process reads every partition's earliest deadline into `due` again, in ms. */
export const PRESENCE_RESCAN_MS = 60_000;

/** A member as its record keeps it (and as events carry it): JSON text, info already encoded. */
function memberJson(member: PresenceMember): string {
  const info = encodeInfo(member);
  return `{"session":${JSON.stringify(member.session)}${member.user === undefined ? '' : `,"user":${JSON.stringify(member.user)}`}${info === undefined ? '' : `,"info":${info}`}}`;
}

/** A member from its JSON text (a fresh object: nothing is shared between callers). */
function memberFrom(json: string): PresenceMember {
  const m = JSON.parse(json) as { session: string; user?: string; info?: PresenceMember['info'] };
  const member: { session: string; user?: string; info?: PresenceMember['info'] } = { session: m.session };
  if (m.user !== undefined) member.user = m.user;
  if (m.info !== undefined) member.info = m.info;
  return member;
}

/** `epoch|seq` as the hash keeps it. */
function versionFrom(text: string): PresenceVersion | undefined {
  const bar = text.lastIndexOf('|');
  if (bar <= 0) return undefined;
  const seq = Number(text.slice(bar + 1));
  return Number.isSafeInteger(seq) && seq > 0 ? { epoch: text.slice(0, bar), seq } : undefined;
}

/**
 * A presence change as published by the scripts; undefined when the payload is not one (logged by the
 * caller as an invalid payload).
 */
export function parsePresenceEvent(payload: string): PresenceChange | undefined {
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return undefined;
  }
  const e = value as { type?: unknown; kind?: unknown; channel?: unknown; epoch?: unknown; seq?: unknown; member?: { session?: unknown; user?: unknown; info?: unknown } } | null;
  if (e === null || typeof e !== 'object' || e.type !== 'presence' || (e.kind !== 'join' && e.kind !== 'leave')) return undefined;
  if (typeof e.channel !== 'string' || typeof e.epoch !== 'string' || typeof e.seq !== 'number' || typeof e.member !== 'object' || e.member === null) return undefined;
  const { session, user, info } = e.member;
  if (typeof session !== 'string' || (user !== undefined && typeof user !== 'string')) return undefined;
  const member: { session: string; user?: string; info?: PresenceMember['info'] } = { session };
  if (user !== undefined) member.user = user;
  if (info !== undefined) member.info = info as PresenceMember['info'];
  return { kind: e.kind, channel: e.channel, member, version: { epoch: e.epoch, seq: e.seq } };
}

/** What the engine's core gives presence besides the context. */
export interface RedisPresenceHooks {
  /** Add a listener of presence payloads from the fan-out (made on first use); returns the remover. */
  watchPayloads(listener: (payload: string) => void): () => void;
  /** Add a listener of the followed channels whose topic was subscribed again after a break; returns the remover. */
  onResubscribe(listener: (channels: readonly string[]) => void): () => void;
  /** Report a payload on a topic that is neither an append nor a presence change. */
  invalid(payload: string): void;
  /** Whether the store was closed (long sweeps stop between steps). */
  closed(): boolean;
}

/** The Redis engine's presence, behind the guard. */
export class RedisPresence implements PresenceCore {
  readonly #ctx: RedisContext;
  readonly #hooks: RedisPresenceHooks;
  /** The keys under the `{presence}` tag. */
  readonly #global: { leases: string; leaseDue: string; touched: string; due: string; rescan: string; parts: (node: string) => string };
  /** The pub/sub channel every change goes to in broadcast mode; '' for each channel's own topic. */
  readonly #fixedTopic: string;
  /** The leases this store object renewed, while they surely hold: a join needs no placeholder then. */
  readonly #leases = new Map<string, { expiresAt: number; leaseMs: number }>();
  /** The partitions each node is known to be registered in (`parts:<node>`), while its lease holds. */
  readonly #registered = new Map<string, Set<number>>();
  /** When this object last tried to claim the rescan, by the store's clock. */
  #lastRescan = -Infinity;
  /** The longest lease this object renewed (what other nodes likely use too), in ms. */
  #leaseMs = 0;
  /**
   * Until when (real time) this object claims no lease that ran out: after it reconnected to Redis, every
   * lease may have run out during the outage, and live nodes need one renewal to say so (see `expire`).
   */
  #judgeLeasesFrom = 0;

  constructor(ctx: RedisContext, hooks: RedisPresenceHooks) {
    this.#ctx = ctx;
    this.#hooks = hooks;
    const tag = `${ctx.keys.prefix}{presence}`;
    this.#global = {
      leases: `${tag}leases`,
      leaseDue: `${tag}lease-due`,
      touched: `${tag}touched`,
      due: `${tag}due`,
      rescan: `${tag}rescan`,
      parts: (node) => `${tag}parts:${keyPart(node)}`,
    };
    const sample = ctx.keys.channel('presence');
    this.#fixedTopic = ctx.fanout.topic(sample) === sample.topic ? '' : ctx.fanout.topic(sample);
    let connected = false;
    ctx.connection.availability.subscribe((up) => {
      if (up && connected) this.#judgeLeasesFrom = Date.now() + (this.#leaseMs || ASSUMED_LEASE_MS) + RECONNECT_MARGIN_MS;
      if (up) connected = true;
    });
  }

  async join(channel: string, member: PresenceMember, holder: PresenceHolder, options: PresenceJoinOptions, now: number): Promise<PresenceJoinResult> {
    const ck = this.#ctx.keys.channel(channel);
    await this.#ensure(holder.node, ck.partition, now);
    const reply = (await this.#run('presence.join', 'lifelinePresenceJoin', [
      ck.key('pres'),
      ck.key('pidx'),
      this.#pdue(ck.partition),
      this.#held(ck.partition, holder.node),
      member.session,
      memberJson(member),
      keyPart(holder.node),
      keyPart(holder.connection),
      String(options.graceMs),
      String(options.maxMembers),
      randomEpoch(),
      ck.part,
      this.#heldHead(ck.partition),
      this.#ctx.fanout.command,
      this.#ctx.fanout.topic(ck),
    ])) as string[];
    return reply[0] as PresenceJoinResult;
  }

  async detach(session: string, channels: readonly string[], holder: PresenceHolder, graceMs: number, now: number): Promise<number> {
    const deadline = now + graceMs;
    const detached = await Promise.all(
      channels.map(async (channel) => {
        const ck = this.#ctx.keys.channel(channel);
        const n = Number(
          await this.#run('presence.detach', 'lifelinePresenceDetach', [
            ck.key('pres'),
            this.#pdue(ck.partition),
            this.#held(ck.partition, holder.node),
            session,
            keyPart(holder.node),
            keyPart(holder.connection),
            String(deadline),
            ck.part,
          ]),
        );
        // The partition first, then its place in `due` (see the module comment).
        if (n === 1) await this.#exec('presence.detach', () => this.#ctx.connection.client.zadd(this.#global.due, 'LT', deadline, String(ck.partition)));
        return n;
      }),
    );
    return detached.reduce((a, b) => a + b, 0);
  }

  async leave(session: string, channels: readonly string[], holder: PresenceHolder | undefined): Promise<PresenceChange[]> {
    const left = await Promise.all(
      channels.map(async (channel): Promise<PresenceChange | undefined> => {
        const ck = this.#ctx.keys.channel(channel);
        const reply = (await this.#run('presence.leave', 'lifelinePresenceLeave', [
          ck.key('pres'),
          ck.key('pidx'),
          this.#pdue(ck.partition),
          session,
          holder === undefined ? '' : keyPart(holder.node),
          holder === undefined ? '' : keyPart(holder.connection),
          ck.part,
          this.#heldHead(ck.partition),
          randomEpoch(),
          this.#ctx.fanout.command,
          this.#ctx.fanout.topic(ck),
        ])) as string[];
        return reply.length === 0 ? undefined : { kind: 'leave', channel, member: memberFrom(reply[0]!) };
      }),
    );
    return left.filter((change): change is PresenceChange => change !== undefined);
  }

  async refreshNode(node: string, leaseMs: number, now: number): Promise<boolean> {
    const expiresAt = now + leaseMs;
    const held = Number(await this.#run('presence.refreshNode', 'lifelinePresenceRefresh', [this.#global.leases, this.#global.leaseDue, node, String(now), String(expiresAt)])) === 1;
    // A lease that had run out may have been forgotten with the node's partitions: register them again.
    if (!held) this.#registered.delete(node);
    this.#leases.set(node, { expiresAt, leaseMs });
    this.#leaseMs = Math.max(this.#leaseMs, leaseMs);
    return held;
  }

  /**
   * Detach the members of nodes whose lease ran out, then claim due leaves. Right after a reconnection to
   * Redis, leases are not judged for one lease period (and a margin for the other nodes' reconnection): an
   * outage longer than a lease lets every lease run out, and without this pause the first sweep after it
   * would take every node for dead, and (past the grace too) make every member leave and join again.
   */
  async expire(limit: number, now: number): Promise<PresenceChange[]> {
    if (Date.now() >= this.#judgeLeasesFrom) await this.#detachDeadNodes(now);
    const left: PresenceChange[] = [];
    for (let round = 0; round < DUE_ROUNDS && left.length < limit && !this.#hooks.closed(); round++) {
      const due = await this.#exec('presence.expire', () => this.#ctx.connection.client.zrangebyscore(this.#global.due, '-inf', now, 'LIMIT', 0, DUE_PARTITIONS));
      if (due.length === 0) break;
      for (const k of due.map(Number)) {
        if (left.length >= limit) break;
        left.push(...(await this.#expirePartition(k, limit - left.length, now)));
      }
    }
    await this.#rescanWhenDue(now);
    return left;
  }

  async page(channel: string, after: string | undefined, limit: number): Promise<PresencePage> {
    const ck = this.#ctx.keys.channel(channel);
    const reply = (await this.#run('presence.page', 'lifelinePresencePage', [ck.key('pres'), ck.key('pidx'), after ?? '', String(limit + 1)])) as [number, ...string[]];
    const count = Number(reply[0]);
    const members = reply.slice(1, limit + 1).map((json) => memberFrom(json as string));
    return reply.length - 1 > limit ? { count, members, next: members[members.length - 1]!.session } : { count, members };
  }

  async count(channel: string): Promise<number> {
    const ck = this.#ctx.keys.channel(channel);
    return this.#exec('presence.count', () => this.#ctx.connection.client.zcard(ck.key('pidx')));
  }

  async snapshot(channel: string): Promise<PresenceSnapshot> {
    const ck = this.#ctx.keys.channel(channel);
    const reply = (await this.#run('presence.snapshot', 'lifelinePresenceSnapshot', [ck.key('pres'), ck.key('pidx')])) as string[];
    const version = versionFrom(reply[0]!);
    const members = reply.slice(1).map(memberFrom);
    return version === undefined ? { members } : { version, members };
  }

  /** Every change published on the channels this process follows (see `Store.follow`), any process's. */
  watch(listener: (change: PresenceChange) => void): () => void {
    return this.#hooks.watchPayloads((payload) => {
      const change = parsePresenceEvent(payload);
      if (change === undefined) this.#hooks.invalid(payload);
      else listener(change);
    });
  }

  /** The channels whose topic broke and was restored: their changes ride on it, so they may have been missed. */
  onMissed(listener: (channels?: readonly string[]) => void): () => void {
    return this.#hooks.onResubscribe((channels) => listener(channels));
  }

  /** The lease and the partition registration a node needs before it holds a member there (see PRESENCE_ENSURE_LUA). */
  async #ensure(node: string, partition: number, now: number): Promise<void> {
    const lease = this.#leases.get(node);
    let registered = this.#registered.get(node);
    // A lease this object renewed holds for a while yet: no sweep can have forgotten the node's partitions.
    const fresh = lease !== undefined && now + lease.leaseMs / 3 < lease.expiresAt;
    if (fresh && registered?.has(partition)) return;
    await this.#run('presence.join', 'lifelinePresenceEnsure', [this.#global.leases, this.#global.leaseDue, this.#global.touched, this.#global.parts(node), node, String(now), String(partition)]);
    if (!fresh) return;
    if (registered === undefined) this.#registered.set(node, (registered = new Set()));
    registered.add(partition);
  }

  /** Claim the leases that ran out, detach their nodes' members (grace from the lease's end), forget them. */
  async #detachDeadNodes(now: number): Promise<void> {
    const { leases, leaseDue, touched } = this.#global;
    const claimed = (await this.#run('presence.expire', 'lifelinePresenceClaimDead', [leases, leaseDue, touched, String(now), String(now + ORPHAN_RETRY_MS), String(DEAD_NODES_PER_SWEEP)])) as string[];
    for (let i = 0; i + 1 < claimed.length && !this.#hooks.closed(); i += 2) {
      const node = claimed[i]!;
      const expiresAt = claimed[i + 1]!;
      const leaseEnd = Math.min(Number(expiresAt), now);
      const parts = this.#global.parts(node);
      const partitions = (await this.#exec('presence.expire', () => this.#ctx.connection.client.smembers(parts))).map(Number);
      await inBatches(partitions, async (k) => {
        let more = true;
        while (more && !this.#hooks.closed()) {
          const [again, next] = (await this.#run('presence.expire', 'lifelinePresenceOrphan', [
            this.#pdue(k),
            this.#held(k, node),
            keyPart(node),
            String(leaseEnd),
            this.#base(k),
            String(ORPHAN_BATCH),
          ])) as [number, string];
          more = Number(again) === 1;
          if (next !== '') await this.#exec('presence.expire', () => this.#ctx.connection.client.zadd(this.#global.due, 'LT', next, String(k)));
        }
      });
      if (this.#hooks.closed()) return;
      await this.#run('presence.expire', 'lifelinePresenceBury', [leases, leaseDue, touched, parts, node, expiresAt, String(now)]);
    }
  }

  /** Claim at most `limit` due leaves of partition `k`, then set its place in `due` right (see the module comment). */
  async #expirePartition(k: number, limit: number, now: number): Promise<PresenceChange[]> {
    const reply = (await this.#run('presence.expire', 'lifelinePresenceExpire', [
      this.#pdue(k),
      String(now),
      String(limit),
      this.#base(k),
      randomEpoch(),
      this.#ctx.fanout.command,
      this.#fixedTopic,
    ])) as string[];
    const left: PresenceChange[] = [];
    for (let i = 1; i + 1 < reply.length; i += 2) left.push({ kind: 'leave', channel: JSON.parse(`"${reply[i]!}"`) as string, member: memberFrom(reply[i + 1]!) });
    const { client } = this.#ctx.connection;
    const next = reply[0]!;
    const member = String(k);
    await this.#exec('presence.expire', () => (next === '' ? client.zrem(this.#global.due, member) : client.zadd(this.#global.due, next, member)));
    // Raised (or removed) above: a detach that wrote the partition meanwhile may have lowered it before.
    const first = await this.#exec('presence.expire', () => client.zrange(this.#pdue(k), 0, 0, 'WITHSCORES'));
    if (first.length === 2) await this.#exec('presence.expire', () => client.zadd(this.#global.due, 'LT', first[1]!, member));
    return left;
  }

  /** Once a minute, in one process: every partition's earliest deadline into `due` again (see the module comment). */
  async #rescanWhenDue(now: number): Promise<void> {
    if (now - this.#lastRescan < PRESENCE_RESCAN_MS) return;
    this.#lastRescan = now;
    const { client } = this.#ctx.connection;
    const got = await this.#exec('presence.expire', () => client.set(this.#global.rescan, '1', 'PX', PRESENCE_RESCAN_MS, 'NX'));
    if (got !== 'OK') return;
    await inBatches(allPartitions(), async (k) => {
      if (this.#hooks.closed()) return;
      const first = await this.#exec('presence.expire', () => client.zrange(this.#pdue(k), 0, 0, 'WITHSCORES'));
      if (first.length === 2) await this.#exec('presence.expire', () => client.zadd(this.#global.due, 'LT', first[1]!, String(k)));
    });
  }

  #base(k: number): string {
    return this.#ctx.keys.partition(k).key('');
  }

  #pdue(k: number): string {
    return this.#ctx.keys.partition(k).key('pdue');
  }

  #heldHead(k: number): string {
    return this.#ctx.keys.partition(k).key('pheld/');
  }

  #held(k: number, node: string): string {
    return this.#heldHead(k) + keyPart(node);
  }

  #exec<T>(operation: string, work: () => Promise<T>): Promise<T> {
    return this.#ctx.connection.exec(operation, work);
  }

  #run(operation: string, script: Parameters<RedisContext['connection']['script']>[0], args: string[]): Promise<unknown> {
    return this.#exec(operation, () => this.#ctx.connection.script(script)(...args));
  }
}

/** Run `work` for every item, {@link PARTITIONS_AT_ONCE} at a time. */
async function inBatches<T>(items: readonly T[], work: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += PARTITIONS_AT_ONCE) await Promise.all(items.slice(i, i + PARTITIONS_AT_ONCE).map(work));
}

