/**
 * The outbox of acknowledged messages: every `msg` and `pub` from the moment the application hands it
 * over until the server answers `ack` or `reject`. Bounded, ordered by id, and pure: it knows what is
 * still to be sent on the current connection; the session does the sending, and `resend.ts` decides
 * when the whole outbox waits after the server could not store a message.
 * @packageDocumentation
 */
import type { AckFrame } from '../protocol/frames.js';

/** Which frame an entry is. @internal */
export type OutboxKind = 'msg' | 'pub';

/** One message waiting for its `ack` or `reject`. @internal */
export interface OutboxEntry {
  /** The message id (increasing from 1 per outbox). */
  readonly id: number;
  /** `msg` or `pub`. */
  readonly kind: OutboxKind;
  /** The encoded frame, fixed when the message was accepted so every resend is byte-identical. */
  readonly text: string;
  /** Whether it was sent on the current connection (and so is awaiting an answer there). */
  sent: boolean;
  /** Settle the caller's promise with the server's acknowledgement. */
  readonly resolve: (ack: AckFrame) => void;
  /** Settle the caller's promise with a failure. */
  readonly reject: (error: Error) => void;
}

/** What {@link Outbox.add} needs besides the id it assigns. @internal */
export interface OutboxRequest {
  readonly kind: OutboxKind;
  /** Build the frame text for the assigned id. */
  readonly encode: (id: number) => string;
  readonly resolve: (ack: AckFrame) => void;
  readonly reject: (error: Error) => void;
}

/**
 * Unacknowledged and queued messages, in id order. Holds at most `limit` entries: a full outbox
 * refuses new ones (the caller reports it) rather than dropping old ones, so nothing disappears silently.
 * @internal
 */
export class Outbox {
  readonly #entries = new Map<number, OutboxEntry>();
  readonly #limit: number;
  #lastId = 0;

  /** @param limit - most entries held at once (unacknowledged plus queued): the session's `maxQueue` */
  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`maxQueue must be an integer >= 1, got ${limit}`);
    this.#limit = limit;
  }

  /** Entries held. */
  get size(): number {
    return this.#entries.size;
  }

  /** Most entries held at once. */
  get limit(): number {
    return this.#limit;
  }

  /** The id the next accepted message will get. */
  get nextId(): number {
    return this.#lastId + 1;
  }

  /** Accept a message and assign it the next id; undefined (and no id used) when the outbox is full. */
  add(request: OutboxRequest): OutboxEntry | undefined {
    if (this.#entries.size >= this.#limit) return undefined;
    const id = ++this.#lastId;
    const entry: OutboxEntry = {
      id,
      kind: request.kind,
      text: request.encode(id),
      sent: false,
      resolve: request.resolve,
      reject: request.reject,
    };
    this.#entries.set(id, entry);
    return entry;
  }

  /** The entry with this id, if it is still waiting for an answer. */
  get(id: number): OutboxEntry | undefined {
    return this.#entries.get(id);
  }

  /** Remove and return the entry with this id (it was answered). */
  take(id: number): OutboxEntry | undefined {
    const entry = this.#entries.get(id);
    if (entry) this.#entries.delete(id);
    return entry;
  }

  /**
   * Entries to send now on a ready connection, in id order: everything not already sent on it.
   * Ids only grow and a Map keeps insertion order, so this is id order.
   */
  due(): OutboxEntry[] {
    const out: OutboxEntry[] = [];
    for (const entry of this.#entries.values()) if (!entry.sent) out.push(entry);
    return out;
  }

  /**
   * Nothing is in flight any more, everything is sent again: the connection ended, or the resend hold
   * after an `UNAVAILABLE` ran out (what did get stored is deduplicated by the server).
   */
  disconnected(): void {
    for (const entry of this.#entries.values()) entry.sent = false;
  }

  /** Remove and return every entry, in id order (the outbox is being closed). */
  drain(): OutboxEntry[] {
    const all = [...this.#entries.values()];
    this.#entries.clear();
    return all;
  }
}
