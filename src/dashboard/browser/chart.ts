/**
 * Inline SVG stacked bar charts (the time series: connections, messages in/out, closes by code), drawn
 * without innerHTML or inline style attributes, so the page's CSP holds.
 * @packageDocumentation
 */
import { explainCode, type Lang } from '../../codes/index.js';
import { h, s } from './dom.js';

/** One bar: a value per series key (a close code, `in`/`out`, `open`). */
export interface StackedBar {
  /** Start, ms since the epoch (server clock). */
  readonly start: number;
  readonly values: ReadonlyMap<string, number>;
}

/** How a chart names and colours its keys. */
export interface ChartOptions {
  readonly bucketMs: number;
  readonly colorOf: (key: string) => string;
  readonly labelOf: (key: string) => string;
  /** Shown when every bar is empty. */
  readonly empty: string;
  /** The label of the right edge. */
  readonly now: string;
  /** Attribute each bar and legend entry carries its key in. @default data-key */
  readonly keyAttribute?: string;
  /** Accessible name of the chart. */
  readonly title: string;
  /** Height in the chart's own units (it is 720 wide). @default 180 */
  readonly height?: number;
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

/** `1012 Service Restart` in `lang`; a code outside the registry keeps just its number. */
export function codeTitle(code: number, lang: Lang): string {
  try {
    return `${code} ${explainCode(code, lang).name}`;
  } catch {
    return String(code);
  }
}

function niceMax(value: number): number {
  if (value <= 4) return 4;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= value) return step * magnitude;
  return 10 * magnitude;
}

/** `-30s`, `-5m`, `-2h`: how long before the right edge. */
function ago(ms: number): string {
  if (ms < 60_000) return `-${Math.round(ms / 1000)}s`;
  if (ms < 3_600_000) return `-${Math.round(ms / 60_000)}m`;
  return `-${Math.round(ms / 3_600_000)}h`;
}

function compact(v: number): string {
  if (v >= 1e6) return `${(v / 1e6).toFixed(v >= 1e7 ? 0 : 1)}M`;
  if (v >= 1e4) return `${Math.round(v / 1e3)}k`;
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

/** Draw a stacked bar chart into `container` (replacing what was there). */
export function renderBars(container: Element, bars: readonly StackedBar[], options: ChartOptions): void {
  const keyAttr = options.keyAttribute ?? 'data-key';
  const width = 720;
  const height = options.height ?? 180;
  const left = 44;
  const right = 8;
  const top = 10;
  const bottom = 24;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const totals = bars.map((b) => [...b.values.values()].reduce((a, n) => a + n, 0));
  const max = niceMax(Math.max(0, ...totals));
  const barW = plotW / Math.max(1, bars.length);
  const y = (v: number): number => top + plotH - (v / max) * plotH;
  const keys = [...new Set(bars.flatMap((b) => [...b.values].filter(([, n]) => n > 0).map(([k]) => k)))].sort((a, b) => (Number(a) || 0) - (Number(b) || 0) || (a < b ? -1 : 1));

  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': `${options.title}: ${keys.length === 0 ? options.empty : keys.map(options.labelOf).join(', ')}`, class: 'chart', 'data-keys': keys.join(' ') });
  for (const v of [0, max / 2, max]) {
    svg.append(s('line', { x1: left, x2: width - right, y1: y(v), y2: y(v), class: 'grid' }), s('text', { x: left - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'axis' }, compact(v)));
  }
  const span = bars.length * options.bucketMs;
  for (let i = 0; i <= 4; i++) {
    const x = left + plotW - (i / 4) * plotW;
    svg.append(s('text', { x, y: height - 6, 'text-anchor': i === 0 ? 'end' : i === 4 ? 'start' : 'middle', class: 'axis' }, i === 0 ? options.now : ago((span * i) / 4)));
  }
  bars.forEach((bar, i) => {
    let base = 0;
    for (const key of keys) {
      const n = bar.values.get(key) ?? 0;
      if (n <= 0) continue;
      const y0 = y(base);
      const y1 = y(base + n);
      base += n;
      svg.append(
        s(
          'rect',
          { x: left + i * barW + 1, y: y1, width: Math.max(1, barW - 2), height: Math.max(1, y0 - y1), fill: options.colorOf(key), [keyAttr]: key, 'data-count': n, class: 'bar' },
          s('title', undefined, `${options.labelOf(key)}: ${n}`),
        ),
      );
    }
  });
  if (keys.length === 0) svg.append(s('text', { x: left + plotW / 2, y: top + plotH / 2, 'text-anchor': 'middle', class: 'empty' }, options.empty));

  const legend = h('ul', { class: 'legend' }, ...keys.map((key) => h('li', { [keyAttr]: key }, h('span', { class: 'swatch' }), options.labelOf(key))));
  // The swatch colours are set through the CSSOM (allowed by the page's CSP, unlike inline style attributes).
  legend.querySelectorAll<HTMLElement>('.swatch').forEach((el, i) => {
    el.style.background = options.colorOf(keys[i]!);
  });
  container.replaceChildren(svg, legend);
}
