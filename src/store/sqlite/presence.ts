/**
 * Presence in SQLite: a row per member in `presence`, a lease per server process in `presence_nodes`.
 * Every write is one `BEGIN IMMEDIATE` transaction, so processes sharing the file see each join, detach
 * and leave whole, and a leave is claimed by the `DELETE ... RETURNING` that removes the row: whichever
 * process deletes it reports it, once. The rules are `presence-rules.ts`'s. Every change reaches every
 * process on the file through the presence feed (`presence-feed.ts`), with its channel's version.
 * @packageDocumentation
 */
import type { PresenceCore } from '../core.js';
import { encodeInfo, joinOutcome, leaseHolds, memberOf, presenceDeadline } from '../presence-rules.js';
import type { PresenceChange, PresenceHolder, PresenceJoinOptions, PresenceJoinResult, PresenceMember, PresencePage, PresenceSnapshot } from '../types.js';
import type { SqliteContext } from './open.js';
import type { PresenceFeed } from './presence-feed.js';
import type { MemberRow } from './statements.js';

/** Run engine work, turning engine errors into store errors (the core's `#run`/`#write`). */
export type Guard = <T>(what: string, work: () => T, write: boolean) => T;

function leaveOf(row: MemberRow): PresenceChange {
  return { kind: 'leave', channel: row.channel, member: memberOf(row.session, row.user, row.info) };
}

/** The SQLite engine's presence, behind the guard. */
export class SqlitePresence implements PresenceCore {
  readonly #ctx: SqliteContext;
  readonly #guard: Guard;
  readonly #join;
  readonly #detach;
  readonly #leave;
  readonly #refresh;
  readonly #expire;
  readonly #page;
  readonly #snapshot;
  /** The cross-process feed (a file shared by processes); undefined for a private `':memory:'` database. */
  readonly #feed: PresenceFeed | undefined;
  /**
   * Every change any process on the file makes (this one's included), in commit order (`presence-feed.ts`);
   * undefined for a `':memory:'` database, which no other process shares.
   */
  readonly watch?: (listener: (change: PresenceChange) => void) => () => void;
  /** Told when this process fell behind the feed and may have missed any channel's changes. */
  readonly onMissed?: (listener: (channels?: readonly string[]) => void) => () => void;

  constructor(ctx: SqliteContext, guard: Guard, feed: PresenceFeed | undefined) {
    this.#ctx = ctx;
    this.#guard = guard;
    this.#feed = feed;
    if (feed) {
      this.watch = (listener) => this.#guard('presence.watch', () => feed.add(listener), false);
      this.onMissed = (listener) => feed.onMissed(listener);
    }
    const { sql, db } = ctx;
    const versionOf = db.prepare<[string], { epoch: string; seq: number }>('SELECT epoch, seq FROM presence_versions WHERE channel = ?');
    this.#join = db.transaction((channel: string, member: PresenceMember, holder: PresenceHolder, options: PresenceJoinOptions, now: number): PresenceJoinResult => {
      const existing = sql.selectMemberHolder.get(channel, member.session);
      const outcome = existing !== undefined ? joinOutcome(true, 0, options.maxMembers) : joinOutcome(false, sql.countMembers.get(channel)!, options.maxMembers);
      if (outcome === 'full') return outcome;
      const info = encodeInfo(member) ?? null;
      const user = member.user ?? null;
      if (existing === undefined) sql.insertMember.run(channel, member.session, user, info, holder.node, holder.connection, options.graceMs);
      else sql.holdMember.run(user, info, holder.node, holder.connection, options.graceMs, channel, member.session);
      // Every node holding a member has a lease row, so a sweep finds its members when it dies.
      sql.placeholderLease.run(holder.node, now);
      return outcome;
    });
    this.#detach = db.transaction((session: string, channels: readonly string[], holder: PresenceHolder, graceMs: number, now: number): number => {
      let detached = 0;
      const deadline = presenceDeadline(now, graceMs);
      for (const channel of channels) detached += sql.detachMember.run(deadline, channel, session, holder.node, holder.connection).changes;
      return detached;
    });
    this.#leave = db.transaction((session: string, channels: readonly string[], holder: PresenceHolder | undefined): PresenceChange[] => {
      const left: PresenceChange[] = [];
      for (const channel of channels) {
        const row = holder === undefined ? sql.leaveMember.get(channel, session) : sql.leaveHeldMember.get(channel, session, holder.node, holder.connection);
        if (row !== undefined) left.push(leaveOf(row));
      }
      return left;
    });
    this.#refresh = db.transaction((node: string, leaseMs: number, now: number): boolean => {
      const held = leaseHolds(sql.selectLease.get(node), now);
      sql.upsertLease.run(node, now + leaseMs);
      return held;
    });
    this.#expire = db.transaction((limit: number, now: number): PresenceChange[] => {
      for (const { node, expiresAt } of sql.expiredLeases.all(now)) {
        sql.orphanMembers.run(expiresAt, node);
        sql.deleteLease.run(node);
      }
      return sql.expireMembers.all(now, limit).map(leaveOf);
    });
    // One snapshot: the count and the page agree.
    this.#page = db.transaction((channel: string, after: string | undefined, limit: number): PresencePage => {
      const count = sql.countMembers.get(channel)!;
      const rows = sql.selectMembers.all(channel, after ?? '', limit + 1);
      const members = rows.slice(0, limit).map((r) => memberOf(r.session, r.user, r.info));
      return rows.length > limit ? { count, members, next: members[members.length - 1]!.session } : { count, members };
    });
    // One snapshot: the members and the version of the last change they reflect agree.
    this.#snapshot = db.transaction((channel: string): PresenceSnapshot => {
      const version = versionOf.get(channel);
      const members = sql.selectMembers.all(channel, '', -1).map((r) => memberOf(r.session, r.user, r.info));
      return version === undefined ? { members } : { version: { epoch: version.epoch, seq: version.seq }, members };
    });
  }

  join(channel: string, member: PresenceMember, holder: PresenceHolder, options: PresenceJoinOptions, now: number): PresenceJoinResult {
    const result = this.#guard('presence.join', () => this.#join.immediate(channel, member, holder, options, now), true);
    if (result === 'joined') this.#feed?.wrote();
    return result;
  }

  detach(session: string, channels: readonly string[], holder: PresenceHolder, graceMs: number, now: number): number {
    return this.#guard('presence.detach', () => this.#detach.immediate(session, channels, holder, graceMs, now), true);
  }

  leave(session: string, channels: readonly string[], holder: PresenceHolder | undefined): PresenceChange[] {
    const left = this.#guard('presence.leave', () => this.#leave.immediate(session, channels, holder), true);
    if (left.length > 0) this.#feed?.wrote();
    return left;
  }

  refreshNode(node: string, leaseMs: number, now: number): boolean {
    return this.#guard('presence.refreshNode', () => this.#refresh.immediate(node, leaseMs, now), true);
  }

  expire(limit: number, now: number): PresenceChange[] {
    const left = this.#guard('presence.expire', () => this.#expire.immediate(limit, now), true);
    if (left.length > 0) this.#feed?.wrote();
    return left;
  }

  page(channel: string, after: string | undefined, limit: number): PresencePage {
    return this.#guard('presence.page', () => this.#page.deferred(channel, after, limit), false);
  }

  snapshot(channel: string): PresenceSnapshot {
    return this.#guard('presence.snapshot', () => this.#snapshot.deferred(channel), false);
  }

  count(channel: string): number {
    return this.#guard('presence.count', () => this.#ctx.sql.countMembers.get(channel)!, false);
  }
}
