/**
 * The one hand-driven clock of the test kit, for every rule about time, on both sides of the wire: the
 * server core's (the drain, the heartbeat, deadlines) and the client's (reconnect waits, dead-link checks,
 * pings, resend holds, credential refresh). Nothing runs until the test moves time, so no test waits on
 * the wall clock.
 *
 * - `advance(ms)` (async) fires the timers that fall due, in order of time then of creation, and lets the
 *   promise chains each one starts settle before the next fires: for the server core, whose rules await.
 * - `tick(ms)` (sync) fires them the same way without waiting for promises: for the client, whose timers
 *   are synchronous, so a test can assert right after the call.
 * - `jump(ms)` moves time without firing anything, as a throttled background tab does: due timers fire
 *   late, on the next advance or tick.
 */
import type { Clock as ClientClock } from '../../src/client/index.js';
import type { Clock as ServerClock } from '../../src/server/core/clock.js';

interface Timer {
  readonly at: number;
  readonly seq: number;
  readonly callback: () => void;
}

/** Let every promise chain that can move without a timer or I/O move. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A clock (the server's and the client's interface alike) whose time moves only when the test says so. */
export class ManualClock implements ServerClock, ClientClock {
  #now: number;
  #seq = 0;
  readonly #timers = new Map<number, Timer>();

  /** @param start - the time at start, in milliseconds */
  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, ms: number): number {
    const id = ++this.#seq;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), seq: id, callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** Timers waiting to fire. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Move time forward by `ms`, firing what falls due and letting each firing's promises settle. */
  async advance(ms: number): Promise<void> {
    const until = this.#now + ms;
    await settle();
    while (this.#fireNext(until)) await settle();
    this.#now = Math.max(this.#now, until);
    await settle();
  }

  /** Move time forward by `ms`, firing what falls due, synchronously. */
  tick(ms: number): void {
    const until = this.#now + ms;
    while (this.#fireNext(until)) {
      // every due timer, in order
    }
    this.#now = Math.max(this.#now, until);
  }

  /** Move time forward without firing anything: due timers fire late, on the next advance or tick. */
  jump(ms: number): void {
    this.#now += ms;
  }

  /** Fire the earliest timer due by `until`; false when there is none. */
  #fireNext(until: number): boolean {
    let next: Timer | undefined;
    for (const timer of this.#timers.values()) {
      if (timer.at > until) continue;
      if (!next || timer.at < next.at || (timer.at === next.at && timer.seq < next.seq)) next = timer;
    }
    if (!next) return false;
    this.#timers.delete(next.seq);
    this.#now = Math.max(this.#now, next.at);
    next.callback();
    return true;
  }
}
