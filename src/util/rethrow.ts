/**
 * Rethrow on a microtask: the platform reports the error (an uncaught exception in Node, the console in
 * a browser) but it cannot unwind the caller. For bugs in user code (a throwing listener, a throwing
 * option) that must be neither swallowed nor allowed to break the state machine that called it.
 * @packageDocumentation
 */

/** Throw `error` from a fresh microtask. */
export function rethrowAsync(error: unknown): void {
  queueMicrotask(() => {
    throw error;
  });
}
