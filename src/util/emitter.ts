/**
 * The one typed event emitter, shared by the client, the server and the dashboard. No platform
 * dependencies (the browser client bundles it).
 *
 * Its promises: `on(event, fn)` returns the function that unsubscribes; a listener removed during an
 * emit is not called afterwards (its owner asked not to be called any more), one added during an emit
 * waits for the next; a listener that throws never stops the other listeners or the caller of `emit`:
 * the thrown value goes to the `onListenerError` hook.
 * @packageDocumentation
 */
import { rethrowAsync } from './rethrow.js';

/** A listener for one event's payload. */
export type Listener<T> = (payload: T) => void;

/** Removes the listener it was returned for. Calling it twice is harmless. */
export type Unsubscribe = () => void;

/** Typed emitter; `Events` maps each event name to its payload type. */
export class Emitter<Events extends object> {
  readonly #listeners = new Map<keyof Events, Set<Listener<never>>>();
  readonly #onListenerError: (error: unknown, event: keyof Events) => void;

  /**
   * @param onListenerError - receives whatever a listener throws, with the event name.
   *   @default rethrow on a microtask, so the error is reported by the platform but cannot unwind `emit`.
   */
  constructor(onListenerError: (error: unknown, event: keyof Events) => void = rethrowAsync) {
    this.#onListenerError = onListenerError;
  }

  /** Call `listener` for every `event` until the returned function is called. */
  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): Unsubscribe {
    if (typeof listener !== 'function') throw new TypeError('listener must be a function');
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    // Wrap so that the same function subscribed twice is two subscriptions, each removed by its own unsubscribe.
    const entry: Listener<Events[K]> = (payload) => listener(payload);
    set.add(entry as Listener<never>);
    return () => {
      set.delete(entry as Listener<never>);
    };
  }

  /** Whether anyone listens to `event`. */
  has(event: keyof Events): boolean {
    return (this.#listeners.get(event)?.size ?? 0) > 0;
  }

  /** Deliver `payload` to every listener of `event`, in subscription order. Never throws. */
  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const set = this.#listeners.get(event);
    if (!set || set.size === 0) return;
    // A snapshot, so a listener added during delivery waits for the next emit; one removed
    // during delivery is skipped at once.
    for (const listener of [...set]) {
      if (!set.has(listener)) continue;
      try {
        (listener as Listener<Events[K]>)(payload);
      } catch (error) {
        try {
          this.#onListenerError(error, event);
        } catch (hookError) {
          rethrowAsync(hookError);
        }
      }
    }
  }
}
