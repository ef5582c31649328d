/**
 * `join` and `leave` frames to the connections of this process that asked for a channel's presence
 * events, at a bounded rate per channel. Under the rate each change goes out at once; over it, changes
 * wait and are coalesced per member, and go out as the rate allows: a member that joined and left while
 * waiting produces nothing, one that left and came back produces one `join` (which replaces what a
 * watcher knew of it). Nothing is lost: what a watcher ends up knowing is what happened. The waiting
 * changes are bounded by the channel's members (one entry per member, whatever the churn).
 * @packageDocumentation
 */
import type { PresenceChange } from '../../store/types.js';
import { inBackground, type Clock } from '../core/clock.js';
import { TokenBucket } from '../core/token-bucket.js';

/** Where a watcher's frames go (its connection). */
export interface PresenceWatcher {
  /** Send one frame already encoded as JSON text. */
  send(text: string): void;
}

/** What the feeds count, for the server's stats. */
export interface FeedCounters {
  /** Event frames written to watchers (one per watcher). */
  eventsSent: number;
  /** Changes that never went out on their own because a later one of the same member replaced or cancelled them. */
  coalesced: number;
}

/** A change waiting for the rate, and whether watchers knew the member before the first waiting change. */
interface Waiting {
  readonly knownBefore: boolean;
  change: PresenceChange;
}

/** One channel's watchers and what waits for them. */
interface Feed {
  readonly watchers: Set<PresenceWatcher>;
  readonly bucket: TokenBucket;
  /** How often one more event is allowed, in ms: when waiting changes are looked at again. */
  readonly intervalMs: number;
  /** By session, in the order members first changed. */
  readonly waiting: Map<string, Waiting>;
  timer: unknown;
}

/** The frame of a change, encoded once for every watcher of its channel. */
export function changeFrame(change: PresenceChange): string {
  const { session, user, info } = change.member;
  const frame =
    change.kind === 'join'
      ? { t: 'join', ch: change.channel, session, ...(user !== undefined ? { user } : {}), ...(info !== undefined ? { info } : {}) }
      : { t: 'leave', ch: change.channel, session, ...(user !== undefined ? { user } : {}) };
  return JSON.stringify(frame);
}

/** The presence events of every channel watched on this process. */
export class PresenceFeeds {
  readonly #feeds = new Map<string, Feed>();

  /**
   * @param clock - the server's clock (the rate, and when waiting changes go)
   * @param rate - the events per second a channel may send, read when its feed starts
   * @param counters - where sends and coalescing are counted
   */
  constructor(
    private readonly clock: Clock,
    private readonly rate: () => number,
    private readonly counters: FeedCounters,
  ) {}

  /** `watcher` wants `channel`'s events from now on. */
  watch(channel: string, watcher: PresenceWatcher): void {
    let feed = this.#feeds.get(channel);
    if (!feed) {
      const rate = this.rate();
      feed = { watchers: new Set(), bucket: new TokenBucket(rate, rate, this.clock.now()), intervalMs: Math.max(1, Math.ceil(1000 / rate)), waiting: new Map(), timer: undefined };
      this.#feeds.set(channel, feed);
    }
    feed.watchers.add(watcher);
  }

  /** `watcher` no longer wants `channel`'s events. */
  unwatch(channel: string, watcher: PresenceWatcher): void {
    const feed = this.#feeds.get(channel);
    if (!feed?.watchers.delete(watcher) || feed.watchers.size > 0) return;
    if (feed.timer !== undefined) this.clock.clearTimeout(feed.timer);
    this.#feeds.delete(channel);
  }

  /** Whether `channel` has a watcher on this process. */
  has(channel: string): boolean {
    return this.#feeds.has(channel);
  }

  /** Channels watched on this process. */
  get channels(): number {
    return this.#feeds.size;
  }

  /** Changes waiting for the rate, all channels. */
  get waiting(): number {
    let n = 0;
    for (const feed of this.#feeds.values()) n += feed.waiting.size;
    return n;
  }

  /** A member came or went: tell the channel's watchers, now or when the rate allows. */
  deliver(change: PresenceChange): void {
    const feed = this.#feeds.get(change.channel);
    if (!feed) return;
    if (feed.waiting.size === 0 && feed.bucket.take(this.clock.now())) {
      this.#send(feed, change);
      return;
    }
    const session = change.member.session;
    const earlier = feed.waiting.get(session);
    if (earlier === undefined) feed.waiting.set(session, { knownBefore: change.kind === 'leave', change });
    else if (!earlier.knownBefore && change.kind === 'leave') {
      // Joined and left while waiting: the watchers never knew it, and need not.
      feed.waiting.delete(session);
      this.counters.coalesced += 2;
    } else {
      earlier.change = change;
      this.counters.coalesced += 1;
    }
    this.#schedule(feed);
  }

  /** Stop every timer (the server stopped). */
  close(): void {
    for (const feed of this.#feeds.values()) if (feed.timer !== undefined) this.clock.clearTimeout(feed.timer);
    this.#feeds.clear();
  }

  #send(feed: Feed, change: PresenceChange): void {
    const text = changeFrame(change);
    for (const watcher of feed.watchers) watcher.send(text);
    this.counters.eventsSent += feed.watchers.size;
  }

  /** Send what the rate allows now; come back for the rest when the next event is due. */
  #flush(feed: Feed): void {
    feed.timer = undefined;
    const now = this.clock.now();
    for (const [session, waiting] of feed.waiting) {
      if (!feed.bucket.take(now)) break;
      feed.waiting.delete(session);
      this.#send(feed, waiting.change);
    }
    this.#schedule(feed);
  }

  #schedule(feed: Feed): void {
    if (feed.timer !== undefined || feed.waiting.size === 0) return;
    feed.timer = inBackground(this.clock.setTimeout(() => this.#flush(feed), feed.intervalMs));
  }
}
