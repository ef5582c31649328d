/**
 * One connection's subscription to one channel, and the hub that fans channel messages out to them.
 *
 * Replay and live delivery are one mechanism: a subscription knows the last offset it sent; a live
 * message that is exactly the next one goes out at once; anything else (a gap, a replay request, a
 * message arriving while a read is in progress) makes it read the store from its last offset until
 * it has caught up. So messages reach the client in offset order, without gaps or repeats, whatever
 * order publishes complete in.
 *
 * Replay is bounded: history is read in pages bounded by count and bytes; the next page is read only
 * once the peer has drained the last one (so a client that does not read holds one page, not the
 * history); and every page holds a grant from the server-wide {@link ByteBudget} until it drained.
 * @packageDocumentation
 */
import { continuesFrom, isUnwrittenEpoch, type Position, type ServerFrame } from '../../protocol/index.js';
import type { ChannelFollow, ChannelPosition, Store, StoredMessage } from '../../store/types.js';
import type { ByteBudget, Grant } from './byte-budget.js';

/** Most messages one store read returns during catch-up. */
export const READ_BATCH = 500;

/** The `ev` frame of a stored message. */
function eventFrame(m: StoredMessage): ServerFrame {
  return { t: 'ev', ch: m.channel, epoch: m.epoch, off: m.offset, data: m.data };
}

/** One page of history read, its messages waiting in `pending`. */
interface Page {
  readonly complete: boolean;
  readonly more: boolean;
  readonly head: ChannelPosition;
  readonly grant: Grant | undefined;
}

/** What a subscription needs from its connection. */
export interface SubscriptionSink {
  /** Send one frame to the client; returns its length in characters (0 when it could not go out). */
  send(frame: ServerFrame): number;
  /** Send a frame already encoded as JSON text (an `ev` shared by every subscriber of a channel). */
  sendText(text: string): void;
  /** Whether the connection can still take frames. */
  readonly open: boolean;
  /** Resolves when the connection's output has drained (or it closed): the pace of replay. */
  drained(): Promise<void>;
  /** Report a store failure during catch-up (the subscription retries on its own). */
  storeFailed(channel: string, error: unknown): void;
  /** Count messages sent from history (replay or catch-up) rather than live. */
  replayed(count: number): void;
}

/** How a subscription reads history: the page bounds and the budgets it draws from. */
export interface ReplayLimits {
  /** Most bytes of stored data one page holds (at least one message is always read). */
  readonly pageBytes: number;
  /** The server-wide budget of history bytes in flight. */
  readonly budget: ByteBudget;
  /** This connection's share: one connection cannot hold the whole server-wide budget. */
  readonly connectionBudget: ByteBudget;
}

/** A grant from the connection's budget and one from the server's, held and given back together. */
async function acquireBoth(limits: ReplayLimits, bytes: number): Promise<Grant> {
  // The connection's first, so a connection that already holds its share waits without holding server bytes.
  const own = await limits.connectionBudget.acquire(bytes);
  const shared = await limits.budget.acquire(bytes);
  return {
    get bytes() {
      return shared.bytes;
    },
    resize(n) {
      own.resize(n);
      shared.resize(n);
    },
    release() {
      shared.release();
      own.release();
    },
  };
}

/** A connection's subscription to a channel. */
export class Subscription {
  private epoch = '';
  private lastSent = 0;
  /**
   * Whether `start` has read the head: before, there is no position (offers are covered by `start`).
   * A flag of its own rather than "epoch is ''": a store's epoch is never trusted to say it.
   */
  private begun = false;
  private catchingUp = false;
  private again = false;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(
    /** The channel. */
    readonly channel: string,
    private readonly sink: SubscriptionSink,
    private readonly store: Store,
    private readonly limits: ReplayLimits,
  ) {}

  /** The position of the last message sent to the client. */
  get position(): Position {
    return { epoch: this.epoch, offset: this.lastSent };
  }

  /** Whether the subscription has a position yet (`start` read the channel's head). */
  get started(): boolean {
    return this.begun;
  }

  /**
   * Start: read the first page of what the client missed after `from`, send `subscribed`, the page, and
   * go on reading pages in the background until caught up; then live. `from` undefined: from the head
   * (nothing missed). `lost: true`: the client had a position the server does not know (`subscribed`
   * says `recovered: false`, delivery starts at the head). Resolves with whether replay is complete
   * (`recovered`).
   */
  async start(from: Position | undefined, lost = false): Promise<boolean> {
    const head = await this.store.head(this.channel);
    let recovered = !lost;
    let readFrom: Position = head;
    if (from !== undefined) {
      if (from.epoch === head.epoch && from.offset <= head.offset) readFrom = from;
      // Offset 0 of an unwritten channel's epoch: the store decides whether nothing was missed since.
      else if (isUnwrittenEpoch(from.epoch) && from.offset === 0) readFrom = from;
      else recovered = false; // another epoch's offsets mean nothing here: start at the head, and say so
    }
    this.catchingUp = true;
    let first: Page;
    try {
      first = await this.readPage(readFrom);
      if (readFrom.epoch !== first.head.epoch) {
        if (first.complete) readFrom = { epoch: first.head.epoch, offset: 0 };
        else {
          // Not the same history after all: start at the head, and say so.
          this.pending = [];
          first.grant?.release();
          readFrom = first.head;
          first = { ...first, complete: false, more: false, grant: undefined };
        }
      }
    } catch (error) {
      this.catchingUp = false;
      throw error;
    }
    this.epoch = readFrom.epoch;
    this.lastSent = readFrom.offset;
    this.begun = true;
    if (!first.complete) recovered = false;
    if (this.closed) {
      first.grant?.release();
      this.pending = [];
      this.catchingUp = false;
      return recovered;
    }
    this.sink.send({ t: 'subscribed', ch: this.channel, epoch: readFrom.epoch, offset: readFrom.offset, recovered });
    this.sentPage(first.grant);
    this.catchingUp = false;
    if (first.more || this.again) void this.catchUp(first.grant);
    else first.grant?.release();
    return recovered;
  }

  private pending: StoredMessage[] = [];

  /** Read one page after `from`, holding budget for it; the messages wait in `pending`. */
  private async readPage(from: Position): Promise<Page> {
    this.again = false;
    const grant = await acquireBoth(this.limits, this.limits.pageBytes);
    try {
      const result = await this.store.read(this.channel, from, READ_BATCH, { maxBytes: this.limits.pageBytes });
      for (const m of result.messages) this.pending.push(m);
      if (result.messages.length > 0) this.sink.replayed(result.messages.length);
      return { complete: result.complete, more: result.more, head: result.head, grant };
    } catch (error) {
      grant.release();
      throw error;
    }
  }

  /** Send what the last page read, and hold exactly its size of the budget until the peer drained it. */
  private sentPage(grant: Grant | undefined): void {
    let chars = 0;
    for (const m of this.pending) chars += this.emit(m);
    this.pending = [];
    grant?.resize(Math.max(chars, 1));
  }

  /**
   * Send `m` if it is the next message.
   * @param text - the `ev` frame of `m` already encoded, when the caller has it
   * @returns the characters sent (0 when it was not sent)
   */
  private emit(m: StoredMessage, text?: string): number {
    if (this.closed) return 0;
    if (m.epoch !== this.epoch) {
      if (!continuesFrom(this.position, m.epoch, m.offset)) return 0;
      this.epoch = m.epoch;
    } else if (m.offset <= this.lastSent) return 0;
    this.lastSent = m.offset;
    if (text === undefined) return this.sink.send(eventFrame(m));
    this.sink.sendText(text);
    return text.length;
  }

  /** A message was appended to the channel (by this process or, through fan-out, another). */
  /** @param text - the message's `ev` frame, encoded once for all subscribers (see {@link ChannelHub.deliver}) */
  offer(message: StoredMessage, text?: string): void {
    if (this.closed || !this.sink.open) return;
    if (this.catchingUp) {
      this.again = true;
      return;
    }
    if (continuesFrom(this.position, message.epoch, message.offset)) {
      this.emit(message, text);
      return;
    }
    if (message.epoch === this.epoch && message.offset <= this.lastSent) return;
    // Not started yet (the hub delivers from the follow on, before `start` reads the head): `start`
    // covers this message, and there is no position yet to catch up from.
    if (!this.begun) return;
    // A gap, or a message of another epoch: the store says which (another epoch may mean this one's
    // history is gone, which catchUp tells the client).
    void this.catchUp();
  }

  /**
   * Read from the store until nothing is missing, a page at a time: each page waits for the peer to
   * drain the previous one, and holds its budget grant until then.
   * @param held - the grant of a page already sent, released once the peer drained it
   */
  async catchUp(held?: Grant): Promise<void> {
    if (this.catchingUp || this.closed) {
      held?.release();
      return;
    }
    this.catchingUp = true;
    let grant = held;
    try {
      let more = true;
      while (!this.closed && this.sink.open && (more || this.again)) {
        await this.sink.drained();
        grant?.release();
        grant = undefined;
        if (this.closed || !this.sink.open) break;
        const page = await this.readPage(this.position);
        grant = page.grant;
        more = page.more;
        if (this.begun && page.head.epoch !== this.epoch && !page.complete) {
          // The epoch this subscription was in is gone (the store lost its history: a failover, the
          // store's rollback fence). Continue in the new one from its head, as a `sub` from the old
          // position would, and say so with a `subscribed` (recovered: false): never silently stuck on
          // a dead epoch, never a gap inside one subscription (protocol section 8).
          this.pending = [];
          this.epoch = page.head.epoch;
          this.lastSent = page.head.offset;
          this.sink.send({ t: 'subscribed', ch: this.channel, epoch: page.head.epoch, offset: page.head.offset, recovered: false });
          more = false;
        }
        this.sentPage(grant);
      }
    } catch (error) {
      this.pending = [];
      this.sink.storeFailed(this.channel, error);
      // The store is down: try again shortly; nothing is skipped because lastSent did not move.
      this.retryTimer = setTimeout(() => void this.catchUp(), 1000);
      this.retryTimer.unref();
    } finally {
      this.catchingUp = false;
      if (grant) void this.sink.drained().then(() => grant!.release());
    }
  }

  /** Stop delivering. */
  close(): void {
    this.closed = true;
    this.pending = [];
    if (this.retryTimer) clearTimeout(this.retryTimer);
  }
}

/** What the hub needs to follow channels and read them again after a broken delivery. */
export interface HubStore {
  /** The store (its `follow`, when it has one, and `read`). */
  readonly store: Store;
  /** Most bytes of stored data one catch-up page holds. */
  readonly pageBytes: () => number;
  /** Report a store failure during a catch-up (it is retried). */
  readonly storeFailed: (operation: string, error: unknown) => void;
}

/** Channels read at once when a resubscription reports many. */
const CATCH_UP_CONCURRENCY = 16;
/** Tries of one channel's catch-up read before its subscriptions are left to their own catch-up. */
const CATCH_UP_TRIES = 5;

/**
 * Local fan-out: channel name to the subscriptions on this process. With a store that delivers only the
 * channels a process follows (`Store.follow`), the hub follows a channel from its first subscription to
 * its last; after a broken delivery (`Store.onResubscribe`) it reads each reported channel once, from
 * the oldest position among its subscriptions, and offers what it read to all of them.
 */
export class ChannelHub {
  private readonly byChannel = new Map<string, Set<Subscription>>();
  private readonly follows = new Map<string, { follow: ChannelFollow; ready: Promise<void> }>();
  private readonly catchingUp = new Set<string>();

  /** @param source - the store and how to read it; none: nothing to follow or read (tests of the hub alone) */
  constructor(private readonly source?: HubStore) {}

  /**
   * Register a subscription. Resolves once the store delivers its channel's messages to this process
   * (at once for a store that delivers everything): read the channel's head only after that.
   * @throws what the store's `follow` rejects with (the store cannot confirm delivery)
   */
  add(subscription: Subscription): Promise<void> {
    const channel = subscription.channel;
    let set = this.byChannel.get(channel);
    if (!set) this.byChannel.set(channel, (set = new Set()));
    set.add(subscription);
    const store = this.source?.store;
    if (!store?.follow) return Promise.resolve();
    let held = this.follows.get(channel);
    if (!held) {
      const follow = store.follow(channel);
      held = { follow, ready: follow.ready };
      this.follows.set(channel, held);
      // Once confirmed, later subscribers need not wait. A rejection reaches the subscriptions that
      // waited (they are dropped); the next subscription of the channel follows it afresh.
      const entry = held;
      follow.ready.then(
        () => {
          if (this.follows.get(channel) === entry) entry.ready = Promise.resolve();
        },
        () => {
          if (this.follows.get(channel) !== entry) return;
          this.follows.delete(channel);
          follow.release();
        },
      );
    }
    return held.ready;
  }

  /** Unregister a subscription; the last one of a channel releases the channel. */
  remove(subscription: Subscription): void {
    const set = this.byChannel.get(subscription.channel);
    if (!set || !set.delete(subscription)) return;
    if (set.size > 0) return;
    this.byChannel.delete(subscription.channel);
    const held = this.follows.get(subscription.channel);
    this.follows.delete(subscription.channel);
    held?.follow.release();
  }

  /** Offer a stored message to every local subscriber of its channel; returns whether it had any. */
  deliver(message: StoredMessage): boolean {
    const set = this.byChannel.get(message.channel);
    if (!set) return false;
    // The frame is the same for every subscriber: encode it once, not once per connection.
    const text = JSON.stringify(eventFrame(message));
    for (const s of set) s.offer(message, text);
    return true;
  }

  /**
   * The store's delivery of `channels` broke and was restored: read each one that has local
   * subscribers, once, and offer what it missed to all of them.
   * @returns the number of channels read
   */
  catchUp(channels: readonly string[]): number {
    const due = channels.filter((channel) => this.byChannel.has(channel) && !this.catchingUp.has(channel));
    if (due.length === 0 || !this.source) return 0;
    for (const channel of due) this.catchingUp.add(channel);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < due.length) {
        const channel = due[next++]!;
        try {
          await this.readMissed(channel);
        } finally {
          this.catchingUp.delete(channel);
        }
      }
    };
    for (let i = 0; i < Math.min(CATCH_UP_CONCURRENCY, due.length); i++) void worker();
    return due.length;
  }

  /** One channel's catch-up: pages from the oldest position of its subscriptions, offered to all. */
  private async readMissed(channel: string): Promise<void> {
    const source = this.source!;
    for (let attempt = 1; ; attempt++) {
      const set = this.byChannel.get(channel);
      if (!set) return;
      // The oldest position of the channel's current epoch: every subscription is at or past it.
      let from: Position | undefined;
      for (const s of set) {
        const p = s.position;
        if (!s.started) continue; // still starting: it reads the head after the resubscription
        if (from === undefined || (p.epoch === from.epoch && p.offset < from.offset)) from = p;
      }
      if (from === undefined) return;
      try {
        for (;;) {
          const page = await source.store.read(channel, from, READ_BATCH, { maxBytes: source.pageBytes() });
          for (const m of page.messages) this.deliver(m);
          const last = page.messages.at(-1);
          if (!page.more || last === undefined) return;
          from = { epoch: last.epoch, offset: last.offset };
        }
      } catch (error) {
        source.storeFailed('read', error);
        if (attempt >= CATCH_UP_TRIES) {
          // Each subscription catches up on its own from here (it retries until the store is back).
          for (const s of this.byChannel.get(channel) ?? []) void s.catchUp();
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 1000 * attempt).unref());
      }
    }
  }

  /** Number of subscriptions on a channel. */
  count(channel: string): number {
    return this.byChannel.get(channel)?.size ?? 0;
  }

  /** Number of channels with a local subscriber. */
  get channels(): number {
    return this.byChannel.size;
  }

  /** Every channel with subscriptions, and how many (read-only, for operator views). */
  *counts(): IterableIterator<[string, number]> {
    for (const [channel, set] of this.byChannel) yield [channel, set.size];
  }
}
