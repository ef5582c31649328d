/**
 * Latency histograms (log buckets, about 1% resolution, mergeable across processes) and the small
 * statistics the report needs.
 */

/** Buckets per natural-log unit: 100 gives ~1% relative resolution. */
const SCALE = 100;
/** Values are recorded in microseconds; 2200 buckets cover up to e^22 us (~1000 s). */
const BUCKETS = 2200;

export class Histogram {
  constructor() {
    this.counts = new Uint32Array(BUCKETS);
    this.count = 0;
    this.sum = 0;
    this.min = Infinity;
    this.max = 0;
  }

  /** Record one value in milliseconds. */
  record(ms) {
    if (!(ms >= 0)) ms = 0;
    const us = ms * 1000;
    const index = us <= 1 ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(us) * SCALE));
    this.counts[index] += 1;
    this.count += 1;
    this.sum += ms;
    if (ms < this.min) this.min = ms;
    if (ms > this.max) this.max = ms;
  }

  /** Value (ms) at quantile q in [0, 1]: the upper edge of the bucket holding it, capped at the max seen. */
  quantile(q) {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.min(this.max, Math.max(this.min, i === 0 ? 0.001 : Math.exp(i / SCALE) / 1000));
    }
    return this.max;
  }

  /** A plain object that survives IPC; see {@link Histogram.from}. */
  toJSON() {
    const sparse = [];
    for (let i = 0; i < BUCKETS; i++) if (this.counts[i] !== 0) sparse.push([i, this.counts[i]]);
    return { sparse, count: this.count, sum: this.sum, min: this.min, max: this.max };
  }

  static from(json) {
    const h = new Histogram();
    for (const [i, c] of json.sparse) h.counts[i] = c;
    h.count = json.count;
    h.sum = json.sum;
    h.min = json.min;
    h.max = json.max;
    return h;
  }

  /** Add another histogram's counts to this one. */
  merge(other) {
    for (let i = 0; i < BUCKETS; i++) this.counts[i] += other.counts[i];
    this.count += other.count;
    this.sum += other.sum;
    this.min = Math.min(this.min, other.min);
    this.max = Math.max(this.max, other.max);
    return this;
  }

  /** p50, p99, p99.9, mean and max in ms, rounded to microseconds. */
  summary() {
    const r = (v) => (Number.isFinite(v) ? Math.round(v * 1000) / 1000 : null);
    return {
      count: this.count,
      p50: r(this.quantile(0.5)),
      p90: r(this.quantile(0.9)),
      p99: r(this.quantile(0.99)),
      p999: r(this.quantile(0.999)),
      mean: r(this.count ? this.sum / this.count : NaN),
      max: r(this.count ? this.max : NaN),
    };
  }
}

/** Value at quantile q of a list of numbers (nearest rank), NaN for an empty list. */
export function quantileOf(values, q) {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** Monotonic milliseconds shared by every process on the machine (CLOCK_MONOTONIC), for cross-process latency. */
export function monoMs() {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Round to `digits` decimals. */
export function round(value, digits = 2) {
  if (!Number.isFinite(value)) return value;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
