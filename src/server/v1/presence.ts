/**
 * Presence on one server process: who is a member of which channel, kept in the store's presence records
 * ({@link PresenceStore}) so that a membership outlives the connection that made it. A member leaves only
 * when its session ends (an `unsub`, a close with 1000) or when nobody resumed it within the grace period;
 * a restart (1012), a takeover (4801) or a dropped link (1006) followed by a resume changes nothing anyone
 * sees.
 *
 * This process's part: it renews its node's lease (so the members its connections hold stay while it
 * lives, and leave a grace after it dies without a word), sweeps the records whose deadline passed (any
 * live process may claim such a leave; the store makes the claim atomic, so each leave happens once), and
 * tells the changes it learns to its own watchers (`presence-feed.ts`) and to the server's listeners. With
 * a store private to this process those are the changes its own calls report; a shared store tells every
 * process about every change through its `watch`.
 * @packageDocumentation
 */
import { randomBytes } from 'node:crypto';
import type { PresenceChange, PresenceHolder, PresenceJoinResult, PresenceMember, PresencePage, PresenceStore } from '../../store/types.js';
import { inBackground, type Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { ResolvedServerOptions } from '../core/options.js';
import { PresenceCatchUp, type CatchUpCounters } from './presence-catch-up.js';
import { PresenceFeeds, type FeedCounters, type PresenceWatcher } from './presence-feed.js';

/** Most leaves one sweep claims per store call; a sweep calls again while it gets full batches. */
export const EXPIRE_BATCH = 500;
/** Most connection ends the store failed to record that are kept to try again. */
const MAX_RETRIES = 10_000;
/** Most store calls one sweep makes, so a backlog is taken a bounded bite per tick. */
const EXPIRE_CALLS = 20;

/** The settings presence reads, live (a reload reaches it). */
export type PresenceSettings = Pick<ResolvedServerOptions, 'presenceLeaseMs' | 'maxPresenceMembers' | 'presenceEventsPerSecond'> & {
  /** The grace period in force (`presenceGraceMs`, or its default from the drain window and the retry hint). */
  readonly presenceGraceMs: number;
};

/** Presence counters, for the server's stats. */
export interface PresenceCounters extends FeedCounters, CatchUpCounters {
  /** Memberships held by this process's connections now. */
  held: number;
  /** Joins this process learned of (new members). */
  joins: number;
  /** Leaves this process learned of. */
  leaves: number;
  /** Leaves this process's sweeps claimed (members not resumed in time, or held by a dead node). */
  expired: number;
  /** Presence queries answered (a `presence` frame or `server.presence()`). */
  queries: number;
  /** Times this node's lease had run out when it renewed it (its members were joined again). */
  leaseLapses: number;
}

/** What presence needs from the server. */
export interface PresenceContext {
  readonly store: PresenceStore;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The settings in force now. */
  readonly settings: () => PresenceSettings;
  readonly counters: PresenceCounters;
  /** Count a failed store call. */
  storeFailed(operation: string, error: unknown): void;
  /** Tell the server's listeners. */
  changed(change: PresenceChange): void;
}

/** A connection's end to record: its session's memberships leave (`ended`) or wait for a resume. */
interface LetGo {
  readonly session: string;
  readonly channels: readonly string[];
  readonly holder: PresenceHolder;
  readonly ended: boolean;
}

/** Key of a membership this process holds. */
const keyOf = (channel: string, session: string): string => `${channel}\n${session}`;

/** A new node id. */
function nodeId(): string {
  return `n_${randomBytes(9).toString('base64url')}`;
}

/** This process's presence: its node, its lease and sweeps, its watchers, and the calls its connections make. */
export class PresenceService {
  /** The watchers of this process. */
  readonly feeds: PresenceFeeds;
  readonly #ctx: PresenceContext;
  #node = nodeId();
  /** What this process's watchers missed, found and told: for a store whose deliveries can break (`snapshot`). */
  readonly #catchUp: PresenceCatchUp | undefined;
  readonly #unmissed: (() => void) | undefined;
  /** The memberships this process's connections hold: joined again if the lease ever ran out. */
  readonly #held = new Map<string, { channel: string; member: PresenceMember; holder: PresenceHolder }>();
  /** The first renewal: no member is joined before the node has a lease. */
  readonly #ready: Promise<void>;
  readonly #unwatch: (() => void) | undefined;
  /** Connections' ends the store failed to record, tried again at each sweep (bounded by the memberships held here). */
  #retries: LetGo[] = [];
  #leaseTimer: unknown;
  #sweepTimer: unknown;
  #stopped = false;

  constructor(ctx: PresenceContext) {
    this.#ctx = ctx;
    this.feeds = new PresenceFeeds(ctx.clock, () => ctx.settings().presenceEventsPerSecond, ctx.counters);
    const { store } = ctx;
    if (store.watch && store.snapshot) {
      const snapshot = store.snapshot.bind(store);
      this.#catchUp = new PresenceCatchUp({
        snapshot,
        deliver: (change) => this.#learned(change),
        counters: ctx.counters,
        failed: (error) => ctx.storeFailed('presenceSnapshot', error),
      });
      this.#unmissed = store.onMissed?.((channels) => this.#catchUp?.resync(channels));
    }
    const catchUp = this.#catchUp;
    this.#unwatch = store.watch?.((change) => (catchUp ? catchUp.changed(change) : this.#learned(change)));
    this.#ready = this.#renew();
    this.#scheduleSweep();
  }

  /**
   * This process's id in the presence records: a new one per start (a restarted process is another node),
   * and a new one after its lease ran out, so a sweep still detaching the members of the lease that ran
   * out cannot touch those joined again.
   */
  get node(): string {
    return this.#node;
  }

  /** `watcher` wants `channel`'s events: the first one here starts its catch-up (see `presence-catch-up.ts`). */
  watch(channel: string, watcher: PresenceWatcher): void {
    const first = !this.feeds.has(channel);
    this.feeds.watch(channel, watcher);
    if (first) this.#catchUp?.start(channel);
  }

  /** `watcher` no longer wants `channel`'s events. */
  unwatch(channel: string, watcher: PresenceWatcher): void {
    this.feeds.unwatch(channel, watcher);
    if (!this.feeds.has(channel)) this.#catchUp?.stop(channel);
  }

  /** Whether the store shares presence between processes (then changes arrive through its `watch`). */
  get shared(): boolean {
    return this.#unwatch !== undefined;
  }

  /**
   * `member` joins `channel`, held by `holder`: resolves `joined` (a `join` for every watcher), `continued`
   * (it was a member already: nothing to tell), or `full` (refused: the channel has `maxPresenceMembers`).
   */
  async join(channel: string, member: PresenceMember, holder: PresenceHolder): Promise<PresenceJoinResult> {
    await this.#ready;
    const { presenceGraceMs: graceMs, maxPresenceMembers: maxMembers } = this.#ctx.settings();
    const result = await this.#ctx.store.join(channel, member, holder, { graceMs, maxMembers });
    if (result === 'full') return result;
    this.#hold(channel, member, holder);
    if (result === 'joined') this.#reported([{ kind: 'join', channel, member }]);
    return result;
  }

  /** `holder`'s connection went away without ending its session: its memberships stay for the grace period. */
  async detach(session: string, channels: readonly string[], holder: PresenceHolder): Promise<void> {
    this.#release(session, channels, holder);
    await this.#ctx.store.detach(session, channels, holder, this.#ctx.settings().presenceGraceMs);
  }

  /** The session left `channels` (an `unsub`, a close with 1000): a `leave` for each membership that ends. */
  async leave(session: string, channels: readonly string[], holder?: PresenceHolder): Promise<void> {
    if (holder !== undefined) this.#release(session, channels, holder);
    else for (const channel of channels) this.#drop(channel, session);
    this.#reported(await this.#ctx.store.leave(session, channels, holder));
  }

  /**
   * A connection is gone: its session's memberships in `channels` leave (`ended`: the session ended with it)
   * or are detached (they wait for a resume). Never rejects: a store that fails here would leave them held
   * by a connection that is no more, for as long as this process lives, so a failed call is counted and
   * tried again at each sweep until it goes through.
   */
  letGo(session: string, channels: readonly string[], holder: PresenceHolder, ended: boolean): void {
    const work = { session, channels, holder, ended };
    void this.#letGo(work).catch((error: unknown) => {
      this.#ctx.storeFailed(ended ? 'presenceLeave' : 'presenceDetach', error);
      this.#retries.push(work);
      // Bounded: past it the oldest are given up (logged); their members then stay until this process stops.
      if (this.#retries.length > MAX_RETRIES) {
        const dropped = this.#retries.splice(0, this.#retries.length - MAX_RETRIES);
        this.#ctx.logger.error({ dropped: dropped.length }, 'presence: too many connection ends the store did not record; giving up the oldest');
      }
    });
  }

  async #letGo({ session, channels, holder, ended }: LetGo): Promise<void> {
    if (ended) await this.leave(session, channels, holder);
    else await this.detach(session, channels, holder);
  }

  /** A page of `channel`'s members. */
  async page(channel: string, after: string | undefined, limit: number): Promise<PresencePage> {
    this.#ctx.counters.queries += 1;
    return this.#ctx.store.page(channel, after, limit);
  }

  /** How many members `channel` has. */
  count(channel: string): Promise<number> {
    return this.#ctx.store.count(channel);
  }

  /** Stop renewing and sweeping (the server stopped): this node's lease runs out, and its members with it. */
  stop(): void {
    this.#stopped = true;
    this.#unwatch?.();
    this.#unmissed?.();
    this.#catchUp?.close();
    const { clock } = this.#ctx;
    if (this.#leaseTimer !== undefined) clock.clearTimeout(this.#leaseTimer);
    if (this.#sweepTimer !== undefined) clock.clearTimeout(this.#sweepTimer);
    this.feeds.close();
  }

  /**
   * Renew the lease; if it had run out (a stall, a store outage), every member held here is joined again,
   * under a new node id (see {@link PresenceService.node}).
   */
  async #renew(): Promise<void> {
    if (this.#stopped) return;
    const { presenceLeaseMs } = this.#ctx.settings();
    try {
      const held = await this.#ctx.store.refreshNode(this.#node, presenceLeaseMs);
      if (!held && this.#held.size > 0) {
        this.#ctx.counters.leaseLapses += 1;
        const lapsed = this.#node;
        this.#node = nodeId();
        this.#ctx.logger.warn({ node: lapsed, now: this.#node, members: this.#held.size }, 'presence lease had run out; joining this node\'s members again under a new node id');
        await this.#ctx.store.refreshNode(this.#node, presenceLeaseMs);
        for (const { channel, member, holder } of [...this.#held.values()]) await this.join(channel, member, { node: this.#node, connection: holder.connection });
      }
    } catch (error) {
      this.#ctx.storeFailed('presenceRefresh', error);
    } finally {
      if (!this.#stopped) this.#leaseTimer = inBackground(this.#ctx.clock.setTimeout(() => void this.#renew(), Math.max(1, presenceLeaseMs / 3)));
    }
  }

  /** One sweep: the leaves due now, a bounded number of store calls, then the next sweep. */
  async #sweep(): Promise<void> {
    this.#sweepTimer = undefined;
    if (this.#stopped) return;
    this.#catchUp?.retry();
    const retries = this.#retries.splice(0);
    for (const work of retries) {
      try {
        await this.#letGo(work);
      } catch {
        this.#retries.push(work);
      }
    }
    try {
      for (let calls = 0; calls < EXPIRE_CALLS && !this.#stopped; calls++) {
        const left = await this.#ctx.store.expire(EXPIRE_BATCH);
        this.#ctx.counters.expired += left.length;
        for (const change of left) this.#drop(change.channel, change.member.session);
        this.#reported(left);
        if (left.length < EXPIRE_BATCH) break;
      }
    } catch (error) {
      this.#ctx.storeFailed('presenceExpire', error);
    }
    this.#scheduleSweep();
  }

  /** Sweeps run often enough that a leave comes within a tenth of the grace (at most a second) of its deadline. */
  #scheduleSweep(): void {
    if (this.#stopped || this.#sweepTimer !== undefined) return;
    const every = Math.min(1000, Math.max(20, this.#ctx.settings().presenceGraceMs / 10));
    this.#sweepTimer = inBackground(this.#ctx.clock.setTimeout(() => void this.#sweep(), every));
  }

  /** Changes this process's own calls made: told here unless the store tells every process (then they come back through `watch`). */
  #reported(changes: readonly PresenceChange[]): void {
    if (this.shared) return;
    for (const change of changes) this.#learned(change);
  }

  #learned(change: PresenceChange): void {
    if (change.kind === 'join') this.#ctx.counters.joins += 1;
    else this.#ctx.counters.leaves += 1;
    this.feeds.deliver(change);
    this.#ctx.changed(change);
  }

  #hold(channel: string, member: PresenceMember, holder: PresenceHolder): void {
    this.#held.set(keyOf(channel, member.session), { channel, member, holder });
    this.#ctx.counters.held = this.#held.size;
  }

  /** Forget the memberships `holder` held (another connection may hold them by now: then they are not ours to forget). */
  #release(session: string, channels: readonly string[], holder: PresenceHolder): void {
    for (const channel of channels) {
      const key = keyOf(channel, session);
      if (this.#held.get(key)?.holder.connection === holder.connection) this.#held.delete(key);
    }
    this.#ctx.counters.held = this.#held.size;
  }

  #drop(channel: string, session: string): void {
    this.#held.delete(keyOf(channel, session));
    this.#ctx.counters.held = this.#held.size;
  }
}
