/**
 * The channels view: channels with subscribers on the process that answers, one channel's subscriber
 * and presence counts and recent history (paged back), and a publish from the UI (through the server's
 * own publish, so it is stored and delivered like any other; `$lifeline.*` channels are refused).
 * @packageDocumentation
 */
import { API_PREFIX, isChannelName, type ChannelDetail, type ChannelRow, type ChannelsPage, type PublishResult } from '../console-api.js';
import { adminPost, failure, getJson } from './api.js';
import { byId, dateTime, fill, h, showPanel } from './dom.js';
import { say, t } from './i18n.js';
import { Pager } from './pager.js';
import { fillRows, row } from './table.js';
import { routeHash } from './router.js';
import { page } from './state.js';

let pager: Pager<string> | undefined;
/** The history's pages: each cursor is the offset to read before; the first page is the newest. */
let history: Pager<number> | undefined;
let lastPage: ChannelsPage | undefined;
let selected: string | undefined;
let detail: ChannelDetail | undefined;
/** The key of the publish being attempted: a second click before an answer stores the message once. */
let publishKey = newKey();

function newKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** A channel's presence members, or that the server keeps no presence. */
function presenceText(lang: Parameters<typeof t>[0], presence: ChannelRow['presence']): string {
  return presence.available ? t(lang, 'presenceMembers', { members: presence.members }) : t(lang, 'presenceUnavailable');
}

function renderList(): void {
  const lang = page.lang;
  const p = lastPage;
  byId('channels-source').textContent = p?.source ?? page.info?.source ?? '';
  if (!p) return;
  byId('channels-summary').textContent = t(lang, 'channelsSummary', { matched: p.matched, total: p.total, page: (pager?.index ?? 0) + 1 });
  const rows = p.rows.map((r) =>
    row(
      lang,
      { 'data-channel': r.name, 'data-subscribers': r.subscribers },
      ['channel', 'mono', h('a', { href: routeHash({ view: 'channels', item: r.name }) }, r.name), r.reserved ? h('span', { class: 'badge' }, t(lang, 'reservedBadge')) : ''],
      ['subscribers', 'num', r.subscribers],
      ['presence', 'num', presenceText(lang, r.presence)],
    ),
  );
  fillRows(byId('channels-rows'), rows, t(lang, 'noChannels'));
  pager?.update(p.next);
}

async function loadList(): Promise<void> {
  try {
    lastPage = await getJson<ChannelsPage>(`${API_PREFIX}channels`, { q: byId<HTMLInputElement>('channels-q').value.trim(), after: pager?.cursor });
  } catch (error) {
    say(byId('channels-summary'), page.lang, failure(error));
    return;
  }
  renderList();
}

function renderDetail(): void {
  const lang = page.lang;
  if (!showPanel('channel-detail', 'channel-title', 'channel', selected, t(lang, 'channel'))) return;
  const d = detail;
  if (!d) return;
  fill(
    byId('channel-facts'),
    h('dt', undefined, t(lang, 'subscribersHere')),
    h('dd', { id: 'channel-subscribers' }, d.subscribers),
    h('dt', undefined, t(lang, 'presence')),
    h('dd', { id: 'channel-presence', 'data-available': String(d.presence.available) }, presenceText(lang, d.presence)),
    h('dt', undefined, t(lang, 'headOffset')),
    h('dd', { class: 'mono' }, `${d.head} · ${t(lang, 'epoch')} ${d.epoch}`),
  );
  const messages = d.messages.map((m) =>
    row(lang, { 'data-offset': m.offset }, ['offset', 'mono num', m.offset], ['time', undefined, dateTime(m.time)], ['data', 'mono data', m.preview, m.truncated ? ` ${t(lang, 'truncated')}` : '']),
  );
  fillRows(byId('channel-history'), messages, t(lang, 'noHistory'));
  history?.update(d.next);
  const form = byId<HTMLFormElement>('publish-form');
  form.hidden = d.reserved;
  byId('publish-reserved').hidden = !d.reserved;
}

async function loadDetail(): Promise<void> {
  const name = selected;
  if (name === undefined) return renderDetail();
  try {
    const d = await getJson<ChannelDetail>(`${API_PREFIX}channel`, { name, before: history?.cursor });
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
      history?.reset();
      void loadDetail();
    },
    (error: unknown) => {
      result.dataset.ok = 'false';
      say(result, page.lang, failure(error));
    },
  );
}

function wire(): void {
  pager = new Pager({ first: 'channels-first', next: 'channels-next', form: 'channels-filter' }, () => lastPage?.next, () => void loadList());
  history = new Pager({ first: 'channel-newest', next: 'channel-older' }, () => detail?.next, () => void loadDetail());
  byId('channels-refresh').addEventListener('click', () => {
    void loadList();
    void loadDetail();
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
    history?.reset();
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
