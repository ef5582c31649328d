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
import type { ChannelPosition, Store, StoredMessage } from '../../store/types.js';
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
    if (message.epoch !== this.epoch || message.offset <= this.lastSent) return;
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

/** Local fan-out: channel name to the subscriptions on this process. */
export class ChannelHub {
  private readonly byChannel = new Map<string, Set<Subscription>>();

  /** Register a subscription. */
  add(subscription: Subscription): void {
    let set = this.byChannel.get(subscription.channel);
    if (!set) this.byChannel.set(subscription.channel, (set = new Set()));
    set.add(subscription);
  }

  /** Unregister a subscription. */
  remove(subscription: Subscription): void {
    const set = this.byChannel.get(subscription.channel);
    if (!set) return;
    set.delete(subscription);
    if (set.size === 0) this.byChannel.delete(subscription.channel);
  }

  /** Offer a stored message to every local subscriber of its channel. */
  deliver(message: StoredMessage): void {
    const set = this.byChannel.get(message.channel);
    if (!set) return;
    // The frame is the same for every subscriber: encode it once, not once per connection.
    const text = JSON.stringify(eventFrame(message));
    for (const s of set) s.offer(message, text);
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
