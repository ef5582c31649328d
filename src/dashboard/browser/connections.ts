/**
 * The connections view: the open connections of the process that answers (filtered, paged), one
 * connection inspected (user, channels, buffered bytes, age), and a disconnect with a chosen code.
 * The page offers only codes a server may send and shows the reason as it will go out: cut to 123
 * bytes of UTF-8 on a character boundary. The server checks both again.
 * @packageDocumentation
 */
import { codeLabels, explainCode, isSendableCode, registeredCodes } from '../../codes/index.js';
import { MAX_CLOSE_REASON_BYTES, truncateUtf8, utf8Length } from '../../protocol/index.js';
import { API_PREFIX, type ConnectionDetail, type ConnectionRow, type ConnectionsPage, type DisconnectResult } from '../console-api.js';
import { adminPost, failure, getJson } from './api.js';
import { byId, dateTime, fill, formatBytes, formatDuration, h, showPanel } from './dom.js';
import { say, t } from './i18n.js';
import { Pager } from './pager.js';
import { fillRows, row } from './table.js';
import { routeHash } from './router.js';
import { page } from './state.js';

/** What the server sends when the reason is left empty (mirrors the server's default). */
const DEFAULT_REASON = 'closed by an operator';

let pager: Pager<string> | undefined;
let selected: string | undefined;
let lastPage: ConnectionsPage | undefined;
/** The inspected connection as last fetched (or why it could not be), drawn again on a language switch. */
let detail: { d: ConnectionDetail | undefined; missing?: string } = { d: undefined };

function cell(c: ConnectionRow): HTMLTableRowElement {
  const lang = page.lang;
  const channels = c.channels.join(', ') + (c.channelCount > c.channels.length ? ` ${t(lang, 'andMore', { n: c.channelCount - c.channels.length })}` : '');
  return row(
    lang,
    { 'data-connection': c.id, 'data-dashboard': String(c.dashboard), class: c.id === selected ? 'selected' : undefined },
    ['connectionId', 'mono', h('a', { href: routeHash({ view: 'connections', item: c.id }) }, c.id), c.dashboard ? h('span', { class: 'badge' }, t(lang, 'dashboardBadge')) : ''],
    ['user', undefined, c.user ?? '–'],
    ['remote', 'mono', c.remote],
    ['protocol', undefined, c.protocol === '' ? t(lang, 'plainWebSocket') : c.protocol],
    ['session', 'mono', c.session ?? '–'],
    ['channels', 'mono', channels === '' ? '–' : channels],
    ['buffered', 'num', formatBytes(c.bufferedBytes)],
    ['age', 'num', formatDuration(c.ageMs)],
  );
}

function renderList(): void {
  const lang = page.lang;
  const p = lastPage;
  byId('connections-source').textContent = p?.source ?? page.info?.source ?? '';
  if (!p) return;
  byId('connections-summary').textContent = t(lang, 'connectionsSummary', { matched: p.matched, total: p.total, page: (pager?.index ?? 0) + 1 });
  fillRows(byId('connections-rows'), p.rows.map(cell), t(lang, 'noConnections'));
  pager?.update(p.next);
}

async function loadList(): Promise<void> {
  const hide = byId<HTMLInputElement>('connections-hide-dashboards').checked;
  try {
    lastPage = await getJson<ConnectionsPage>(`${API_PREFIX}connections`, { q: byId<HTMLInputElement>('connections-q').value.trim(), after: pager?.cursor, dashboards: hide ? '0' : undefined });
    byId('connections-view').dataset.loaded = String(Date.now());
  } catch (error) {
    say(byId('connections-summary'), page.lang, failure(error));
    return;
  }
  renderList();
}

function fact(label: string, value: string | number, cls?: string): HTMLElement[] {
  return [h('dt', undefined, label), h('dd', cls ? { class: cls } : undefined, value)];
}

function renderDetail(): void {
  const { d, missing } = detail;
  const lang = page.lang;
  if (!showPanel('connection-detail', 'connection-detail-title', 'connection', selected, t(lang, 'connectionId'))) return;
  byId('disconnect-form').hidden = d?.state !== 'open';
  if (!d) {
    fill(byId('connection-facts'), h('dd', { class: 'error' }, missing ?? ''));
    return;
  }
  byId('connection-detail').dataset.state = d.state;
  fill(
    byId('connection-facts'),
    ...fact(t(lang, 'status'), t(lang, d.state === 'open' ? 'stateOpen' : 'stateClosed')),
    ...fact(t(lang, 'user'), d.user ?? '–'),
    ...fact(t(lang, 'remote'), d.remote, 'mono'),
    ...fact(t(lang, 'path'), `${d.path}${d.queryKeys.length > 0 ? ` ?${d.queryKeys.map((k) => `${k}=…`).join('&')}` : ''}`, 'mono'),
    ...fact(t(lang, 'protocol'), d.protocol === '' ? t(lang, 'plainWebSocket') : d.protocol),
    ...fact(t(lang, 'session'), d.session ?? '–', 'mono'),
    ...fact(t(lang, 'channels'), d.channels.length === 0 ? '–' : d.channels.join(', '), 'mono channels'),
    ...fact(t(lang, 'buffered'), formatBytes(d.bufferedBytes)),
    ...fact(t(lang, 'age'), `${formatDuration(d.ageMs)} (${dateTime(d.openedAt)})`),
    ...fact(t(lang, 'origin'), d.origin ?? '–'),
    ...fact(t(lang, 'userAgent'), d.userAgent ?? '–'),
    ...(d.dashboard ? fact(t(lang, 'dashboardBadge'), t(lang, 'dashboardExplained')) : []),
  );
  describeChoice();
}

async function loadDetail(): Promise<void> {
  const id = selected;
  if (id === undefined) {
    detail = { d: undefined };
    return renderDetail();
  }
  try {
    const d = await getJson<ConnectionDetail>(`${API_PREFIX}connection`, { id });
    if (id === selected) detail = { d };
  } catch (error) {
    if (id === selected) detail = { d: undefined, missing: t(page.lang, 'failed', failure(error).values) };
  }
  if (id === selected) renderDetail();
}

/** Explain the chosen code and show the reason as it will be sent. */
function describeChoice(): void {
  const lang = page.lang;
  const code = Number(byId<HTMLInputElement>('disconnect-code').value);
  const name = byId('disconnect-code-name');
  const sendable = Number.isInteger(code) && isSendableCode(code);
  byId<HTMLButtonElement>('disconnect-submit').disabled = !sendable;
  name.dataset.sendable = String(sendable);
  if (!sendable) name.textContent = t(lang, 'notSendable');
  else {
    const e = explainCode(code, lang);
    name.textContent = `${e.name} · ${codeLabels(lang).reconnect[e.reconnect]}`;
  }
  const typed = byId<HTMLInputElement>('disconnect-reason').value;
  const reason = typed.trim() === '' ? DEFAULT_REASON : typed;
  const bytes = utf8Length(reason);
  const cut = truncateUtf8(reason);
  const el = byId('disconnect-bytes');
  el.dataset.over = String(bytes > MAX_CLOSE_REASON_BYTES);
  el.textContent = `${bytes}/${MAX_CLOSE_REASON_BYTES} ${t(lang, 'bytes')}` + (bytes > MAX_CLOSE_REASON_BYTES ? ` · ${t(lang, 'willBeCut', { reason: cut })}` : '');
}

function fillCodes(): void {
  const lang = page.lang;
  const codes = registeredCodes()
    .map((e) => e.from)
    .filter(isSendableCode);
  fill(byId('sendable-codes'), ...codes.map((code) => h('option', { value: code }, `${code} ${explainCode(code, lang).name}`)), h('option', { value: 4000 }, `4000 ${explainCode(4000, lang).name}`));
}

function wire(): void {
  pager = new Pager({ first: 'connections-first', next: 'connections-next', form: 'connections-filter' }, () => lastPage?.next, () => void loadList());
  byId('connections-hide-dashboards').addEventListener('change', () => {
    pager?.reset();
    void loadList();
  });
  byId('connections-refresh').addEventListener('click', () => {
    void loadList();
    if (detail.d?.state === 'open') void loadDetail();
  });
  for (const id of ['disconnect-code', 'disconnect-reason']) byId(id).addEventListener('input', describeChoice);
  byId('disconnect-form').addEventListener('submit', (event) => {
    event.preventDefault();
    if (selected === undefined) return;
    const result = byId('disconnect-result');
    const body = { connection: selected, code: Number(byId<HTMLInputElement>('disconnect-code').value), reason: byId<HTMLInputElement>('disconnect-reason').value };
    adminPost<DisconnectResult>('/admin/disconnect', body).then(
      (r) => {
        result.dataset.ok = 'true';
        result.dataset.code = String(r.code);
        say(result, page.lang, { key: r.truncated ? 'disconnectedCut' : 'disconnected', values: { connection: r.connection, code: r.code, reason: r.reason } });
        // It is gone: say so here rather than ask the server about a connection it no longer has.
        if (detail.d?.id === r.connection) detail = { d: { ...detail.d, state: 'closed' } };
        renderDetail();
        void loadList();
      },
      (error: unknown) => {
        result.dataset.ok = 'false';
        say(result, page.lang, failure(error));
      },
    );
  });
}

/** Wire the view (once). */
export function mountConnections(): void {
  wire();
  fillCodes();
}

/** The view was opened, on the list or on one connection. */
export function showConnections(item: string | undefined): void {
  if (item !== selected) {
    say(byId('disconnect-result'), page.lang, undefined);
    detail = { d: undefined };
  }
  selected = item;
  void loadList();
  void loadDetail();
}

/** Refresh the list in place (the page does this every few seconds while the view is open). */
export function refreshConnections(): void {
  void loadList();
}

/** The language changed. */
export function renderConnections(): void {
  fillCodes();
  renderList();
  renderDetail();
}
