/**
 * Time, as the server core reads it and waits on it. Injected, so the rules that are about time (the
 * drain's pacing, grace and deadline; the heartbeat; the hello deadline) can be driven by a manual clock
 * in a unit test that runs in milliseconds, and read from `Date.now` and Node's timers in production.
 * @packageDocumentation
 */

/** A source of time and one-shot timers. */
export interface Clock {
  /** Current time in milliseconds since the epoch. */
  now(): number;
  /** Run `callback` once after `ms` milliseconds; returns a handle for {@link Clock.clearTimeout}. */
  setTimeout(callback: () => void, ms: number): unknown;
  /** Cancel a timer that has not fired yet (a handle that already fired is ignored). */
  clearTimeout(handle: unknown): void;
}

/** `Date.now` and Node's (or the platform's) timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as Parameters<typeof clearTimeout>[0]),
};

/**
 * Let a timer run without keeping the process alive: watchdogs (heartbeats, the hello deadline) must not
 * hold an otherwise finished process open. A handle without `unref` (a manual clock's) is left as it is.
 * @returns the handle
 */
export function inBackground<T>(handle: T): T {
  (handle as { unref?: () => void } | null | undefined)?.unref?.();
  return handle;
}

/** Resolves after `ms` on `clock`. */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}

/**
 * Wait for `work`, but no longer than `ms`: resolves `true` when it settled in time, `false` at the
 * deadline. The timer is cancelled once the work is done, so nothing lingers (a rejection counts as done).
 */
export function within(clock: Clock, work: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = clock.setTimeout(() => resolve(false), ms);
    const done = (): void => {
      clock.clearTimeout(timer);
      resolve(true);
    };
    work.then(done, done);
  });
}
