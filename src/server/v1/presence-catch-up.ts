/**
 * Presence changes this process might have missed, found and told. A shared store whose deliveries can
 * break (Redis: they ride on pub/sub) numbers each channel's changes ({@link PresenceVersion}); for every
 * channel watched here, this keeps what its watchers were told (the members, as of the last change told)
 * and checks each change against it:
 *
 * - the next change in order is told and applied;
 * - one already told (a change older than a read that reflected it) is dropped: nobody hears of a member
 *   twice;
 * - a gap (a change missing before this one), or a delivery the store reports restored after a break
 *   (`PresenceStore.onMissed`), reads the channel's members at once ({@link PresenceStore.snapshot}) and tells
 *   the difference: a `leave` for each member that went meanwhile, a `join` for each that came (or came
 *   back with other info). What the watchers end up knowing is what happened, as with the event rate's
 *   coalescing: a member that came and went during a break is never told.
 *
 * Changes keep flowing while a read is under way (told as they come, and applied again on top of the
 * read). A read that fails is tried again at each sweep; every failure is counted. What is kept is
 * bounded by the members of the watched channels (at most `maxPresenceMembers` each), a user id and a
 * hash of the info per member.
 * @packageDocumentation
 */
import type { PresenceChange, PresenceMember, PresenceSnapshot, PresenceVersion } from '../../store/types.js';

/** What catch-up counts, for the server's stats. */
export interface CatchUpCounters {
  /** Channel reads after a break or a gap (not the first read of a channel). */
  resyncs: number;
  /** Changes told from such a read: what a broken delivery would have lost. */
  recovered: number;
  /** Reads that failed (tried again at the next sweep): until one succeeds, the channel's watchers may miss changes. */
  resyncFailures: number;
}

/** What catch-up needs from presence on this process. */
export interface CatchUpContext {
  /** Read a channel's members at once. */
  snapshot(channel: string): Promise<PresenceSnapshot>;
  /** Tell a change (to watchers, listeners, counters). */
  deliver(change: PresenceChange): void;
  readonly counters: CatchUpCounters;
  /** Count and log a failed read. */
  failed(error: unknown): void;
}

/** What watchers know of a member: enough to tell a leave, and whether a join changed anything. */
interface Known {
  readonly user: string | undefined;
  readonly info: number;
}

/** One watched channel. */
interface Channel {
  readonly name: string;
  /** The last change applied (undefined: none yet, or the channel had no member when read). */
  version: PresenceVersion | undefined;
  readonly members: Map<string, Known>;
  /** Whether the first read is done (until then, nothing is compared). */
  loaded: boolean;
  /** A read under way: the changes that arrived meanwhile, applied again on top of it. */
  reading: PresenceChange[] | undefined;
  /** Another read was asked for while one was under way (or one failed): read again. */
  again: boolean;
  /** Whether the watched channel was let go (reads under way are dropped). */
  stopped: boolean;
  /** Epochs that ended before what is known now (the channel was emptied since): their changes are old. */
  readonly retired: string[];
}

/** Ended epochs remembered per channel. */
const RETIRED_KEPT = 4;

/** FNV-1a of a JSON text: whether a member's info changed, without keeping it. */
function infoHash(member: PresenceMember): number {
  if (member.info === undefined) return 0;
  let hash = 0x811c9dc5;
  const text = JSON.stringify(member.info);
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash || 1;
}

function knownOf(member: PresenceMember): Known {
  return { user: member.user, info: infoHash(member) };
}

/** Whether `b` is at or before `a` in one epoch (a change already reflected). */
function notAfter(change: PresenceVersion, known: PresenceVersion | undefined): boolean {
  return known !== undefined && change.epoch === known.epoch && change.seq <= known.seq;
}

/** The catch-up of every channel watched on this process. */
export class PresenceCatchUp {
  readonly #ctx: CatchUpContext;
  readonly #channels = new Map<string, Channel>();

  constructor(ctx: CatchUpContext) {
    this.#ctx = ctx;
  }

  /** Channels kept. */
  get size(): number {
    return this.#channels.size;
  }

  /** `channel` has its first watcher here: read its members (what its watchers are told from now on builds on them). */
  start(channel: string): void {
    if (this.#channels.has(channel)) return;
    const state: Channel = { name: channel, version: undefined, members: new Map(), loaded: false, reading: undefined, again: false, stopped: false, retired: [] };
    this.#channels.set(channel, state);
    void this.#read(state);
  }

  /** `channel`'s last watcher here left. */
  stop(channel: string): void {
    const state = this.#channels.get(channel);
    if (!state) return;
    state.stopped = true;
    this.#channels.delete(channel);
  }

  /** A change from the store: told unless already told; a gap before it reads the channel again. */
  changed(change: PresenceChange): void {
    const state = this.#channels.get(change.channel);
    const version = change.version;
    if (!state || version === undefined) {
      this.#ctx.deliver(change);
      return;
    }
    if (notAfter(version, state.version) || state.retired.includes(version.epoch)) return;
    const inOrder = state.loaded && state.reading === undefined && this.#follows(state, version);
    this.#ctx.deliver(change);
    this.#apply(state, change);
    state.reading?.push(change);
    if (!inOrder && state.loaded && state.reading === undefined) {
      this.#ctx.counters.resyncs += 1;
      void this.#read(state);
    }
  }

  /** The store's delivery of `channels` (undefined: of any channel) broke and was restored: read the watched ones again. */
  resync(channels: readonly string[] | undefined): void {
    for (const state of channels === undefined ? [...this.#channels.values()] : channels.map((c) => this.#channels.get(c))) {
      if (!state) continue;
      if (state.reading !== undefined) {
        state.again = true;
        continue;
      }
      this.#ctx.counters.resyncs += 1;
      void this.#read(state);
    }
  }

  /** Read again the channels whose last read failed (called at each sweep). */
  retry(): void {
    for (const state of this.#channels.values()) {
      if (state.again && state.reading === undefined) void this.#read(state);
    }
  }

  /** Forget everything (presence stopped). */
  close(): void {
    for (const state of this.#channels.values()) state.stopped = true;
    this.#channels.clear();
  }

  /** Whether `version` comes right after what `state` knows. */
  #follows(state: Channel, version: PresenceVersion): boolean {
    const known = state.version;
    if (known !== undefined && version.epoch === known.epoch) return version.seq === known.seq + 1;
    // A new epoch starts at 1, and only once the channel was empty (its last member gone).
    return version.seq === 1 && state.members.size === 0;
  }

  #apply(state: Channel, change: PresenceChange): void {
    if (change.kind === 'join') state.members.set(change.member.session, knownOf(change.member));
    else state.members.delete(change.member.session);
    if (change.version === undefined) return;
    if (state.version !== undefined && state.version.epoch !== change.version.epoch) this.#retire(state, state.version.epoch);
    state.version = change.version;
  }

  #retire(state: Channel, epoch: string): void {
    if (state.retired.includes(epoch)) return;
    state.retired.push(epoch);
    if (state.retired.length > RETIRED_KEPT) state.retired.shift();
  }

  /** Read the channel's members and tell what its watchers missed (nothing, for the first read). */
  async #read(state: Channel): Promise<void> {
    state.reading = [];
    state.again = false;
    // Known before the read: the read is at this epoch or later, so if it is at another, this one ended.
    const epochBefore = state.version?.epoch;
    let snapshot: PresenceSnapshot;
    try {
      snapshot = await this.#ctx.snapshot(state.name);
    } catch (error) {
      state.reading = undefined;
      if (state.stopped) return;
      state.again = true;
      this.#ctx.counters.resyncFailures += 1;
      this.#ctx.failed(error);
      return;
    }
    const arrived = state.reading;
    state.reading = undefined;
    if (state.stopped) return;
    const readEpoch = snapshot.version?.epoch;
    if (epochBefore !== undefined && epochBefore !== readEpoch) this.#retire(state, epochBefore);
    // The read, then the changes after it that arrived meanwhile (those before it are in it already).
    const target = new Map<string, { known: Known; member: PresenceMember }>();
    for (const member of snapshot.members) target.set(member.session, { known: knownOf(member), member });
    let version = snapshot.version;
    for (const change of arrived) {
      const v = change.version!;
      if (notAfter(v, snapshot.version) || state.retired.includes(v.epoch)) continue;
      // An epoch other than the read's that did not end before it: whether it came before or after the
      // read cannot be told. Applied as after; a read again settles it.
      if (v.epoch !== readEpoch) state.again = true;
      if (change.kind === 'join') target.set(change.member.session, { known: knownOf(change.member), member: change.member });
      else target.delete(change.member.session);
      if (version !== undefined && version.epoch !== v.epoch) this.#retire(state, version.epoch);
      version = v;
    }
    if (state.loaded) this.#tellDifference(state, target);
    state.members.clear();
    for (const [session, { known }] of target) state.members.set(session, known);
    state.version = version;
    state.loaded = true;
    if (state.again) {
      this.#ctx.counters.resyncs += 1;
      void this.#read(state);
    }
  }

  /** A leave for each member the watchers know that is gone, a join for each that is new or changed. */
  #tellDifference(state: Channel, target: ReadonlyMap<string, { known: Known; member: PresenceMember }>): void {
    const told: PresenceChange[] = [];
    for (const [session, known] of state.members) {
      if (target.has(session)) continue;
      told.push({ kind: 'leave', channel: state.name, member: known.user === undefined ? { session } : { session, user: known.user } });
    }
    for (const [session, { known, member }] of target) {
      const before = state.members.get(session);
      if (before !== undefined && before.user === known.user && before.info === known.info) continue;
      told.push({ kind: 'join', channel: state.name, member });
    }
    this.#ctx.counters.recovered += told.length;
    for (const change of told) this.#ctx.deliver(change);
  }
}
