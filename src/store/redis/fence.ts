/**
 * The rollback fence: what this store has seen of each channel, so that a Redis that shows less (a
 * failover to a replica that was behind) is caught instead of handing out the same offsets again with
 * other data. The check and the rotation themselves run inside the scripts (`fence` in `scripts.ts`),
 * atomically with the operation; this file keeps the memory they are given and reports rotations.
 * @packageDocumentation
 */
import type { StoreRollback } from '../types.js';

/** The highest committed offset seen of one channel, in one epoch (moved forward in place). */
export interface FencePosition {
  readonly epoch: string;
  seen: number;
}

/**
 * Per channel, the highest committed offset seen in the current epoch: from this store's appends,
 * reads and heads, and from the fan-out's messages. Bounded: past `capacity` channels the one seen
 * least recently is forgotten (`onEvict` says so), so a hostile set of channel names cannot grow it
 * without bound; a forgotten channel is only unfenced until this store sees it again.
 */
export class RollbackFence {
  /** Insertion order is recency: a channel seen is moved to the end. */
  readonly #seen = new Map<string, FencePosition>();
  readonly #capacity: number;
  readonly #onEvict: (channel: string) => void;
  readonly #listeners = new Set<(rollback: StoreRollback) => void>();
  #rollbacks = 0;
  #evicted = 0;

  /**
   * @param capacity - most channels remembered
   * @param onEvict - told each channel forgotten to stay within `capacity`
   */
  constructor(capacity: number, onEvict: (channel: string) => void) {
    this.#capacity = capacity;
    this.#onEvict = onEvict;
  }

  /** The script arguments for `channel`: its epoch and highest seen offset, or `['', '0']` when unknown. */
  args(channel: string): [string, string] {
    const known = this.#seen.get(channel);
    return known === undefined ? ['', '0'] : [known.epoch, String(known.seen)];
  }

  /** What is known of `channel`, if anything. */
  get(channel: string): FencePosition | undefined {
    return this.#seen.get(channel);
  }

  /**
   * Record that `channel` was seen committed up to `offset` in `epoch`. Another epoch replaces the
   * record (the channel's epoch changed: its data was lost or the fence rotated it); a lower offset in
   * the same epoch is not recorded (the scripts decide whether it is a rollback, atomically).
   */
  observe(channel: string, epoch: string, offset: number): void {
    const known = this.#seen.get(channel);
    if (known !== undefined) {
      // Moved to the end (most recent); the same epoch's record is moved forward in place: this runs
      // for every message the fan-out delivers, so no object per message.
      this.#seen.delete(channel);
      if (known.epoch === epoch) {
        if (offset > known.seen) known.seen = offset;
        this.#seen.set(channel, known);
        return;
      }
    }
    this.#seen.set(channel, { epoch, seen: offset });
    if (this.#seen.size > this.#capacity) {
      const oldest = this.#seen.keys().next().value as string;
      this.#seen.delete(oldest);
      this.#evicted++;
      this.#onEvict(oldest);
    }
  }

  /**
   * A script rotated `channel`'s epoch because it found `found` entries where this store had seen
   * `seen` committed (see `fence` in `scripts.ts`): remember the new epoch and tell the listeners.
   */
  rotated(channel: string, oldEpoch: string, found: number, newEpoch: string): void {
    const seen = this.#seen.get(channel)?.seen ?? found;
    this.#seen.delete(channel);
    this.#seen.set(channel, { epoch: newEpoch, seen: 0 });
    this.#rollbacks++;
    const rollback: StoreRollback = { channel, epoch: oldEpoch, seen, found, newEpoch };
    for (const listener of [...this.#listeners]) {
      try {
        listener({ ...rollback });
      } catch {
        // A listener's failure must not undo the rotation's report to the others.
      }
    }
  }

  /** Be told of each rotation. Returns the unsubscribe function. */
  onRollback(listener: (rollback: StoreRollback) => void): () => void {
    const entry = (rollback: StoreRollback): void => listener(rollback);
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  /** Counts: rotations made by this store, channels forgotten to stay within the bound, channels remembered. */
  stats(): { rollbacks: number; evicted: number; channels: number } {
    return { rollbacks: this.#rollbacks, evicted: this.#evicted, channels: this.#seen.size };
  }
}
