/**
 * Resend timing after the server could not store a message (`error` `UNAVAILABLE`): the store is
 * down, not the message, so the message stays pending and goes again after a backoff.
 *
 * The whole outbox is held, not just the message that failed: per-message timers would let later
 * messages overtake earlier ones once the store is back, and the server would store them out of order.
 * When the hold ends, everything still unanswered is resent in id order.
 * @packageDocumentation
 */
import { backoffCeiling, draw } from './backoff.js';
import type { BackoffOptions, RandomSource } from './backoff.js';
import type { Clock } from './environment.js';
import { Timer } from './timer.js';

/**
 * The wait before the `retry`-th resend (1 for the first), in milliseconds: between half and all of
 * `min(capMs, baseMs * factor ** (retry - 1))`. Half fixed, half random: spread out, yet never an
 * immediate resend into a store that just failed.
 * @internal
 */
export function resendDelay(retry: number, backoff: BackoffOptions, random: RandomSource): number {
  const ceiling = backoffCeiling(retry, backoff);
  return ceiling / 2 + draw(random) * (ceiling / 2);
}

/**
 * The outbox's hold. {@link ResendHold.fail} on `UNAVAILABLE` starts it (once: failures during a hold
 * do not extend it); `onRelease` is called when it runs out. Any acknowledgement resets the backoff.
 * @internal
 */
export class ResendHold {
  readonly #backoff: BackoffOptions;
  readonly #random: RandomSource;
  readonly #onRelease: () => void;
  readonly #timer: Timer;
  /** `UNAVAILABLE` holds since the last acknowledgement: the backoff's attempt number. */
  #retries = 0;

  /** @param onRelease - the hold ran out: resend everything unanswered, in order */
  constructor(clock: Clock, backoff: BackoffOptions, random: RandomSource, onRelease: () => void) {
    this.#backoff = backoff;
    this.#random = random;
    this.#onRelease = onRelease;
    this.#timer = new Timer(clock);
  }

  /** Whether the outbox is held (nothing is sent until the hold runs out or is released). */
  get held(): boolean {
    return this.#timer.armed;
  }

  /** The server could not store a message: hold the outbox, unless it is held already. */
  fail(): void {
    if (this.held) return;
    this.#retries += 1;
    this.#timer.start(resendDelay(this.#retries, this.#backoff, this.#random), this.#onRelease);
  }

  /** The server acknowledged a message: the store works again, so the next hold starts from the base delay. */
  succeeded(): void {
    this.#retries = 0;
  }

  /** End the hold now, without `onRelease` (a new connection resends everything anyway; or the session closed). */
  release(): void {
    this.#timer.cancel();
  }
}
