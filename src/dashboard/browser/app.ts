/**
 * The dashboard page: the operator's console. It follows the server over a `lifeline.v1` session of the
 * project's own browser client (`lifeline-client.js`): it subscribes to `$lifeline.stats`, where every
 * process publishes a snapshot each second, so a restart of the server is just a 1012 and a resume for
 * the page too. The views (overview, connections, channels, incidents, restart, reference) are in the
 * address's fragment; the lists come from the console API, page by page.
 * @packageDocumentation
 */
import { ServerError, createSession, type CloseInfo, type LifelineSession } from '../../client/index.js';
import { explainCode } from '../../codes/index.js';
import { ASSET_PREFIX, DASHBOARD_MARK, STATS_CHANNEL, isStatsSnapshot, type DashboardInfo, type StatsSnapshot } from '../snapshot.js';
import { adminPost } from './api.js';
import { mountChannels, refreshChannels, renderChannels, showChannels } from './channels.js';
import { mountConnections, refreshConnections, renderConnections, showConnections } from './connections.js';
import { byId, clockTime, sameOriginWsUrl } from './dom.js';
import { saveLang, sessionStateLabel, stateLabel, t, translate } from './i18n.js';
import { incidentsSnapshot, mountIncidents, renderIncidentsView, showIncidents } from './incidents.js';
import { mountOverview, overviewSnapshot, renderOverview, showOverview } from './overview.js';
import { renderComparison, renderReference } from './reference.js';
import { mountRestart, renderRestart, restartSnapshot, showRestart } from './restart.js';
import { VIEWS, parseRoute, type Route } from './router.js';
import { current, page } from './state.js';

/** How often an open connections or channels list is fetched again, ms. */
const LIST_REFRESH_MS = 5000;

let session: LifelineSession | undefined;
let lastClose: CloseInfo | undefined;
let route: Route = parseRoute(location.hash);

function renderServerState(): void {
  const live = current();
  const el = byId('server-state');
  const states = [...new Set(live.map((s) => s.state))];
  const newest = live.reduce((a, s) => Math.max(a, s.at), 0);
  el.textContent =
    live.length === 0
      ? t(page.lang, 'waiting')
      : `${states.map((s) => stateLabel(page.lang, s)).join(', ')} · ${t(page.lang, 'sources')}: ${live.length} · ${t(page.lang, 'updated')} ${clockTime(newest)}`;
  el.dataset.state = live.length === 0 ? 'unknown' : states.join(', ');
}

function renderLink(): void {
  const el = byId('link');
  const state = session?.state ?? 'idle';
  el.dataset.state = state;
  const parts = [sessionStateLabel(page.lang, state)];
  if (session?.session !== undefined && state === 'open') parts.push(session.session);
  const c = lastClose;
  if (c) {
    let name = c.name;
    try {
      name = explainCode(c.code, page.lang).name;
    } catch {
      // A code outside the registry keeps the client's name for it.
    }
    const next = c.willReconnect ? t(page.lang, 'backIn', { ms: Math.round(c.delayMs ?? 0) }) : t(page.lang, 'noReconnect');
    parts.push(t(page.lang, 'lastClose', { code: c.code, name, incident: c.incident !== undefined ? ` (${c.incident})` : '', next }));
  }
  el.textContent = parts.join(' · ');
}

function compare(): void {
  renderComparison(byId('compare-result'), byId<HTMLInputElement>('compare-code-a').value, byId<HTMLInputElement>('compare-code-b').value, page.lang);
}

function renderLocalised(): void {
  document.documentElement.lang = page.lang === 'zh' ? 'zh-Hans' : 'en';
  document.title = t(page.lang, 'title');
  translate(document, page.lang);
  document.querySelectorAll<HTMLButtonElement>('[data-lang]').forEach((b) => b.setAttribute('aria-pressed', String(b.dataset.lang === page.lang)));
  renderReference(byId('reference'), page.lang);
  compare();
  renderServerState();
  renderLink();
  if (page.info === undefined) return;
  renderOverview();
  renderConnections();
  renderChannels();
  renderIncidentsView();
  renderRestart();
}

/** Show the view the fragment names, and tell it which item. */
function navigate(): void {
  route = parseRoute(location.hash);
  for (const name of VIEWS) {
    byId(`view-${name}`).hidden = name !== route.view;
    const link = document.querySelector<HTMLAnchorElement>(`nav a[data-view="${name}"]`);
    if (link) link.setAttribute('aria-current', String(name === route.view));
  }
  document.body.dataset.view = route.view;
  if (page.info === undefined) return;
  showOverview(route.view === 'overview');
  showRestart(route.view === 'restart');
  if (route.view === 'connections') showConnections(route.item);
  if (route.view === 'channels') showChannels(route.item);
  showIncidents(route.view === 'incidents', route.item);
}

function onSnapshot(snapshot: StatsSnapshot): void {
  page.latest.set(snapshot.source, snapshot);
  const newest = Math.max(...[...page.latest.values()].map((s) => s.at));
  if (snapshot.at === newest) page.skewMs = snapshot.at - Date.now();
  renderServerState();
  overviewSnapshot(snapshot);
  restartSnapshot(snapshot);
  incidentsSnapshot(snapshot.incidents.at(-1)?.id);
}

function wireControls(): void {
  document.querySelectorAll<HTMLButtonElement>('[data-lang]').forEach((b) => {
    b.addEventListener('click', () => {
      const lang = b.dataset.lang === 'zh' ? 'zh' : 'en';
      if (lang === page.lang) return;
      page.lang = lang;
      saveLang(lang);
      renderLocalised();
    });
  });
  for (const id of ['compare-code-a', 'compare-code-b']) byId(id).addEventListener('input', compare);
  byId('compare-form').addEventListener('submit', (event) => {
    event.preventDefault();
    compare();
  });
  window.addEventListener('hashchange', navigate);
}

function wireLogout(): void {
  const button = byId<HTMLButtonElement>('logout');
  // In an open demo there is nothing to log out of.
  button.hidden = page.info?.access !== 'token';
  button.addEventListener('click', () => {
    button.disabled = true;
    session?.close();
    adminPost('/admin/logout').finally(() => location.assign('/'));
  });
}

function connect(): void {
  const s = createSession({ url: sameOriginWsUrl(`${DASHBOARD_MARK}=1`) });
  session = s;
  s.on('state', renderLink);
  s.on('welcome', renderLink);
  s.on('close', (c) => {
    lastClose = c;
    renderLink();
  });
  s.on('message', ({ channel, data }) => {
    if (channel === STATS_CHANNEL && isStatsSnapshot(data)) onSnapshot(data);
  });
  s.on('error', (error) => {
    if (error instanceof ServerError && error.protocolCode === 'FORBIDDEN' && error.ref === STATS_CHANNEL) {
      const el = byId('link');
      el.dataset.state = 'forbidden';
      el.textContent = t(page.lang, 'forbidden');
    }
  });
  s.subscribe(STATS_CHANNEL);
}

async function main(): Promise<void> {
  wireControls();
  navigate();
  renderLocalised();
  const res = await fetch(`${ASSET_PREFIX}info`, { credentials: 'same-origin' });
  if (res.status === 401) {
    location.reload();
    return;
  }
  page.info = (await res.json()) as DashboardInfo;
  wireLogout();
  mountOverview();
  mountConnections();
  mountChannels();
  mountIncidents();
  mountRestart();
  connect();
  navigate();
  renderLocalised();
  // Lists on screen follow the server without a click (each refresh is one bounded page).
  setInterval(() => {
    if (document.hidden) return;
    if (route.view === 'connections') refreshConnections();
    if (route.view === 'channels') refreshChannels();
  }, LIST_REFRESH_MS);
  document.body.dataset.ready = 'true';
}

void main();
