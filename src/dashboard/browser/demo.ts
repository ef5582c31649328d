/**
 * The client demo page (`lifeline serve --demo`, at `/demo`): one `lifeline.v1` session of the browser
 * build, subscribed to the demo channel. It shows every close (code, name, incident id, whether and
 * when it reconnects), the session's state and welcomes, and every channel message with its offset,
 * and checks the exactly-once promise as it goes (repeats and gaps are counted, and should stay 0).
 * In English or Chinese, like the dashboard (`?lang=`, the saved choice, or the browser's language).
 * @packageDocumentation
 */
import { RejectedError, createSession, type CloseInfo, type SessionMessage } from '../../client/index.js';
import { explainCode, type Lang } from '../../codes/index.js';
import { DEMO_CHANNEL } from '../snapshot.js';
import { byId, clockTime, fill, h, sameOriginWsUrl } from './dom.js';
import { initialLang, saveLang, sessionStateLabel, t, translate, type UiKey } from './i18n.js';

const channel = new URLSearchParams(location.search).get('channel') ?? DEMO_CHANNEL;
const session = createSession({ url: sameOriginWsUrl() });
let lang: Lang = initialLang();

/** A close as the table shows it; `backAt` is set when the next welcome arrives. */
interface CloseRow {
  readonly info: CloseInfo;
  readonly at: number;
  backAt?: number;
}

/** One line of the welcomes log, kept as data so a language switch can write it again. */
type LogLine =
  | { readonly kind: 'welcome'; readonly at: number; readonly session: string; readonly resumed: boolean; readonly recovered: boolean; readonly lost: readonly string[] }
  | { readonly kind: 'subscribed'; readonly at: number; readonly channel: string; readonly offset: number; readonly recovered: boolean }
  | { readonly kind: 'recovery'; readonly at: number; readonly lost: readonly string[] };

/** What the page has seen, also readable from the console (`lifelineDemo`). */
const seen = {
  session,
  channel,
  /** Offsets delivered, in arrival order, per epoch. */
  offsets: [] as { epoch: string; offset: number }[],
  closes: [] as CloseInfo[],
  duplicates: 0,
  gaps: 0,
};
(globalThis as { lifelineDemo?: typeof seen }).lifelineDemo = seen;

const last = new Map<string, { epoch: string; offset: number }>();
const closeRows: CloseRow[] = [];
const log: LogLine[] = [];
let pending: CloseRow | undefined;
/** The last result of the crash button, as a key and its values, so it can be said again in another language. */
let crashResult: { key: UiKey; values?: Record<string, string> } | undefined;
let publishResult: { key: UiKey; values: Record<string, string> } | { text: string } | undefined;
const MAX_ROWS = 5000;
const MAX_LOG = 200;
const MAX_CLOSES = 500;

function setText(id: string, text: string | number): void {
  byId(id).textContent = String(text);
}

function codeName(c: CloseInfo): string {
  try {
    return explainCode(c.code, lang).name;
  } catch {
    return c.name;
  }
}

function closeRow(r: CloseRow): HTMLTableRowElement {
  const c = r.info;
  const label = (key: UiKey): string => t(lang, key);
  return h(
    'tr',
    {
      'data-at': r.at,
      'data-code': c.code,
      'data-incident': c.incident,
      'data-will-reconnect': String(c.willReconnect),
      'data-delay-ms': c.delayMs === undefined ? undefined : Math.round(c.delayMs),
      'data-back-after-ms': r.backAt === undefined ? undefined : r.backAt - r.at,
      'data-back-at': r.backAt,
    },
    h('td', { 'data-label': label('time') }, clockTime(r.at)),
    h('td', { class: 'mono code', 'data-label': label('code') }, c.code),
    h('td', { 'data-label': label('name') }, codeName(c)),
    h('td', { class: 'mono incident', 'data-label': label('incident') }, c.incident ?? ''),
    h('td', { 'data-label': label('demoReconnect') }, label(c.willReconnect ? 'yes' : 'no')),
    h('td', { class: 'delay', 'data-label': label('demoDelay') }, c.delayMs === undefined ? '' : `${Math.round(c.delayMs)} ms`),
    h('td', { class: 'back', 'data-label': label('demoBackAfter') }, r.backAt === undefined ? '' : `${r.backAt - r.at} ms`),
    h('td', { class: 'reason', 'data-label': label('reason') }, c.reason),
  );
}

function logLine(line: LogLine): HTMLLIElement {
  const time = clockTime(line.at);
  const yesNo = (v: boolean): string => t(lang, v ? 'yes' : 'no');
  if (line.kind === 'welcome') {
    const lost = line.lost.length > 0 ? t(lang, 'demoLost', { channels: line.lost.join(', ') }) : '';
    return h('li', { 'data-resumed': String(line.resumed), 'data-recovered': String(line.recovered) }, `${time} ${t(lang, 'demoWelcome', { session: line.session, resumed: yesNo(line.resumed), recovered: yesNo(line.recovered), lost })}`);
  }
  if (line.kind === 'subscribed') {
    return h('li', { 'data-subscribed': line.channel, 'data-offset': line.offset, 'data-recovered': String(line.recovered) }, `${time} ${t(lang, 'demoSubscribed', { channel: line.channel, offset: line.offset, recovered: yesNo(line.recovered) })}`);
  }
  return h('li', { class: 'anomaly', 'data-recovery': line.lost.join(' ') }, `${time} ${t(lang, 'demoRecovery', { channels: line.lost.join(', ') })}`);
}

function renderCloses(): void {
  fill(byId('closes'), ...[...closeRows].reverse().map(closeRow));
}

function renderLog(): void {
  fill(byId('welcomes'), ...[...log].reverse().map(logLine));
}

function addLog(line: LogLine): void {
  log.push(line);
  if (log.length > MAX_LOG) log.shift();
  byId('welcomes').prepend(logLine(line));
  if (byId('welcomes').childElementCount > MAX_LOG) byId('welcomes').lastElementChild?.remove();
}

function renderResults(): void {
  byId('crash-result').textContent = crashResult ? t(lang, crashResult.key, crashResult.values) : '';
  byId('publish-result').textContent = publishResult === undefined ? '' : 'text' in publishResult ? publishResult.text : t(lang, publishResult.key, publishResult.values);
}

function onState(): void {
  const el = byId('state');
  el.textContent = sessionStateLabel(lang, session.state);
  el.dataset.state = session.state;
}

function onClose(c: CloseInfo): void {
  seen.closes.push(c);
  const row: CloseRow = { info: c, at: Date.now() };
  closeRows.push(row);
  byId('closes').prepend(closeRow(row));
  if (closeRows.length > MAX_CLOSES) {
    closeRows.shift();
    byId('closes').lastElementChild?.remove();
  }
  pending = c.willReconnect ? row : undefined;
  if (!c.willReconnect && c.diagnosis) setText('diagnosis', c.diagnosis);
}

function onMessage(m: SessionMessage): void {
  const before = last.get(m.channel);
  let note = '';
  if (before && before.epoch === m.epoch) {
    if (m.offset <= before.offset) {
      seen.duplicates += 1;
      note = t(lang, 'demoRepeat');
    } else if (m.offset !== before.offset + 1) {
      seen.gaps += 1;
      note = t(lang, 'demoGapAfter', { offset: before.offset });
    }
  }
  last.set(m.channel, { epoch: m.epoch, offset: m.offset });
  seen.offsets.push({ epoch: m.epoch, offset: m.offset });
  const list = byId('messages');
  list.append(
    h('li', { 'data-offset': m.offset, 'data-epoch': m.epoch, 'data-channel': m.channel, class: note === '' ? undefined : 'anomaly' }, h('span', { class: 'mono offset' }, `#${m.offset}`), ' ', JSON.stringify(m.data), note === '' ? '' : ` (${note})`),
  );
  if (list.childElementCount > MAX_ROWS) list.firstElementChild?.remove();
  list.scrollTop = list.scrollHeight;
  setText('count-received', seen.offsets.length);
  setText('count-duplicates', seen.duplicates);
  setText('count-gaps', seen.gaps);
}

function renderLocalised(): void {
  document.documentElement.lang = lang === 'zh' ? 'zh-Hans' : 'en';
  document.title = t(lang, 'demoTitle');
  translate(document, lang);
  document.querySelectorAll<HTMLButtonElement>('[data-lang]').forEach((b) => b.setAttribute('aria-pressed', String(b.dataset.lang === lang)));
  if (byId('last-error').dataset.error === undefined) setText('last-error', t(lang, 'none'));
  onState();
  renderCloses();
  renderLog();
  renderResults();
}

session.on('state', onState);
session.on('close', onClose);
session.on('welcome', (w) => {
  setText('session', w.session);
  addLog({ kind: 'welcome', at: Date.now(), session: w.session, resumed: w.resumed, recovered: w.recovered, lost: w.lost });
  if (pending) {
    pending.backAt = Date.now();
    const rows = byId('closes').querySelectorAll('tr');
    const index = closeRows.length - 1 - closeRows.indexOf(pending);
    rows[index]?.replaceWith(closeRow(pending));
    pending = undefined;
  }
});
session.on('subscribed', (sub) => addLog({ kind: 'subscribed', at: Date.now(), channel: sub.channel, offset: sub.offset, recovered: sub.recovered }));
session.on('recovery', (r) => addLog({ kind: 'recovery', at: Date.now(), lost: r.lost }));
session.on('message', onMessage);
session.on('error', (e) => {
  byId('last-error').dataset.error = 'true';
  setText('last-error', `${e.name}: ${e.message}`);
});
// A member of the channel's presence too: the dashboard's channel view counts the demo pages there.
session.subscribe(channel, { presence: { info: { page: 'demo' } } });
setText('channel', channel);
onState();

byId('crash').addEventListener('click', () => {
  crashResult = { key: 'demoCrashSent' };
  renderResults();
  // The message stays pending over the 1011; its resend is refused (the handler failed on it before).
  session.send('crash').then(
    () => {
      crashResult = { key: 'demoNoCrash' };
      renderResults();
    },
    (error: unknown) => {
      crashResult =
        error instanceof RejectedError
          ? { key: 'demoResendRefused', values: { reason: error.protocolCode, incident: error.incident ? ` (${t(lang, 'incident')} ${error.incident})` : '' } }
          : { key: 'failed', values: { message: String(error) } };
      renderResults();
    },
  );
});

byId('publish-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = byId<HTMLInputElement>('publish-text');
  const text = input.value;
  input.value = '';
  session.publish(channel, { text }).then(
    (r) => {
      publishResult = { key: 'demoStoredAt', values: { offset: String(r.offset) } };
      renderResults();
    },
    (error: unknown) => {
      publishResult = { text: String(error) };
      renderResults();
    },
  );
});

document.querySelectorAll<HTMLButtonElement>('[data-lang]').forEach((b) => {
  b.addEventListener('click', () => {
    const next: Lang = b.dataset.lang === 'zh' ? 'zh' : 'en';
    if (next === lang) return;
    lang = next;
    saveLang(lang);
    renderLocalised();
  });
});

renderLocalised();
document.body.dataset.ready = 'true';
