/**
 * Exactly-once delivery per channel: a cursor holding the last position delivered to the application
 * and the rules that decide, frame by frame, whether a channel message is delivered, dropped as a
 * repeat, or reveals a gap. Pure: no I/O, no timers; the session acts on the verdicts.
 * @packageDocumentation
 */
import { continuesFrom, isUnwrittenEpoch, type EventFrame, type Position, type SubscribedFrame } from '../protocol/frames.js';

/** What to do with one `ev` frame. @internal */
export type EventVerdict =
  /** The next message: hand it to the application (the cursor has moved to it). */
  | 'deliver'
  /** Already delivered (offset at or below the cursor in the same epoch): drop it. */
  | 'duplicate'
  /** Offsets were skipped, or the epoch changed under a live subscription: do not deliver; re-sync. */
  | 'gap'
  /** No live subscription on this connection (not yet confirmed, or re-syncing): drop it. */
  | 'ignore';

/** What a `subscribed` frame meant for the cursor. @internal */
export interface SubscribedOutcome {
  /** True when messages after the previous position will not all be delivered: tell the application. */
  readonly lost: boolean;
  /** True when the channel's epoch differs from the one the cursor had (its offsets restarted). */
  readonly epochChanged: boolean;
}

/**
 * The application's place in one channel. `position` is the last message delivered (undefined
 * before the first `subscribed`, unless the application supplied one). `live` is true between a
 * `subscribed` on the current connection and the next disconnect or re-sync.
 * @internal
 */
export class ChannelCursor {
  #position: Position | undefined;
  #live = false;
  /** After a `subscribed` that admitted a loss in the same epoch, the next message may skip offsets. */
  #allowJump = false;

  /** @param from - a position to continue from (e.g. persisted by the application), if any */
  constructor(from?: Position) {
    this.#position = from === undefined ? undefined : { epoch: from.epoch, offset: from.offset };
  }

  /** The last position delivered to the application (or adopted from the server), if any. */
  get position(): Position | undefined {
    return this.#position;
  }

  /** Whether the subscription is confirmed on the current connection and messages are accepted. */
  get live(): boolean {
    return this.#live;
  }

  /** The connection ended, or a re-sync started: drop messages until the next `subscribed`. */
  suspend(): void {
    this.#live = false;
  }

  /**
   * Adopt a `subscribed` frame. A new epoch (or no position yet) means the server's position is the
   * only meaningful one. In the same epoch the cursor keeps its own position, so replayed messages
   * already delivered are dropped as repeats; when the server admits it cannot replay everything
   * (`recovered: false`) the next message is allowed to skip ahead.
   */
  subscribed(frame: Pick<SubscribedFrame, 'epoch' | 'offset' | 'recovered'>): SubscribedOutcome {
    this.#live = true;
    this.#allowJump = false;
    const previous = this.#position;
    if (previous === undefined || previous.epoch !== frame.epoch) {
      this.#position = { epoch: frame.epoch, offset: frame.offset };
      // Nothing delivered yet from a channel that was unwritten: its first epoch is no change of history.
      const fromNothing = previous === undefined || (previous.offset === 0 && isUnwrittenEpoch(previous.epoch));
      return { lost: !frame.recovered, epochChanged: !fromNothing };
    }
    if (frame.offset > previous.offset) {
      // Delivery resumes after messages this cursor never saw, whatever `recovered` says: a loss.
      this.#position = { epoch: frame.epoch, offset: frame.offset };
      return { lost: true, epochChanged: false };
    }
    if (!frame.recovered) this.#allowJump = true;
    return { lost: !frame.recovered, epochChanged: false };
  }

  /** Judge one `ev` frame; on `deliver` the cursor has moved to it. */
  event(frame: Pick<EventFrame, 'epoch' | 'off'>): EventVerdict {
    if (!this.#live) return 'ignore';
    const position = this.#position;
    if (position === undefined) {
      this.#position = { epoch: frame.epoch, offset: frame.off };
      return 'deliver';
    }
    if (frame.epoch !== position.epoch) {
      // The first message of a channel that was unwritten when subscribed comes under its own epoch.
      if (!continuesFrom(position, frame.epoch, frame.off)) return 'gap';
      this.#allowJump = false;
      this.#position = { epoch: frame.epoch, offset: frame.off };
      return 'deliver';
    }
    if (frame.off <= position.offset) return 'duplicate';
    if (frame.off !== position.offset + 1 && !this.#allowJump) return 'gap';
    this.#allowJump = false;
    this.#position = { epoch: frame.epoch, offset: frame.off };
    return 'deliver';
  }
}
