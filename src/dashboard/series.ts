/**
 * Time series of connections, messages in/out and closes by code, over a window cut into bars, built
 * from stats snapshots of one or more processes. Pure data; the server builds one from the stored
 * `$lifeline.stats` history, the page continues it with the live snapshots.
 *
 * Snapshots carry counters since their process started, so what happened in a bar is the difference
 * between a process's snapshot and its previous one (any earlier one: the differences add up, so a
 * sparse sample of the history gives exact totals, only coarser in time). The first snapshot of a
 * process, or of a restarted process (a new `startedAt`), is a baseline and adds nothing.
 * @packageDocumentation
 */
import type { StatsSnapshot } from './snapshot.js';

/** The part of a snapshot the series needs. */
export interface Sample {
  readonly source: string;
  readonly startedAt: number;
  /** ms since the epoch, the publishing process's clock. */
  readonly at: number;
  readonly open: number;
  readonly messagesIn: number;
  readonly messagesOut: number;
  readonly closes: Readonly<Record<string, number>>;
}

/** One bar. */
export interface SeriesBar {
  /** Start, ms since the epoch (server clock). */
  readonly start: number;
  /** Open connections at the end of the bar, summed over processes; null when no process reported in it. */
  readonly connections: number | null;
  readonly messagesIn: number;
  readonly messagesOut: number;
  /** Closes by code in this bar. */
  readonly closes: ReadonlyMap<number, number>;
  readonly closesTotal: number;
}

interface Aggregate {
  /** Last `open` of each process in the bar. */
  readonly open: Map<string, number>;
  messagesIn: number;
  messagesOut: number;
  readonly closes: Map<number, number>;
}

/** A series as JSON: what `GET /_lifeline/api/series` answers, and what {@link Series.from} reads. */
export interface SeriesState {
  readonly window: string;
  readonly windowMs: number;
  readonly bucketMs: number;
  /** The latest sample of each process, to continue from. */
  readonly tails: readonly Sample[];
  readonly bars: readonly {
    readonly index: number;
    readonly open: Readonly<Record<string, number>>;
    readonly messagesIn: number;
    readonly messagesOut: number;
    readonly closes: Readonly<Record<string, number>>;
  }[];
  /** The oldest sample that went in (ms since the epoch), or null: the history may not cover the whole window. */
  readonly from: number | null;
}

/** The series part of a snapshot. */
export function sampleOf(snapshot: StatsSnapshot): Sample {
  const { source, startedAt, at, stats } = snapshot;
  return { source, startedAt, at, open: stats.open, messagesIn: stats.messagesIn, messagesOut: stats.messagesOut, closes: stats.closesByCode };
}

const grew = (now: number, before: number): number => Math.max(0, now - before);

/** A sliding window of bars fed with samples. */
export class Series {
  readonly window: string;
  readonly windowMs: number;
  readonly bucketMs: number;
  readonly #tails = new Map<string, Sample>();
  readonly #bars = new Map<number, Aggregate>();
  #from: number | null = null;

  constructor(window: { key: string; windowMs: number; bucketMs: number }) {
    this.window = window.key;
    this.windowMs = window.windowMs;
    this.bucketMs = window.bucketMs;
  }

  /** Bars in the window. */
  get count(): number {
    return Math.ceil(this.windowMs / this.bucketMs);
  }

  /** Take a sample. One not newer than the last of its process (a replayed snapshot) is ignored. */
  add(sample: Sample): void {
    const previous = this.#tails.get(sample.source);
    if (previous && previous.startedAt === sample.startedAt && sample.at <= previous.at) return;
    this.#tails.set(sample.source, sample);
    this.#from = this.#from === null ? sample.at : Math.min(this.#from, sample.at);
    const index = Math.floor(sample.at / this.bucketMs);
    let bar = this.#bars.get(index);
    if (!bar) this.#bars.set(index, (bar = { open: new Map(), messagesIn: 0, messagesOut: 0, closes: new Map() }));
    bar.open.set(sample.source, sample.open);
    if (previous && previous.startedAt === sample.startedAt) {
      bar.messagesIn += grew(sample.messagesIn, previous.messagesIn);
      bar.messagesOut += grew(sample.messagesOut, previous.messagesOut);
      for (const [key, value] of Object.entries(sample.closes)) {
        const n = grew(value, previous.closes[key] ?? 0);
        if (n > 0) bar.closes.set(Number(key), (bar.closes.get(Number(key)) ?? 0) + n);
      }
    }
    this.#prune(index);
  }

  /** The bars of the window ending at `now` (server clock), oldest first. */
  bars(now: number): SeriesBar[] {
    const last = Math.floor(now / this.bucketMs);
    return Array.from({ length: this.count }, (_, i) => {
      const index = last - this.count + 1 + i;
      const bar = this.#bars.get(index);
      const closes = bar?.closes ?? new Map<number, number>();
      return {
        start: index * this.bucketMs,
        connections: bar ? [...bar.open.values()].reduce((a, b) => a + b, 0) : null,
        messagesIn: bar?.messagesIn ?? 0,
        messagesOut: bar?.messagesOut ?? 0,
        closes,
        closesTotal: [...closes.values()].reduce((a, b) => a + b, 0),
      };
    });
  }

  /** The oldest sample taken, ms since the epoch (null before any). */
  get from(): number | null {
    return this.#from;
  }

  /** As JSON. */
  toJSON(): SeriesState {
    return {
      window: this.window,
      windowMs: this.windowMs,
      bucketMs: this.bucketMs,
      tails: [...this.#tails.values()],
      bars: [...this.#bars].map(([index, bar]) => ({
        index,
        open: Object.fromEntries(bar.open),
        messagesIn: bar.messagesIn,
        messagesOut: bar.messagesOut,
        closes: Object.fromEntries(bar.closes),
      })),
      from: this.#from,
    };
  }

  /** Continue a series the server built. */
  static from(state: SeriesState): Series {
    const series = new Series({ key: state.window, windowMs: state.windowMs, bucketMs: state.bucketMs });
    for (const tail of state.tails) series.#tails.set(tail.source, tail);
    for (const bar of state.bars) {
      series.#bars.set(bar.index, {
        open: new Map(Object.entries(bar.open)),
        messagesIn: bar.messagesIn,
        messagesOut: bar.messagesOut,
        closes: new Map(Object.entries(bar.closes).map(([code, n]) => [Number(code), n])),
      });
    }
    series.#from = state.from;
    return series;
  }

  /** Keep the window and a margin; drop older bars and processes not heard from since. */
  #prune(newest: number): void {
    const oldest = newest - 2 * this.count;
    for (const index of this.#bars.keys()) if (index < oldest) this.#bars.delete(index);
    const horizon = (oldest + 1) * this.bucketMs;
    for (const [source, tail] of this.#tails) if (tail.at < horizon) this.#tails.delete(source);
  }
}
