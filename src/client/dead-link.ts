/**
 * Dead-link detection: a link that has carried nothing for `deadLinkMs` is treated as dead, because a
 * half-open TCP connection (a laptop that slept, a NAT that forgot the flow) never reports a close.
 *
 * Never counts ticks: each check compares `now()` with the last traffic, and checks are at most
 * `deadLinkMs / 2` apart, so a timer that a throttled background tab fires late still sees the true
 * silence, and a check run early (the page became visible, the network came back) sees it too.
 * @packageDocumentation
 */
import type { Clock } from './environment.js';
import { Timer } from './timer.js';

/**
 * Watches one open connection's silence. {@link DeadLinkWatch.start} on open, {@link DeadLinkWatch.heard}
 * on every message, {@link DeadLinkWatch.stop} when the connection ends; `onDead` is called at most once
 * per start, with how long the link had been silent.
 * @internal
 */
export class DeadLinkWatch {
  readonly #clock: Clock;
  readonly #deadLinkMs: number;
  readonly #onDead: (silentMs: number) => void;
  readonly #timer: Timer;
  #active = false;
  #lastTrafficAt = 0;

  /**
   * @param deadLinkMs - silence, in milliseconds, after which the link is dead; 0 turns detection off
   * @param onDead - told when the link is declared dead (the watch has stopped by then)
   */
  constructor(clock: Clock, deadLinkMs: number, onDead: (silentMs: number) => void) {
    this.#clock = clock;
    this.#deadLinkMs = deadLinkMs;
    this.#onDead = onDead;
    this.#timer = new Timer(clock);
  }

  /** A connection opened: count silence from now. */
  start(): void {
    this.#active = true;
    this.#lastTrafficAt = this.#clock.now();
    this.#arm();
  }

  /** Something arrived: the link is alive. */
  heard(): void {
    this.#lastTrafficAt = this.#clock.now();
  }

  /** The connection ended: no more checks. */
  stop(): void {
    this.#active = false;
    this.#timer.cancel();
  }

  /** Check now (not waiting for the next scheduled check); returns whether the link was declared dead. */
  check(): boolean {
    if (!this.#active || this.#deadLinkMs <= 0) return false;
    const silent = this.#clock.now() - this.#lastTrafficAt;
    if (silent < this.#deadLinkMs) return false;
    this.stop();
    this.#onDead(silent);
    return true;
  }

  #arm(): void {
    this.#timer.cancel();
    if (!this.#active || this.#deadLinkMs <= 0) return;
    const silent = this.#clock.now() - this.#lastTrafficAt;
    const wait = Math.max(1, Math.min(this.#deadLinkMs / 2, this.#deadLinkMs - silent));
    this.#timer.start(wait, () => {
      if (!this.check()) this.#arm();
    });
  }
}
