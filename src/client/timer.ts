/**
 * One pending callback on the injected {@link Clock}: what every timing rule of the client (reconnect
 * wait, dead-link check, ping, resend hold, credential refresh) schedules through, so none of them
 * touches the platform's timers directly and tests drive them all with a manual clock.
 * @packageDocumentation
 */
import { rethrowAsync } from '../util/rethrow.js';
import type { Clock } from './environment.js';

/**
 * At most one pending callback. Starting it again replaces the pending one; cancelling is harmless
 * when nothing is pending. A callback that throws cannot unwind the platform's timer: the error is
 * rethrown on a microtask.
 * @internal
 */
export class Timer {
  readonly #clock: Clock;
  // The handle is kept with a flag, not tested for truthiness: an injected clock may use 0 as a handle.
  #handle: unknown;
  #armed = false;

  /** @param clock - where time and timers come from */
  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Whether a callback is pending. */
  get armed(): boolean {
    return this.#armed;
  }

  /** Run `callback` once after `ms` milliseconds, replacing whatever was pending. */
  start(ms: number, callback: () => void): void {
    this.cancel();
    this.#armed = true;
    this.#handle = this.#clock.setTimeout(() => {
      this.#armed = false;
      try {
        callback();
      } catch (error) {
        rethrowAsync(error);
      }
    }, ms);
  }

  /** Drop the pending callback, if any. */
  cancel(): void {
    if (!this.#armed) return;
    this.#armed = false;
    this.#clock.clearTimeout(this.#handle);
  }
}
