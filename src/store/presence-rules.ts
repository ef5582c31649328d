/**
 * The presence rules every engine follows in its own terms: when a member no connection holds leaves,
 * when a node counts as dead, what a join does, how a page is cut, and how a member crosses the engine's
 * boundary. Written once here so the engines differ only in how they store records. (A shared engine
 * written in another language, a Redis script, follows the same rules; the conformance suite checks it.)
 * Internal: not re-exported from `store/index.ts`.
 * @packageDocumentation
 */
import { decodeData, encodeData } from './records.js';
import { isExpired } from './rules.js';
import type { PresenceJoinResult, PresenceMember } from './types.js';

/** When a member that nobody holds since `since` leaves: `graceMs` later. */
export function presenceDeadline(since: number, graceMs: number): number {
  return since + graceMs;
}

/** Whether a member with this deadline is due to leave at `now` (due from the deadline on, like every expiry). */
export function isDue(deadline: number, now: number): boolean {
  return isExpired(deadline, now);
}

/** Whether a node's lease, which runs out at `expiresAt` (undefined: unknown), still holds at `now`. */
export function leaseHolds(expiresAt: number | undefined, now: number): boolean {
  return expiresAt !== undefined && !isExpired(expiresAt, now);
}

/**
 * The deadline of a member whose node stopped renewing its lease: the grace counts from the lease's end,
 * the last moment the node vouched for its connections (from `now` when the lease is unknown: the member
 * gets its whole grace rather than none).
 */
export function orphanDeadline(leaseExpiresAt: number | undefined, now: number, graceMs: number): number {
  return presenceDeadline(Math.min(leaseExpiresAt ?? now, now), graceMs);
}

/**
 * What a join does: a session that is a member already continues (whoever held it, held or in its grace:
 * silently); a new one joins while the channel has room, else it is refused and nothing is written.
 * @param members - the channel's members now
 */
export function joinOutcome(isMember: boolean, members: number, maxMembers: number): PresenceJoinResult {
  if (isMember) return 'continued';
  return members >= maxMembers ? 'full' : 'joined';
}

/**
 * Where a page starts and ends in a channel's session ids sorted ascending (by UTF-16 code units, as
 * `<` compares strings and SQLite's BINARY collation orders ASCII), and the next page's cursor.
 */
export function pageBounds(sorted: readonly string[], after: string | undefined, limit: number): { start: number; end: number; next?: string } {
  let start = 0;
  if (after !== undefined) {
    let high = sorted.length;
    while (start < high) {
      const mid = (start + high) >>> 1;
      if (sorted[mid]! <= after) start = mid + 1;
      else high = mid;
    }
  }
  const end = Math.min(sorted.length, start + limit);
  return end < sorted.length ? { start, end, next: sorted[end - 1]! } : { start, end };
}

/** Where `session` goes in ascending `sorted` (its index if there, else where to insert it). */
export function sortedIndex(sorted: readonly string[], session: string): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (sorted[mid]! < session) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** A member's info as stored: JSON text, or undefined for none. */
export function encodeInfo(member: PresenceMember): string | undefined {
  return member.info === undefined ? undefined : encodeData(member.info);
}

/** A member as handed out from stored fields: a fresh object, without undefined members. */
export function memberOf(session: string, user: string | null | undefined, info: string | null | undefined): PresenceMember {
  const member: { session: string; user?: string; info?: PresenceMember['info'] } = { session };
  if (user !== null && user !== undefined) member.user = user;
  if (info !== null && info !== undefined) member.info = decodeData(info);
  return member;
}
