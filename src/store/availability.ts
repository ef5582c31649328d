/**
 * Whether an engine can serve right now, and who wants to hear when that changes (`Store.available`,
 * `Store.onAvailability`): the part of availability every networked or disk-bound engine shares.
 * Internal: not re-exported from `store/index.ts`.
 * @packageDocumentation
 */

/** A listener of availability changes, with a reason for people. */
export type AvailabilityListener = (available: boolean, reason?: string) => void;

/** An engine's availability flag and its listeners. */
export class Availability {
  readonly #listeners = new Set<AvailabilityListener>();
  #up: boolean;

  /** @param up - whether the engine can serve from the start (a networked one: not before it connected) */
  constructor(up: boolean) {
    this.#up = up;
  }

  /** Whether the engine can serve now. */
  get up(): boolean {
    return this.#up;
  }

  /** Record a change and tell every listener; nothing happens when the flag is already `up`. */
  set(up: boolean, reason: string): void {
    if (this.#up === up) return;
    this.#up = up;
    for (const listener of [...this.#listeners]) {
      try {
        listener(up, reason);
      } catch {
        // One listener's failure must not keep the others from hearing about it.
      }
    }
  }

  /** Add a listener; returns the function that removes it. */
  subscribe(listener: AvailabilityListener): () => void {
    // A wrapper per call, so the same function added twice is two subscriptions.
    const entry: AvailabilityListener = (up, reason) => listener(up, reason);
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }
}
