/**
 * The restart view: the planned-restart button, and the drain shown live from the snapshots (four a
 * second while it runs): connections left, closed per second, and clients back (sessions that
 * resumed). "Restart requested" gives way to the drain's progress and then its outcome.
 * @packageDocumentation
 */
import type { DrainProgress, StatsSnapshot } from '../snapshot.js';
import { ApiError, adminPost } from './api.js';
import { byId, clockTime, formatDuration, h, s } from './dom.js';
import { t } from './i18n.js';
import { known, page, serverNow } from './state.js';
import { fillRows, row } from './table.js';

interface Point {
  readonly at: number;
  readonly closed: number;
  readonly back: number;
}

/** Per process: its latest drain and how it went, point by point. */
const drains = new Map<string, { drain: DrainProgress; points: Point[] }>();
const MAX_POINTS = 2000;
/** When this page asked for a restart (server clock), until a drain that started after it shows up. */
let requestedAt: number | undefined;
let failure: string | undefined;

function closedPerSecond(points: readonly Point[], drain: DrainProgress): number {
  const last = points.at(-1);
  if (!last) return 0;
  if (drain.endedAt !== undefined) return drain.closed / Math.max(0.001, (drain.endedAt - drain.startedAt) / 1000);
  const before = [...points].reverse().find((p) => p.at <= last.at - 1000) ?? points[0]!;
  const dt = (last.at - before.at) / 1000;
  return dt <= 0 ? 0 : (last.closed - before.closed) / dt;
}

function latestDrain(): DrainProgress | undefined {
  let best: DrainProgress | undefined;
  for (const { drain } of drains.values()) if (!best || drain.startedAt > best.startedAt) best = drain;
  return best;
}

function renderStatus(): void {
  const lang = page.lang;
  const el = byId('restart-result');
  const d = latestDrain();
  const ours = d !== undefined && (requestedAt === undefined || d.startedAt >= requestedAt - 2000);
  if (failure !== undefined) {
    el.dataset.restart = 'failed';
    el.textContent = t(lang, 'failed', { message: failure });
  } else if (requestedAt !== undefined && !ours) {
    el.dataset.restart = 'requested';
    el.textContent = t(lang, 'restarting');
  } else if (d && d.endedAt === undefined) {
    el.dataset.restart = 'running';
    el.textContent = t(lang, 'drainRunning', { closed: d.closed, targets: d.targets });
  } else if (d && d.endedAt !== undefined) {
    el.dataset.restart = 'finished';
    el.textContent = t(lang, 'restartFinished', { time: clockTime(d.endedAt), closed: d.closed, targets: d.targets, duration: formatDuration(d.endedAt - d.startedAt), back: d.back, sessions: d.sessions });
  } else {
    el.dataset.restart = 'none';
    el.textContent = t(lang, 'noDrain');
  }
  if (ours && d?.endedAt !== undefined) requestedAt = undefined;
}

function renderTable(): void {
  const lang = page.lang;
  const rows = [...drains.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([source, { drain: d, points }]) =>
      row(
        lang,
        { 'data-source': source, 'data-running': String(d.endedAt === undefined), 'data-targets': d.targets, 'data-closed': d.closed, 'data-sessions': d.sessions, 'data-back': d.back },
        ['node', 'mono', source],
        ['drainKind', undefined, `${t(lang, d.kind === 'restart' ? 'kindRestart' : 'kindShutdown')} (${d.code})`],
        ['started', undefined, clockTime(d.startedAt)],
        ['status', undefined, d.endedAt === undefined ? t(lang, 'drainOngoing', { time: formatDuration(serverNow() - d.startedAt) }) : t(lang, 'drainDone', { time: formatDuration(d.endedAt - d.startedAt) })],
        ['drainTargets', 'num', d.targets],
        ['drainLeft', 'num', d.targets - d.closed],
        ['closedPerSecond', 'num', closedPerSecond(points, d).toFixed(1)],
        ['clientsBack', 'num', t(lang, 'backOf', { back: d.back, sessions: d.sessions })],
        ['openedSince', 'num', d.opened],
      ),
    );
  fillRows(byId('drain-rows'), rows, t(lang, 'noDrain'));
}

/** Connections left and sessions back since the drain started, for the latest drain. */
function renderChart(): void {
  const lang = page.lang;
  const latest = [...drains.values()].sort((a, b) => b.drain.startedAt - a.drain.startedAt)[0];
  const box = byId('drain-chart');
  if (!latest || latest.points.length === 0) {
    box.replaceChildren();
    return;
  }
  const { drain, points } = latest;
  const width = 720;
  const height = 160;
  const pad = { l: 44, r: 8, t: 10, b: 22 };
  const t0 = drain.startedAt;
  const t1 = Math.max(points.at(-1)!.at, t0 + drain.drainWindowMs, t0 + 1000);
  const max = Math.max(1, drain.targets, drain.sessions);
  const x = (at: number): number => pad.l + ((at - t0) / (t1 - t0)) * (width - pad.l - pad.r);
  const y = (v: number): number => pad.t + (1 - v / max) * (height - pad.t - pad.b);
  const line = (value: (p: Point) => number, cls: string, key: string) =>
    s('polyline', { points: [{ at: t0, closed: 0, back: 0 }, ...points].map((p) => `${x(p.at).toFixed(1)},${y(value(p)).toFixed(1)}`).join(' '), class: `line ${cls}`, 'data-key': key });
  const svg = s(
    'svg',
    { viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img', 'aria-label': t(lang, 'drainChart') },
    s('line', { x1: pad.l, x2: width - pad.r, y1: y(0), y2: y(0), class: 'grid' }),
    s('line', { x1: pad.l, x2: width - pad.r, y1: y(max), y2: y(max), class: 'grid' }),
    s('text', { x: pad.l - 6, y: y(max) + 4, 'text-anchor': 'end', class: 'axis' }, max),
    s('text', { x: pad.l - 6, y: y(0) + 4, 'text-anchor': 'end', class: 'axis' }, 0),
    s('text', { x: pad.l, y: height - 6, class: 'axis' }, '0 s'),
    s('text', { x: width - pad.r, y: height - 6, 'text-anchor': 'end', class: 'axis' }, formatDuration(t1 - t0)),
    line((p) => drain.targets - p.closed, 'left', 'left'),
    line((p) => p.back, 'back', 'back'),
  );
  const legend = h('ul', { class: 'legend' }, h('li', { class: 'left' }, h('span', { class: 'swatch left' }), t(lang, 'drainLeft')), h('li', { class: 'back' }, h('span', { class: 'swatch back' }), t(lang, 'clientsBack')));
  box.replaceChildren(svg, legend);
}

function render(): void {
  renderStatus();
  renderTable();
  renderChart();
}

/** Wire the restart button (once). */
export function mountRestart(): void {
  byId<HTMLButtonElement>('restart').addEventListener('click', () => {
    failure = undefined;
    requestedAt = serverNow();
    render();
    adminPost('/admin/restart').catch((error: unknown) => {
      requestedAt = undefined;
      failure = error instanceof ApiError ? error.message : String(error);
      render();
    });
  });
}

/** Whether the view is on screen: hidden, it keeps following drains but draws nothing. */
let shown = false;

/** The view was shown or hidden. */
export function showRestart(visible: boolean): void {
  const was = shown;
  shown = visible;
  if (visible && !was) render();
}

/** A snapshot arrived. */
export function restartSnapshot(snapshot: StatsSnapshot): void {
  const d = snapshot.drain;
  if (d) {
    let entry = drains.get(snapshot.source);
    if (!entry || entry.drain.startedAt !== d.startedAt) drains.set(snapshot.source, (entry = { drain: d, points: [] }));
    entry.drain = d;
    const last = entry.points.at(-1);
    if (!last || snapshot.at > last.at) entry.points.push({ at: snapshot.at, closed: d.closed, back: d.back });
    if (entry.points.length > MAX_POINTS) entry.points.splice(0, entry.points.length - MAX_POINTS);
  }
  // Processes that went away (a rolling restart retires workers) leave the table with the nodes view.
  const alive = new Set(known().map((k) => k.snapshot.source));
  for (const source of drains.keys()) if (!alive.has(source)) drains.delete(source);
  if (shown) render();
}

/** The language changed. */
export function renderRestart(): void {
  render();
}
