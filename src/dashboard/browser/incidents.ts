/**
 * The incidents view: every stored 1011 incident (all nodes sharing the store), searched by id,
 * connection, handler, node or error text, newest first, paged back; and each incident's permalink
 * (`#/incidents/inc_…`), which opens it on its own.
 * @packageDocumentation
 */
import { API_PREFIX, type IncidentRow, type IncidentsPage } from '../console-api.js';
import { failure, getJson } from './api.js';
import { byId, dateTime, fill, h, showPanel } from './dom.js';
import { say, t } from './i18n.js';
import { Pager } from './pager.js';
import { fillRows, row } from './table.js';
import { routeHash } from './router.js';
import { page } from './state.js';

let pager: Pager<number> | undefined;
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
  byId('incidents-summary').textContent = t(lang, 'incidentsSummary', { shown: p.rows.length, scanned: p.scanned, page: (pager?.index ?? 0) + 1 });
  const rows = p.rows.map((i) =>
    row(
      lang,
      { 'data-incident': i.id, class: i.id === selected ? 'selected' : undefined },
      ['incident', 'mono', h('a', { href: routeHash({ view: 'incidents', item: i.id }), class: 'permalink' }, i.id)],
      ['time', undefined, dateTime(i.at)],
      ['node', 'mono', i.source],
      ['connectionId', 'mono', i.connection],
      ['handler', undefined, i.handler],
      ['errorLine', 'summary', i.summary],
    ),
  );
  fillRows(byId('incident-rows'), rows, t(lang, 'noIncidentsFound'));
  pager?.update(p.next);
}

async function loadList(): Promise<void> {
  try {
    lastPage = await getJson<IncidentsPage>(`${API_PREFIX}incidents`, { q: byId<HTMLInputElement>('incidents-q').value.trim(), before: pager?.cursor });
  } catch (error) {
    say(byId('incidents-summary'), page.lang, failure(error));
    return;
  }
  renderList();
}

function renderDetail(): void {
  const lang = page.lang;
  if (!showPanel('incident-detail', 'incident-title', 'incident', selected, t(lang, 'incident'))) return;
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

/** Wire the view (once). */
export function mountIncidents(): void {
  pager = new Pager({ first: 'incidents-newest', next: 'incidents-older', form: 'incidents-filter' }, () => lastPage?.next, () => void loadList());
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
  if (visible && (pager?.index ?? 0) === 0 && byId<HTMLInputElement>('incidents-q').value.trim() === '') void loadList();
}

/** The language changed. */
export function renderIncidentsView(): void {
  renderList();
  renderDetail();
}
