/**
 * A tiny typed event emitter with no platform dependencies, so client and server share one.
 * `on` returns the unsubscribe function (graphql-ws style). A listener that throws does not
 * stop the others; the error is handed to `onListenerError`.
 * @packageDocumentation
 */

/** Maps event names to their payload types. */
export type EventMap = Record<string, unknown>;

/** A listener for one event. */
export type Listener<T> = (payload: T) => void;

/** Typed emitter; `E` maps event names to payloads. */
export class Emitter<E extends EventMap> {
  private readonly listeners = new Map<keyof E, Set<Listener<never>>>();

  /** @param onListenerError - called when a listener throws; @default rethrow on a microtask */
  constructor(private readonly onListenerError: (error: unknown) => void = (e) => queueMicrotask(() => { throw e; })) {}

  /** Listen to `event`; returns a function that removes the listener. */
  on<K extends keyof E>(event: K, listener: Listener<E[K]>): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as Listener<never>);
    return () => {
      set.delete(listener as Listener<never>);
    };
  }

  /** Listen to the next `event` only. */
  once<K extends keyof E>(event: K, listener: Listener<E[K]>): () => void {
    const off = this.on(event, (payload) => {
      off();
      listener(payload);
    });
    return off;
  }

  /** Deliver `payload` to the listeners of `event`. */
  emit<K extends keyof E>(event: K, payload: E[K]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as Listener<E[K]>)(payload);
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }
}
