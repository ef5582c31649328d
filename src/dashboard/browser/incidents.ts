/**
 * The incidents view: every stored 1011 incident (all nodes sharing the store), searched by id,
 * connection, handler, node or error text, newest first, paged back; and each incident's permalink
 * (`#/incidents/inc_…`), which opens it on its own.
 * @packageDocumentation
 */
import { API_PREFIX, type IncidentRow, type IncidentsPage } from '../console-api.js';
import { failure, getJson } from './api.js';
import { byId, dateTime, fill, h } from './dom.js';
import { say, t } from './i18n.js';
import { routeHash } from './router.js';
import { page } from './state.js';

let cursors: (number | undefined)[] = [undefined];
let pageIndex = 0;
let lastPage: IncidentsPage | undefined;
let selected: string | undefined;
let selectedRow: IncidentRow | null | undefined;
let visible = false;
let newestSeen = '';

/** The absolute address of an incident's permalink. */
function permalink(id: string): string {
  return `${location.origin}${location.pathname}${routeHash({ view: 'incidents', item: id })}`;
}

function renderList(): void {
  const lang = page.lang;
  const p = lastPage;
  if (!p) return;
  byId('incidents-summary').textContent = t(lang, 'incidentsSummary', { shown: p.rows.length, scanned: p.scanned, page: pageIndex + 1 });
  if (p.rows.length === 0) fill(byId('incident-rows'), h('tr', { class: 'none' }, h('td', { colspan: 6 }, t(lang, 'noIncidentsFound'))));
  else
    fill(
      byId('incident-rows'),
      ...p.rows.map((i) =>
        h(
          'tr',
          { 'data-incident': i.id, class: i.id === selected ? 'selected' : undefined },
          h('td', { class: 'mono', 'data-label': t(lang, 'incident') }, h('a', { href: routeHash({ view: 'incidents', item: i.id }), class: 'permalink' }, i.id)),
          h('td', { 'data-label': t(lang, 'time') }, dateTime(i.at)),
          h('td', { class: 'mono', 'data-label': t(lang, 'node') }, i.source),
          h('td', { class: 'mono', 'data-label': t(lang, 'connectionId') }, i.connection),
          h('td', { 'data-label': t(lang, 'handler') }, i.handler),
          h('td', { class: 'summary', 'data-label': t(lang, 'errorLine') }, i.summary),
        ),
      ),
    );
  byId<HTMLButtonElement>('incidents-older').disabled = p.next === null;
  byId<HTMLButtonElement>('incidents-newest').disabled = pageIndex === 0;
}

async function loadList(): Promise<void> {
  try {
    lastPage = await getJson<IncidentsPage>(`${API_PREFIX}incidents`, { q: byId<HTMLInputElement>('incidents-q').value.trim(), before: cursors[pageIndex] });
  } catch (error) {
    say(byId('incidents-summary'), page.lang, failure(error));
    return;
  }
  renderList();
}

function renderDetail(): void {
  const lang = page.lang;
  const panel = byId('incident-detail');
  panel.hidden = selected === undefined;
  if (selected === undefined) return;
  panel.dataset.incident = selected;
  byId('incident-title').textContent = `${t(lang, 'incident')} ${selected}`;
  const i = selectedRow;
  if (i === undefined) return;
  if (i === null) {
    fill(byId('incident-facts'), h('dd', { class: 'error', id: 'incident-missing' }, t(lang, 'incidentNotFound', { id: selected })));
    return;
  }
  const link = permalink(i.id);
  fill(
    byId('incident-facts'),
    h('dt', undefined, t(lang, 'time')),
    h('dd', undefined, dateTime(i.at)),
    h('dt', undefined, t(lang, 'node')),
    h('dd', { class: 'mono' }, i.source),
    h('dt', undefined, t(lang, 'connectionId')),
    h('dd', { class: 'mono' }, h('a', { href: routeHash({ view: 'connections', item: i.connection }) }, i.connection)),
    h('dt', undefined, t(lang, 'handler')),
    h('dd', undefined, i.handler),
    h('dt', undefined, t(lang, 'errorLine')),
    h('dd', { class: 'summary', id: 'incident-summary' }, i.summary),
    h('dt', undefined, t(lang, 'permalink')),
    h('dd', undefined, h('a', { href: link, id: 'incident-permalink', class: 'mono' }, link)),
  );
}

async function loadDetail(): Promise<void> {
  const id = selected;
  if (id === undefined) return renderDetail();
  selectedRow = undefined;
  renderDetail();
  try {
    const found = await getJson<IncidentsPage>(`${API_PREFIX}incidents`, { id });
    if (id !== selected) return;
    selectedRow = found.rows[0] ?? null;
  } catch (error) {
    if (id !== selected) return;
    selectedRow = null;
    say(byId('incidents-summary'), page.lang, failure(error));
  }
  renderDetail();
}

function wire(): void {
  byId('incidents-filter').addEventListener('submit', (event) => {
    event.preventDefault();
    cursors = [undefined];
    pageIndex = 0;
    void loadList();
  });
  byId('incidents-older').addEventListener('click', () => {
    const next = lastPage?.next;
    if (next === null || next === undefined) return;
    cursors = [...cursors.slice(0, pageIndex + 1), next];
    pageIndex += 1;
    void loadList();
  });
  byId('incidents-newest').addEventListener('click', () => {
    pageIndex = 0;
    void loadList();
  });
}

/** Wire the view (once). */
export function mountIncidents(): void {
  wire();
}

/** The view was opened (or left: `visible` false), on the list or on one incident. */
export function showIncidents(isVisible: boolean, item?: string): void {
  visible = isVisible;
  if (!visible) return;
  selected = item;
  void loadList();
  void loadDetail();
}

/** A snapshot named `newest` as its latest incident: refresh the first page if it is on screen. */
export function incidentsSnapshot(newest: string | undefined): void {
  if (newest === undefined || newest === newestSeen) return;
  newestSeen = newest;
  if (visible && pageIndex === 0 && byId<HTMLInputElement>('incidents-q').value.trim() === '') void loadList();
}

/** The language changed. */
export function renderIncidentsView(): void {
  renderList();
  renderDetail();
}
