/**
 * One connection's subscription to one channel, and the hub that fans channel messages out to them.
 *
 * Replay and live delivery are one mechanism: a subscription knows the last offset it sent; a live
 * message that is exactly the next one goes out at once; anything else (a gap, a replay request, a
 * message arriving while a read is in progress) makes it read the store from its last offset until
 * it has caught up. So messages reach the client in offset order, without gaps or repeats, whatever
 * order publishes complete in.
 * @packageDocumentation
 */
import type { Position, ServerFrame } from '../protocol/index.js';
import type { Store, StoredMessage } from '../store/types.js';

/** How many messages one store read returns during catch-up. */
const READ_BATCH = 500;

/** The `ev` frame of a stored message. */
function eventFrame(m: StoredMessage): ServerFrame {
  return { t: 'ev', ch: m.channel, epoch: m.epoch, off: m.offset, data: m.data };
}

/** What a subscription needs from its connection. */
export interface SubscriptionSink {
  /** Send one frame to the client. */
  send(frame: ServerFrame): void;
  /** Send a frame already encoded as JSON text (an `ev` shared by every subscriber of a channel). */
  sendText(text: string): void;
  /** Whether the connection can still take frames. */
  readonly open: boolean;
  /** Report a store failure during catch-up (the subscription retries on its own). */
  storeFailed(channel: string, error: unknown): void;
  /** Count messages sent from history (replay or catch-up) rather than live. */
  replayed(count: number): void;
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
  ) {}

  /** The position of the last message sent to the client. */
  get position(): Position {
    return { epoch: this.epoch, offset: this.lastSent };
  }

  /**
   * Start: send `subscribed`, then replay after `from` (when given and still in history), then go live.
   * Resolves with whether the replay was complete (`recovered`).
   */
  async start(from: Position | undefined): Promise<boolean> {
    const head = await this.store.head(this.channel);
    this.epoch = head.epoch;
    let recovered = true;
    if (from === undefined) {
      this.lastSent = head.offset;
    } else if (from.epoch !== head.epoch || from.offset > head.offset) {
      // Another epoch's offsets mean nothing here: start live, and say so.
      this.lastSent = head.offset;
      recovered = false;
    } else {
      this.lastSent = from.offset;
    }
    const startOffset = this.lastSent;
    this.catchingUp = true;
    let first: { complete: boolean; more: boolean };
    try {
      first = await this.readBatch();
    } catch (error) {
      this.catchingUp = false;
      throw error;
    }
    if (!first.complete) recovered = false;
    this.sink.send({ t: 'subscribed', ch: this.channel, epoch: this.epoch, offset: startOffset, recovered });
    this.flushPending();
    this.catchingUp = false;
    if (first.more || this.again) void this.catchUp();
    return recovered;
  }

  private pending: StoredMessage[] = [];

  private async readBatch(): Promise<{ complete: boolean; more: boolean }> {
    this.again = false;
    const result = await this.store.read(this.channel, { epoch: this.epoch, offset: this.lastSent }, READ_BATCH);
    for (const m of result.messages) this.pending.push(m);
    if (result.messages.length > 0) this.sink.replayed(result.messages.length);
    return { complete: result.complete, more: result.more };
  }

  private flushPending(): void {
    for (const m of this.pending) this.emit(m);
    this.pending = [];
  }

  /** @param text - the `ev` frame of `m` already encoded, when the caller has it */
  private emit(m: StoredMessage, text?: string): void {
    if (this.closed || m.epoch !== this.epoch || m.offset <= this.lastSent) return;
    this.lastSent = m.offset;
    if (text !== undefined) this.sink.sendText(text);
    else this.sink.send(eventFrame(m));
  }

  /** A message was appended to the channel (by this process or, through fan-out, another). */
  /** @param text - the message's `ev` frame, encoded once for all subscribers (see {@link ChannelHub.deliver}) */
  offer(message: StoredMessage, text?: string): void {
    if (this.closed || !this.sink.open) return;
    if (this.catchingUp) {
      this.again = true;
      return;
    }
    if (message.epoch !== this.epoch || message.offset <= this.lastSent) return;
    if (message.offset === this.lastSent + 1) {
      this.emit(message, text);
      return;
    }
    void this.catchUp();
  }

  /** Read from the store until nothing is missing. */
  async catchUp(): Promise<void> {
    if (this.catchingUp || this.closed) return;
    this.catchingUp = true;
    try {
      let more = true;
      while (!this.closed && this.sink.open && (more || this.again)) {
        ({ more } = await this.readBatch());
        this.flushPending();
      }
    } catch (error) {
      this.pending = [];
      this.sink.storeFailed(this.channel, error);
      // The store is down: try again shortly; nothing is skipped because lastSent did not move.
      this.retryTimer = setTimeout(() => void this.catchUp(), 1000);
      this.retryTimer.unref();
    } finally {
      this.catchingUp = false;
    }
  }

  /** Stop delivering. */
  close(): void {
    this.closed = true;
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

  /** Every channel with subscriptions, and how many (read-only, for operator views). */
  *counts(): IterableIterator<[string, number]> {
    for (const [channel, set] of this.byChannel) yield [channel, set.size];
  }
}
