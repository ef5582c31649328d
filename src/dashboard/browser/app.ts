/**
 * The dashboard page. It follows the server over a `lifeline.v1` session of the project's own browser
 * client (`lifeline-client.js`): it subscribes to `$lifeline.stats`, where the server publishes a
 * snapshot every second, so a restart of the server is just a 1012 and a resume for the page too.
 * @packageDocumentation
 */
import { ServerError, createSession, type CloseInfo, type LifelineSession } from '../../client/index.js';
import { explainCode, type Lang } from '../../codes/index.js';
import { ADMIN_HEADER, ASSET_PREFIX, DASHBOARD_MARK, STATS_CHANNEL, isStatsSnapshot, type DashboardInfo, type SnapshotIncident, type StatsSnapshot } from '../snapshot.js';
import { ClosesHistory, renderChart } from './chart.js';
import { byId, clockTime, fill, h, sameOriginWsUrl } from './dom.js';
import { initialLang, saveLang, t, translate, type UiKey } from './i18n.js';
import { renderComparison, renderReference } from './reference.js';

/** A source whose last snapshot is older than this (relative to the newest) no longer counts. */
const STALE_MS = 5000;

interface View {
  lang: Lang;
  info: DashboardInfo | undefined;
  /** The latest snapshot of each process. */
  readonly latest: Map<string, StatsSnapshot>;
  readonly history: ClosesHistory;
  /** Server clock minus browser clock, from the newest snapshot. */
  skewMs: number;
  lastClose: CloseInfo | undefined;
  session: LifelineSession | undefined;
}

const view: View = { lang: initialLang(), info: undefined, latest: new Map(), history: new ClosesHistory(), skewMs: 0, lastClose: undefined, session: undefined };

const COUNTERS: readonly { id: string; label: UiKey; read: (s: StatsSnapshot) => number }[] = [
  { id: 'stat-open', label: 'open', read: (s) => s.stats.open },
  { id: 'stat-opened', label: 'opened', read: (s) => s.stats.opened },
  { id: 'stat-incidents', label: 'incidents', read: (s) => s.stats.incidents },
  { id: 'stat-resumed', label: 'resumed', read: (s) => s.stats.sessions.resumed },
  { id: 'stat-drains', label: 'drains', read: (s) => s.stats.drains },
  { id: 'stat-in', label: 'messagesIn', read: (s) => s.stats.messagesIn },
  { id: 'stat-out', label: 'messagesOut', read: (s) => s.stats.messagesOut },
];

/** The processes that are still reporting. */
function current(): StatsSnapshot[] {
  const all = [...view.latest.values()];
  const newest = Math.max(0, ...all.map((s) => s.at));
  return all.filter((s) => s.at >= newest - STALE_MS);
}

function renderCounts(): void {
  const live = current();
  for (const c of COUNTERS) {
    const el = byId(c.id);
    el.textContent = live.length === 0 ? '–' : String(live.reduce((sum, s) => sum + c.read(s), 0));
  }
  const states = [...new Set(live.map((s) => s.state))].join(', ');
  const newest = live.reduce((a, s) => Math.max(a, s.at), 0);
  byId('server-state').textContent = live.length === 0 ? t(view.lang, 'waiting') : `${states} · ${t(view.lang, 'sources')}: ${live.length} · ${t(view.lang, 'updated')} ${clockTime(newest)}`;
  byId('server-state').dataset.state = live.length === 0 ? 'unknown' : states;
}

function renderIncidents(): void {
  const seen = new Map<string, SnapshotIncident>();
  for (const s of view.latest.values()) for (const i of s.incidents) seen.set(i.id, i);
  const rows = [...seen.values()].sort((a, b) => b.at - a.at);
  const body = byId('incidents');
  if (rows.length === 0) {
    fill(body, h('tr', { class: 'none' }, h('td', { colspan: 5 }, t(view.lang, 'noIncidents'))));
    return;
  }
  fill(
    body,
    ...rows.map((i) =>
      h('tr', { 'data-incident': i.id, 'data-connection': i.connection }, h('td', { class: 'mono' }, i.id), h('td', undefined, clockTime(i.at)), h('td', { class: 'mono' }, i.connection), h('td', undefined, i.handler), h('td', { class: 'summary' }, i.summary)),
    ),
  );
}

function renderClosesChart(): void {
  renderChart(byId('chart'), view.history.buckets(Date.now() + view.skewMs), view.lang, { empty: t(view.lang, 'noCloses'), now: t(view.lang, 'now') });
}

const STATE_KEYS: Readonly<Record<string, UiKey>> = {
  idle: 'stateConnecting',
  connecting: 'stateConnecting',
  open: 'stateOpen',
  reconnecting: 'stateReconnecting',
  stopped: 'stateStopped',
  exhausted: 'stateExhausted',
  closed: 'stateClosed',
};

function renderLink(): void {
  const session = view.session;
  const el = byId('link');
  const state = session?.state ?? 'idle';
  el.dataset.state = state;
  const parts = [t(view.lang, STATE_KEYS[state] ?? 'stateConnecting')];
  if (session?.session !== undefined && state === 'open') parts.push(session.session);
  const c = view.lastClose;
  if (c) {
    let name = c.name;
    try {
      name = explainCode(c.code, view.lang).name;
    } catch {
      // A code outside the registry keeps the client's name for it.
    }
    const next = c.willReconnect ? t(view.lang, 'backIn', { ms: Math.round(c.delayMs ?? 0) }) : t(view.lang, 'noReconnect');
    parts.push(t(view.lang, 'lastClose', { code: c.code, name, incident: c.incident !== undefined ? ` (${c.incident})` : '', next }));
  }
  el.textContent = parts.join(' · ');
}

function renderLocalised(): void {
  document.documentElement.lang = view.lang === 'zh' ? 'zh-Hans' : 'en';
  document.title = t(view.lang, 'title');
  translate(document, view.lang);
  document.querySelectorAll<HTMLButtonElement>('[data-lang]').forEach((b) => b.setAttribute('aria-pressed', String(b.dataset.lang === view.lang)));
  renderReference(byId('reference'), view.lang);
  compare();
  renderCounts();
  renderIncidents();
  renderClosesChart();
  renderLink();
}

function compare(): void {
  renderComparison(byId('compare-result'), byId<HTMLInputElement>('compare-code-a').value, byId<HTMLInputElement>('compare-code-b').value, view.lang);
}

function onSnapshot(snapshot: StatsSnapshot): void {
  view.latest.set(snapshot.source, snapshot);
  view.history.add(snapshot);
  const newest = Math.max(...[...view.latest.values()].map((s) => s.at));
  if (snapshot.at === newest) view.skewMs = snapshot.at - Date.now();
  renderCounts();
  renderIncidents();
  renderClosesChart();
}

async function adminPost(path: string): Promise<{ ok: boolean; body: Record<string, unknown> }> {
  const res = await fetch(path, { method: 'POST', credentials: 'same-origin', headers: { [ADMIN_HEADER]: '1', 'content-type': 'application/json' }, body: '{}' });
  let body: Record<string, unknown> = {};
  try {
    body = (await res.json()) as Record<string, unknown>;
  } catch {
    body = { message: `HTTP ${res.status}` };
  }
  return { ok: res.ok, body };
}

function wireActions(): void {
  const result = byId('action-result');
  const show = (text: string, ok: boolean): void => {
    result.textContent = text;
    result.dataset.ok = String(ok);
  };
  byId<HTMLButtonElement>('restart').addEventListener('click', () => {
    void adminPost('/admin/restart').then(
      ({ ok, body }) => show(ok ? t(view.lang, 'restarting') : t(view.lang, 'failed', { message: String(body.message ?? '') }), ok),
      (error: unknown) => show(t(view.lang, 'failed', { message: String(error) }), false),
    );
  });
  const crash = byId<HTMLButtonElement>('crash');
  crash.hidden = view.info?.demo !== true;
  byId('crash-note').hidden = view.info?.demo !== true;
  crash.addEventListener('click', () => {
    void adminPost('/admin/crash').then(
      ({ ok, body }) => {
        if (ok) result.dataset.incident = String(body.incident);
        show(ok ? t(view.lang, 'crashed', { connection: String(body.connection), incident: String(body.incident) }) : t(view.lang, 'failed', { message: String(body.message ?? '') }), ok);
      },
      (error: unknown) => show(t(view.lang, 'failed', { message: String(error) }), false),
    );
  });
}

function wireControls(): void {
  document.querySelectorAll<HTMLButtonElement>('[data-lang]').forEach((b) => {
    b.addEventListener('click', () => {
      const lang = b.dataset.lang === 'zh' ? 'zh' : 'en';
      if (lang === view.lang) return;
      view.lang = lang;
      saveLang(lang);
      renderLocalised();
    });
  });
  for (const id of ['compare-code-a', 'compare-code-b']) byId(id).addEventListener('input', compare);
  byId('compare-form').addEventListener('submit', (event) => {
    event.preventDefault();
    compare();
  });
}

function connect(): void {
  const session = createSession({ url: sameOriginWsUrl(`${DASHBOARD_MARK}=1`) });
  view.session = session;
  session.on('state', renderLink);
  session.on('welcome', renderLink);
  session.on('close', (c) => {
    view.lastClose = c;
    renderLink();
  });
  session.on('message', ({ channel, data }) => {
    if (channel === STATS_CHANNEL && isStatsSnapshot(data)) onSnapshot(data);
  });
  session.on('error', (error) => {
    if (error instanceof ServerError && error.reason === 'FORBIDDEN' && error.ref === STATS_CHANNEL) {
      const el = byId('link');
      el.dataset.state = 'forbidden';
      el.textContent = t(view.lang, 'forbidden');
    }
  });
  session.subscribe(STATS_CHANNEL);
}

async function main(): Promise<void> {
  wireControls();
  renderLocalised();
  const res = await fetch(`${ASSET_PREFIX}info`, { credentials: 'same-origin' });
  if (res.status === 401) {
    location.reload();
    return;
  }
  view.info = (await res.json()) as DashboardInfo;
  wireActions();
  connect();
  // The chart slides even when nothing arrives.
  setInterval(renderClosesChart, 5000);
  document.body.dataset.ready = 'true';
}

void main();
