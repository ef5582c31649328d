/**
 * The channels view: channels with subscribers on the process that answers, one channel's subscriber
 * and presence counts and recent history (paged back), and a publish from the UI (through the server's
 * own publish, so it is stored and delivered like any other; `$lifeline.*` channels are refused).
 * @packageDocumentation
 */
import { API_PREFIX, isChannelName, type ChannelDetail, type ChannelsPage, type PublishResult } from '../console-api.js';
import { adminPost, failure, getJson } from './api.js';
import { byId, dateTime, fill, h } from './dom.js';
import { say, t } from './i18n.js';
import { routeHash } from './router.js';
import { page } from './state.js';

let cursors: string[] = [''];
let pageIndex = 0;
let lastPage: ChannelsPage | undefined;
let selected: string | undefined;
/** Offsets to read before, per page of the history: the first page is the newest. */
let historyCursors: (number | undefined)[] = [undefined];
let historyIndex = 0;
let detail: ChannelDetail | undefined;
/** The key of the publish being attempted: a second click before an answer stores the message once. */
let publishKey = newKey();

function newKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function renderList(): void {
  const lang = page.lang;
  const p = lastPage;
  byId('channels-source').textContent = p?.source ?? page.info?.source ?? '';
  if (!p) return;
  byId('channels-summary').textContent = t(lang, 'channelsSummary', { matched: p.matched, total: p.total, page: pageIndex + 1 });
  if (p.rows.length === 0) fill(byId('channels-rows'), h('tr', { class: 'none' }, h('td', { colspan: 3 }, t(lang, 'noChannels'))));
  else
    fill(
      byId('channels-rows'),
      ...p.rows.map((r) =>
        h(
          'tr',
          { 'data-channel': r.name, 'data-subscribers': r.subscribers },
          h('td', { class: 'mono', 'data-label': t(lang, 'channel') }, h('a', { href: routeHash({ view: 'channels', item: r.name }) }, r.name), r.reserved ? h('span', { class: 'badge' }, t(lang, 'reservedBadge')) : ''),
          h('td', { class: 'num', 'data-label': t(lang, 'subscribers') }, r.subscribers),
          h('td', { 'data-label': t(lang, 'presence') }, t(lang, 'presenceUnavailable')),
        ),
      ),
    );
  byId<HTMLButtonElement>('channels-next').disabled = p.next === null;
  byId<HTMLButtonElement>('channels-first').disabled = pageIndex === 0;
}

async function loadList(): Promise<void> {
  try {
    lastPage = await getJson<ChannelsPage>(`${API_PREFIX}channels`, { q: byId<HTMLInputElement>('channels-q').value.trim(), after: cursors[pageIndex] });
  } catch (error) {
    say(byId('channels-summary'), page.lang, failure(error));
    return;
  }
  renderList();
}

function renderDetail(): void {
  const lang = page.lang;
  const panel = byId('channel-detail');
  panel.hidden = selected === undefined;
  if (selected === undefined) return;
  panel.dataset.channel = selected;
  byId('channel-title').textContent = `${t(lang, 'channel')} ${selected}`;
  const d = detail;
  if (!d) return;
  fill(
    byId('channel-facts'),
    h('dt', undefined, t(lang, 'subscribersHere')),
    h('dd', { id: 'channel-subscribers' }, d.subscribers),
    h('dt', undefined, t(lang, 'presence')),
    // A place for the presence counts: the server has no presence API yet (issue 17, part 1).
    h('dd', { id: 'channel-presence', 'data-available': String(d.presence.available) }, d.presence.available ? String(d.presence.members) : t(lang, 'presenceUnavailable')),
    h('dt', undefined, t(lang, 'headOffset')),
    h('dd', { class: 'mono' }, `${d.head} · ${t(lang, 'epoch')} ${d.epoch}`),
  );
  if (d.messages.length === 0) fill(byId('channel-history'), h('tr', { class: 'none' }, h('td', { colspan: 3 }, t(lang, 'noHistory'))));
  else
    fill(
      byId('channel-history'),
      ...d.messages.map((m) =>
        h(
          'tr',
          { 'data-offset': m.offset },
          h('td', { class: 'mono num', 'data-label': t(lang, 'offset') }, m.offset),
          h('td', { 'data-label': t(lang, 'time') }, dateTime(m.time)),
          h('td', { class: 'mono data', 'data-label': t(lang, 'data') }, m.preview, m.truncated ? ` ${t(lang, 'truncated')}` : ''),
        ),
      ),
    );
  byId<HTMLButtonElement>('channel-older').disabled = d.next === null;
  byId<HTMLButtonElement>('channel-newest').disabled = historyIndex === 0;
  const form = byId<HTMLFormElement>('publish-form');
  form.hidden = d.reserved;
  byId('publish-reserved').hidden = !d.reserved;
}

async function loadDetail(): Promise<void> {
  const name = selected;
  if (name === undefined) return renderDetail();
  try {
    const d = await getJson<ChannelDetail>(`${API_PREFIX}channel`, { name, before: historyCursors[historyIndex] });
    if (name !== selected) return;
    detail = d;
    say(byId('channel-error'), page.lang, undefined);
    renderDetail();
  } catch (error) {
    if (name !== selected) return;
    detail = undefined;
    fill(byId('channel-facts'));
    fill(byId('channel-history'));
    say(byId('channel-error'), page.lang, failure(error));
    renderDetail();
  }
}

function publish(): void {
  const result = byId('publish-result');
  const name = selected;
  if (name === undefined) return;
  let data: unknown;
  try {
    data = JSON.parse(byId<HTMLTextAreaElement>('publish-data').value);
  } catch (error) {
    result.dataset.ok = 'false';
    say(result, page.lang, { key: 'badJson', values: { message: error instanceof Error ? error.message : String(error) } });
    return;
  }
  adminPost<PublishResult>('/admin/publish', { channel: name, data, idempotencyKey: publishKey }).then(
    (r) => {
      publishKey = newKey();
      result.dataset.ok = 'true';
      result.dataset.offset = String(r.offset);
      say(result, page.lang, { key: 'publishedAt', values: { channel: r.channel, offset: r.offset } });
      historyCursors = [undefined];
      historyIndex = 0;
      void loadDetail();
    },
    (error: unknown) => {
      result.dataset.ok = 'false';
      say(result, page.lang, failure(error));
    },
  );
}

function wire(): void {
  byId('channels-filter').addEventListener('submit', (event) => {
    event.preventDefault();
    cursors = [''];
    pageIndex = 0;
    void loadList();
  });
  byId('channels-refresh').addEventListener('click', () => {
    void loadList();
    void loadDetail();
  });
  byId('channels-first').addEventListener('click', () => {
    pageIndex = 0;
    void loadList();
  });
  byId('channels-next').addEventListener('click', () => {
    const next = lastPage?.next;
    if (next === null || next === undefined) return;
    cursors = [...cursors.slice(0, pageIndex + 1), next];
    pageIndex += 1;
    void loadList();
  });
  byId('channel-open').addEventListener('submit', (event) => {
    event.preventDefault();
    const name = byId<HTMLInputElement>('channel-name').value.trim();
    if (!isChannelName(name)) {
      say(byId('channel-open-error'), page.lang, { key: 'badChannel' });
      return;
    }
    say(byId('channel-open-error'), page.lang, undefined);
    location.hash = routeHash({ view: 'channels', item: name });
  });
  byId('channel-older').addEventListener('click', () => {
    const next = detail?.next;
    if (next === null || next === undefined) return;
    historyCursors = [...historyCursors.slice(0, historyIndex + 1), next];
    historyIndex += 1;
    void loadDetail();
  });
  byId('channel-newest').addEventListener('click', () => {
    historyIndex = 0;
    void loadDetail();
  });
  byId('publish-data').addEventListener('input', () => {
    publishKey = newKey();
  });
  byId('publish-form').addEventListener('submit', (event) => {
    event.preventDefault();
    publish();
  });
}

/** Wire the view (once). */
export function mountChannels(): void {
  wire();
}

/** The view was opened, on the list or on one channel. */
export function showChannels(item: string | undefined): void {
  if (item !== selected) {
    historyCursors = [undefined];
    historyIndex = 0;
    detail = undefined;
    say(byId('publish-result'), page.lang, undefined);
  }
  selected = item;
  if (item !== undefined) byId<HTMLInputElement>('channel-name').value = item;
  void loadList();
  void loadDetail();
}

/** Refresh the list in place (the page does this every few seconds while the view is open). */
export function refreshChannels(): void {
  void loadList();
}

/** The language changed. */
export function renderChannels(): void {
  renderList();
  renderDetail();
}
