/**
 * A hand-driven clock for the client's timing rules (reconnect waits, dead-link checks, pings, resend
 * holds, credential refresh): nothing runs until the test moves time, so no test waits on the wall clock.
 * Synchronous, because the client's timers are: `advance` returns once every due timer has run, and
 * `jump` moves time without running any, as a throttled background tab does.
 */
import type { Clock } from '../../src/client/index.js';

/** A hand-driven clock: `advance` runs due timers in order; `jump` moves time without running any (a throttled tab). */
export class SyncClock implements Clock {
  private time = 0;
  private seq = 0;
  private tasks: { at: number; id: number; callback: () => void }[] = [];

  now(): number {
    return this.time;
  }
  setTimeout(callback: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.tasks.push({ at: this.time + Math.max(0, ms), id, callback });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.tasks = this.tasks.filter((t) => t.id !== handle);
  }
  /** Move time forward by `ms`, running every timer that falls due, in order. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const due = this.tasks.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.tasks = this.tasks.filter((t) => t !== due);
      this.time = Math.max(this.time, due.at);
      due.callback();
    }
    this.time = end;
  }
  /** Move time forward without running timers: they fire late, on the next advance. */
  jump(ms: number): void {
    this.time += ms;
  }
  get pending(): number {
    return this.tasks.length;
  }
}
