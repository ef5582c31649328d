/**
 * Closes by code over the last minutes: a model fed with successive snapshots (the closes are the
 * differences between one snapshot's `closesByCode` and the previous one of the same process) and an
 * inline SVG stacked bar chart of it.
 * @packageDocumentation
 */
import { explainCode, type Lang } from '../../codes/index.js';
import type { StatsSnapshot } from '../snapshot.js';
import { h, s } from './dom.js';

/** Closes seen in one snapshot interval. */
interface CloseDelta {
  readonly at: number;
  readonly code: number;
  readonly count: number;
}

/** One bar. */
export interface Bucket {
  /** Start, ms since the epoch (server clock). */
  readonly start: number;
  /** Closes by code in this bar. */
  readonly counts: ReadonlyMap<number, number>;
  readonly total: number;
}

/** The chart's window and bar width, ms. */
export interface HistoryOptions {
  readonly windowMs: number;
  readonly bucketMs: number;
}

/** Closes by code over a sliding window, from snapshots of one or more server processes. */
export class ClosesHistory {
  readonly windowMs: number;
  readonly bucketMs: number;
  readonly #previous = new Map<string, { startedAt: number; closes: Readonly<Record<string, number>> }>();
  #deltas: CloseDelta[] = [];

  constructor(options: HistoryOptions = { windowMs: 5 * 60_000, bucketMs: 10_000 }) {
    this.windowMs = options.windowMs;
    this.bucketMs = options.bucketMs;
  }

  /**
   * Take a snapshot. The first one of a process (or of a restarted process: a new `startedAt`) is only
   * a baseline: its counts cover the process's whole life, not the last interval.
   */
  add(snapshot: StatsSnapshot): void {
    const previous = this.#previous.get(snapshot.source);
    this.#previous.set(snapshot.source, { startedAt: snapshot.startedAt, closes: snapshot.stats.closesByCode });
    if (!previous || previous.startedAt !== snapshot.startedAt) return;
    for (const [key, value] of Object.entries(snapshot.stats.closesByCode)) {
      const count = value - (previous.closes[key] ?? 0);
      if (count > 0) this.#deltas.push({ at: snapshot.at, code: Number(key), count });
    }
    const horizon = snapshot.at - 2 * this.windowMs;
    if (this.#deltas.length > 0 && this.#deltas[0]!.at < horizon) this.#deltas = this.#deltas.filter((d) => d.at >= horizon);
  }

  /** The bars of the window ending at `now` (server clock), oldest first. */
  buckets(now: number): Bucket[] {
    const count = Math.ceil(this.windowMs / this.bucketMs);
    const lastStart = Math.floor(now / this.bucketMs) * this.bucketMs;
    const first = lastStart - (count - 1) * this.bucketMs;
    const maps = Array.from({ length: count }, () => new Map<number, number>());
    for (const d of this.#deltas) {
      const i = Math.floor((d.at - first) / this.bucketMs);
      if (i < 0 || i >= count) continue;
      const m = maps[i]!;
      m.set(d.code, (m.get(d.code) ?? 0) + d.count);
    }
    return maps.map((counts, i) => ({ start: first + i * this.bucketMs, counts, total: [...counts.values()].reduce((a, b) => a + b, 0) }));
  }
}

const COLORS: Readonly<Record<number, string>> = {
  1000: '#64748b',
  1001: '#0d9488',
  1002: '#9333ea',
  1003: '#c026d3',
  1005: '#94a3b8',
  1006: '#ea580c',
  1007: '#db2777',
  1008: '#ca8a04',
  1009: '#65a30d',
  1010: '#7c2d12',
  1011: '#dc2626',
  1012: '#2563eb',
  1013: '#7c3aed',
  1014: '#0891b2',
  1015: '#475569',
};
const PALETTE = ['#0f766e', '#b45309', '#be185d', '#4d7c0f', '#1d4ed8', '#6d28d9', '#a16207', '#15803d'];

/** The colour a code is drawn in (fixed for the registered codes). */
export function codeColor(code: number): string {
  return COLORS[code] ?? PALETTE[code % PALETTE.length]!;
}

function niceMax(value: number): number {
  if (value <= 4) return 4;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= value) return step * magnitude;
  return 10 * magnitude;
}

function codeName(code: number, lang: Lang): string {
  try {
    return explainCode(code, lang).name;
  } catch {
    return '';
  }
}

/** Draw the chart into `container` (replacing what was there). */
export function renderChart(container: Element, buckets: readonly Bucket[], lang: Lang, words: { readonly empty: string; readonly now: string }): void {
  const emptyText = words.empty;
  const width = 720;
  const height = 220;
  const left = 40;
  const right = 8;
  const top = 10;
  const bottom = 26;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const max = niceMax(Math.max(0, ...buckets.map((b) => b.total)));
  const barW = plotW / Math.max(1, buckets.length);
  const y = (v: number): number => top + plotH - (v / max) * plotH;
  const codes = [...new Set(buckets.flatMap((b) => [...b.counts.keys()]))].sort((a, b) => a - b);

  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': codes.length === 0 ? emptyText : codes.join(', '), class: 'chart', 'data-codes': codes.join(' ') });
  for (const v of [0, max / 2, max]) {
    svg.append(
      s('line', { x1: left, x2: width - right, y1: y(v), y2: y(v), class: 'grid' }),
      s('text', { x: left - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'axis' }, Number.isInteger(v) ? v : v.toFixed(1)),
    );
  }
  const minutes = Math.round((buckets.length * (buckets[1] ? buckets[1].start - buckets[0]!.start : 10_000)) / 60_000);
  for (let m = 0; m <= minutes; m++) {
    const x = left + plotW - (m / Math.max(1, minutes)) * plotW;
    svg.append(s('text', { x, y: height - 8, 'text-anchor': m === 0 ? 'end' : m === minutes ? 'start' : 'middle', class: 'axis' }, m === 0 ? words.now : `-${m}m`));
  }
  buckets.forEach((bucket, i) => {
    let base = 0;
    for (const code of codes) {
      const n = bucket.counts.get(code) ?? 0;
      if (n === 0) continue;
      const y0 = y(base);
      const y1 = y(base + n);
      base += n;
      svg.append(
        s(
          'rect',
          { x: left + i * barW + 1, y: y1, width: Math.max(1, barW - 2), height: Math.max(1, y0 - y1), fill: codeColor(code), 'data-code': code, 'data-count': n, class: 'bar' },
          s('title', undefined, `${code} ${codeName(code, lang)}: ${n}`),
        ),
      );
    }
  });
  if (codes.length === 0) svg.append(s('text', { x: left + plotW / 2, y: top + plotH / 2, 'text-anchor': 'middle', class: 'empty' }, emptyText));

  const legend = h(
    'ul',
    { class: 'legend' },
    ...codes.map((code) => h('li', { 'data-code': code }, h('span', { class: `swatch c${code}` }), `${code} ${codeName(code, lang)}`)),
  );
  // The swatch colours are set through the CSSOM (allowed by the page's CSP, unlike inline style attributes).
  legend.querySelectorAll<HTMLElement>('.swatch').forEach((el, i) => {
    el.style.background = codeColor(codes[i]!);
  });
  container.replaceChildren(svg, legend);
}
