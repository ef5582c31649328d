/**
 * The overview: live counts (without the dashboards' own connections), one row per node, the time
 * series over a chosen window, the newest incidents, and (in `--demo`) the crash button.
 * @packageDocumentation
 */
import { API_PREFIX, DEFAULT_SERIES_WINDOW, SERIES_WINDOWS } from '../console-api.js';
import { Series, sampleOf, type SeriesBar, type SeriesState } from '../series.js';
import type { SnapshotIncident, StatsSnapshot } from '../snapshot.js';
import { adminPost, failure, getJson } from './api.js';
import { codeColor, codeTitle, renderBars, type StackedBar } from './chart.js';
import { byId, clockTime, fill, formatBytes, formatDuration, h } from './dom.js';
import { say, stateLabel, t } from './i18n.js';
import { routeHash } from './router.js';
import { fillRows, row } from './table.js';
import { current, known, page, serverNow } from './state.js';

const COUNTERS: readonly { id: string; read: (s: StatsSnapshot) => number }[] = [
  { id: 'stat-open', read: (s) => s.stats.open },
  { id: 'stat-opened', read: (s) => s.stats.opened },
  { id: 'stat-incidents', read: (s) => s.stats.incidents },
  { id: 'stat-resumed', read: (s) => s.stats.sessions.resumed },
  { id: 'stat-drains', read: (s) => s.stats.drains },
  { id: 'stat-in', read: (s) => s.stats.messagesIn },
  { id: 'stat-out', read: (s) => s.stats.messagesOut },
];

let windowKey = DEFAULT_SERIES_WINDOW;
let series: Series | undefined;
/** Snapshots that arrived while the series was being fetched: added once it is there. */
let waiting: StatsSnapshot[] = [];
let loading = 0;

function renderCounts(): void {
  const live = current();
  for (const c of COUNTERS) byId(c.id).textContent = live.length === 0 ? '–' : String(live.reduce((sum, s) => sum + c.read(s), 0));
  const dashboards = live.reduce((sum, s) => sum + (s.stats.dashboards ?? 0), 0);
  byId('dashboards-note').textContent = live.length === 0 ? '' : t(page.lang, 'dashboardsNote', { n: dashboards });
}

function renderNodes(): void {
  const lang = page.lang;
  const rows = known()
    .sort((a, b) => (a.snapshot.source < b.snapshot.source ? -1 : 1))
    .map(({ snapshot: s, stale }) => {
      const n = s.node;
      const state = n ? (n.ready ? 'ready' : s.state === 'running' ? 'notReady' : s.state) : s.state;
      return row(
        lang,
        { 'data-source': s.source, 'data-state': state, class: stale ? 'stale' : undefined },
        ['node', 'mono', s.source],
        ['nodeState', undefined, stateLabel(lang, state), stale ? ` · ${t(lang, 'silentFor', { time: formatDuration(serverNow() - s.at) })}` : ''],
        ['connections', 'num', n ? n.connections : s.stats.open],
        ['rss', 'num', n ? formatBytes(n.rssBytes) : '–'],
        ['loopLag', 'num', n ? `${n.eventLoopLagMs.mean} / ${n.eventLoopLagMs.max} ms` : '–'],
        ['cpu', 'num', n ? `${n.cpuPercent}%` : '–'],
        ['uptime', 'num', n ? formatDuration(n.uptimeMs) : '–'],
        ['store', undefined, n?.store ?? ''],
        ['lastSnapshot', undefined, clockTime(s.at)],
      );
    });
  fillRows(byId('nodes'), rows, t(lang, 'waiting'));
}

function renderIncidents(): void {
  const seen = new Map<string, SnapshotIncident>();
  for (const s of page.latest.values()) for (const i of s.incidents) seen.set(i.id, i);
  const lang = page.lang;
  const rows = [...seen.values()]
    .sort((a, b) => b.at - a.at)
    .slice(0, 10)
    .map((i) =>
      row(
        lang,
        { 'data-incident': i.id, 'data-connection': i.connection },
        ['incident', 'mono', h('a', { href: routeHash({ view: 'incidents', item: i.id }) }, i.id)],
        ['time', undefined, clockTime(i.at)],
        ['connectionId', 'mono', i.connection],
        ['handler', undefined, i.handler],
        ['errorLine', 'summary', i.summary],
      ),
    );
  fillRows(byId('incidents'), rows, t(lang, 'noIncidents'));
}

const one = (key: string, n: number): ReadonlyMap<string, number> => new Map([[key, n]]);

function renderSeries(): void {
  const lang = page.lang;
  const words = { now: t(lang, 'now'), bucketMs: series?.bucketMs ?? 10_000, height: 140 };
  const bars: SeriesBar[] = series ? series.bars(serverNow()) : [];
  const stack = (values: (b: SeriesBar) => ReadonlyMap<string, number>): StackedBar[] => bars.map((b) => ({ start: b.start, values: values(b) }));
  renderBars(byId('chart-connections'), stack((b) => one('open', b.connections ?? 0)), {
    ...words,
    title: t(lang, 'seriesConnections'),
    empty: t(lang, bars.some((b) => b.connections !== null) ? 'noOpenInWindow' : 'noData'),
    colorOf: () => '#0d9488',
    labelOf: () => t(lang, 'open'),
  });
  renderBars(byId('chart-messages'), stack((b) => new Map([['in', b.messagesIn], ['out', b.messagesOut]])), {
    ...words,
    title: t(lang, 'seriesMessages'),
    empty: t(lang, bars.some((b) => b.connections !== null) ? 'noMessagesInWindow' : 'noData'),
    colorOf: (k) => (k === 'in' ? '#2563eb' : '#ca8a04'),
    labelOf: (k) => t(lang, k === 'in' ? 'messagesIn' : 'messagesOut'),
  });
  renderBars(byId('chart'), stack((b) => new Map([...b.closes].map(([code, n]) => [String(code), n]))), {
    ...words,
    title: t(lang, 'closes'),
    empty: t(lang, 'noClosesInWindow'),
    colorOf: (k) => codeColor(Number(k)),
    labelOf: (k) => codeTitle(Number(k), lang),
    keyAttribute: 'data-code',
  });
  const w = SERIES_WINDOWS.find((x) => x.key === windowKey)!;
  const from = series?.from;
  const partial = from !== null && from !== undefined && from > serverNow() - w.windowMs + w.bucketMs;
  byId('series-note').textContent = t(lang, 'seriesBars', { bar: formatDuration(w.bucketMs) }) + (partial ? ` · ${t(lang, 'seriesFrom', { time: clockTime(from) })}` : '');
  document.querySelectorAll<HTMLButtonElement>('#series-window button').forEach((b) => b.setAttribute('aria-pressed', String(b.dataset.window === windowKey)));
}

async function loadSeries(): Promise<void> {
  const ticket = ++loading;
  const key = windowKey;
  try {
    const state = await getJson<SeriesState>(`${API_PREFIX}series`, { window: key });
    if (ticket !== loading) return;
    series = Series.from(state);
    for (const s of waiting) series.add(sampleOf(s));
    waiting = [];
    say(byId('series-error'), page.lang, undefined);
  } catch (error) {
    if (ticket !== loading) return;
    say(byId('series-error'), page.lang, failure(error));
  }
  renderSeries();
  byId('series').dataset.window = key;
}

function wireCrash(): void {
  const crash = byId<HTMLButtonElement>('crash');
  const demo = page.info?.demo === true;
  crash.hidden = !demo;
  byId('crash-note').hidden = !demo;
  const result = byId('crash-result');
  crash.addEventListener('click', () => {
    adminPost<{ connection: string; incident: string }>('/admin/crash').then(
      (body) => {
        result.dataset.incident = body.incident;
        result.dataset.ok = 'true';
        say(result, page.lang, { key: 'crashed', values: { connection: body.connection, incident: body.incident } });
      },
      (error: unknown) => {
        result.dataset.ok = 'false';
        say(result, page.lang, failure(error));
      },
    );
  });
}

/** Wire the overview's controls (once, after the server's info is known). */
export function mountOverview(): void {
  fill(byId('series-window'), ...SERIES_WINDOWS.map((w) => h('button', { type: 'button', 'data-window': w.key, 'aria-pressed': String(w.key === windowKey) }, w.key)));
  byId('series-window').addEventListener('click', (event) => {
    const key = (event.target as HTMLElement).closest<HTMLButtonElement>('button[data-window]')?.dataset.window;
    if (key === undefined || key === windowKey) return;
    windowKey = key;
    series = undefined;
    renderSeries();
    void loadSeries();
  });
  wireCrash();
  void loadSeries();
  // The bars slide even when nothing arrives.
  setInterval(() => {
    if (shown) renderSeries();
  }, 5000);
}

/** Whether the overview is on screen: hidden, it keeps its data but draws nothing. */
let shown = false;

/** A snapshot arrived. */
export function overviewSnapshot(snapshot: StatsSnapshot): void {
  if (series) series.add(sampleOf(snapshot));
  else waiting.push(snapshot);
  if (waiting.length > 100) waiting = waiting.slice(-100);
  if (shown) renderOverview();
}

/** The overview was shown or hidden. */
export function showOverview(visible: boolean): void {
  const was = shown;
  shown = visible;
  if (visible && !was) renderOverview();
}

/** Draw everything again (the language changed). */
export function renderOverview(): void {
  renderCounts();
  renderNodes();
  renderIncidents();
  renderSeries();
}
