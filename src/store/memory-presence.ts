/**
 * The memory engine's presence records: the reference of {@link PresenceStore}'s rules
 * (`presence-rules.ts`), in maps of this process. Each channel keeps its members by session and the
 * sessions sorted, so a page is a binary search, not a sort; members nobody holds are kept apart, so a
 * sweep looks at them only, and members by node, so a dead node's are found without a scan.
 * @packageDocumentation
 */
import type { PresenceCore } from './core.js';
import { encodeInfo, isDue, joinOutcome, leaseHolds, memberOf, orphanDeadline, pageBounds, presenceDeadline, sortedIndex } from './presence-rules.js';
import type { PresenceChange, PresenceHolder, PresenceJoinOptions, PresenceJoinResult, PresenceMember, PresencePage } from './types.js';

/** One membership as kept: info as JSON text, so nothing is shared with callers. */
interface Membership {
  readonly channel: string;
  readonly session: string;
  user: string | undefined;
  info: string | undefined;
  /** The holder, or undefined while nobody holds it (then `deadline` is set). */
  holder: PresenceHolder | undefined;
  /** When it leaves, while nobody holds it. */
  deadline: number;
  /** Its grace, for when its holder's node dies. */
  graceMs: number;
}

interface ChannelMembers {
  readonly bySession: Map<string, Membership>;
  /** The sessions, ascending: pages are cut from here. */
  readonly sorted: string[];
}

/** The memory engine's presence, behind the guard. */
export class MemoryPresence implements PresenceCore {
  readonly #channels = new Map<string, ChannelMembers>();
  /** Members nobody holds: the only ones a sweep can find due. */
  readonly #detached = new Set<Membership>();
  /** Members each node holds, to detach them all when its lease runs out. */
  readonly #byNode = new Map<string, Set<Membership>>();
  /** Each node's lease: when it runs out. */
  readonly #leases = new Map<string, number>();

  join(channel: string, member: PresenceMember, holder: PresenceHolder, options: PresenceJoinOptions, now: number): PresenceJoinResult {
    const members = this.#channels.get(channel);
    const existing = members?.bySession.get(member.session);
    const outcome = joinOutcome(existing !== undefined, members?.sorted.length ?? 0, options.maxMembers);
    if (outcome === 'full') return outcome;
    const record = existing ?? this.#add(channel, member.session);
    record.user = member.user;
    record.info = encodeInfo(member);
    record.graceMs = options.graceMs;
    // Every node that holds a member has a lease, so a sweep finds its members when it dies: one not
    // renewed yet (or forgotten once it ran out) starts out run out, and its renewal says so.
    if (!this.#leases.has(holder.node)) this.#leases.set(holder.node, now);
    this.#hold(record, { node: holder.node, connection: holder.connection });
    return outcome;
  }

  detach(session: string, channels: readonly string[], holder: PresenceHolder, graceMs: number, now: number): number {
    let detached = 0;
    for (const channel of channels) {
      const record = this.#channels.get(channel)?.bySession.get(session);
      if (!record || !sameHolder(record.holder, holder)) continue;
      this.#release(record, presenceDeadline(now, graceMs));
      detached += 1;
    }
    return detached;
  }

  leave(session: string, channels: readonly string[], holder: PresenceHolder | undefined): PresenceChange[] {
    const left: PresenceChange[] = [];
    for (const channel of channels) {
      const record = this.#channels.get(channel)?.bySession.get(session);
      if (!record || (holder !== undefined && !sameHolder(record.holder, holder))) continue;
      left.push(this.#remove(record));
    }
    return left;
  }

  refreshNode(node: string, leaseMs: number, now: number): boolean {
    const held = leaseHolds(this.#leases.get(node), now);
    this.#leases.set(node, now + leaseMs);
    return held;
  }

  expire(limit: number, now: number): PresenceChange[] {
    for (const [node, expiresAt] of this.#leases) {
      if (leaseHolds(expiresAt, now)) continue;
      for (const record of this.#byNode.get(node) ?? []) this.#release(record, orphanDeadline(expiresAt, now, record.graceMs));
      this.#leases.delete(node);
    }
    const left: PresenceChange[] = [];
    for (const record of this.#detached) {
      if (left.length >= limit) break;
      if (isDue(record.deadline, now)) left.push(this.#remove(record));
    }
    return left;
  }

  page(channel: string, after: string | undefined, limit: number): PresencePage {
    const members = this.#channels.get(channel);
    if (!members) return { count: 0, members: [] };
    const { start, end, next } = pageBounds(members.sorted, after, limit);
    const page = members.sorted.slice(start, end).map((session) => toMember(members.bySession.get(session)!));
    return next === undefined ? { count: members.sorted.length, members: page } : { count: members.sorted.length, members: page, next };
  }

  count(channel: string): number {
    return this.#channels.get(channel)?.sorted.length ?? 0;
  }

  /** Members and nodes, for the store's stats. */
  get stats(): { members: number; nodes: number } {
    let members = 0;
    for (const c of this.#channels.values()) members += c.sorted.length;
    return { members, nodes: this.#leases.size };
  }

  /** Forget everything (the store closed). */
  clear(): void {
    this.#channels.clear();
    this.#detached.clear();
    this.#byNode.clear();
    this.#leases.clear();
  }

  #add(channel: string, session: string): Membership {
    let members = this.#channels.get(channel);
    if (!members) this.#channels.set(channel, (members = { bySession: new Map(), sorted: [] }));
    const record: Membership = { channel, session, user: undefined, info: undefined, holder: undefined, deadline: Infinity, graceMs: 0 };
    members.bySession.set(session, record);
    members.sorted.splice(sortedIndex(members.sorted, session), 0, session);
    return record;
  }

  #remove(record: Membership): PresenceChange {
    this.#unhold(record);
    this.#detached.delete(record);
    const members = this.#channels.get(record.channel)!;
    members.bySession.delete(record.session);
    members.sorted.splice(sortedIndex(members.sorted, record.session), 1);
    if (members.sorted.length === 0) this.#channels.delete(record.channel);
    return { kind: 'leave', channel: record.channel, member: toMember(record) };
  }

  #hold(record: Membership, holder: PresenceHolder): void {
    this.#unhold(record);
    this.#detached.delete(record);
    record.holder = holder;
    record.deadline = Infinity;
    let held = this.#byNode.get(holder.node);
    if (!held) this.#byNode.set(holder.node, (held = new Set()));
    held.add(record);
  }

  #release(record: Membership, deadline: number): void {
    this.#unhold(record);
    record.deadline = deadline;
    this.#detached.add(record);
  }

  #unhold(record: Membership): void {
    if (record.holder === undefined) return;
    const held = this.#byNode.get(record.holder.node);
    held?.delete(record);
    if (held?.size === 0) this.#byNode.delete(record.holder.node);
    record.holder = undefined;
  }
}

function sameHolder(a: PresenceHolder | undefined, b: PresenceHolder): boolean {
  return a !== undefined && a.node === b.node && a.connection === b.connection;
}

function toMember(record: Membership): PresenceMember {
  return memberOf(record.session, record.user, record.info);
}
