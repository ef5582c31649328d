/**
 * The client demo page (`lifeline serve --demo`, at `/demo`): one `lifeline.v1` session of the browser
 * build, subscribed to the demo channel. It shows every close (code, name, incident id, whether and
 * when it reconnects), the session's state and welcomes, and every channel message with its offset,
 * and checks the exactly-once promise as it goes (repeats and gaps are counted, and should stay 0).
 * @packageDocumentation
 */
import { RejectedError, createSession, type CloseInfo, type SessionMessage } from '../../client/index.js';
import { DEMO_CHANNEL } from '../snapshot.js';
import { byId, clockTime, h, sameOriginWsUrl } from './dom.js';

const channel = new URLSearchParams(location.search).get('channel') ?? DEMO_CHANNEL;
const session = createSession({ url: sameOriginWsUrl() });

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
let pendingClose: { row: HTMLTableRowElement; at: number } | undefined;
const MAX_ROWS = 5000;

function setText(id: string, text: string | number): void {
  byId(id).textContent = String(text);
}

function onState(): void {
  const el = byId('state');
  el.textContent = session.state;
  el.dataset.state = session.state;
}

function onClose(c: CloseInfo): void {
  seen.closes.push(c);
  const row = h(
    'tr',
    { 'data-at': Date.now(), 'data-code': c.code, 'data-incident': c.incident, 'data-will-reconnect': String(c.willReconnect), 'data-delay-ms': c.delayMs === undefined ? undefined : Math.round(c.delayMs) },
    h('td', undefined, clockTime(Date.now())),
    h('td', { class: 'mono code' }, c.code),
    h('td', undefined, c.name),
    h('td', { class: 'mono incident' }, c.incident ?? ''),
    h('td', undefined, c.willReconnect ? 'yes' : 'no'),
    h('td', { class: 'delay' }, c.delayMs === undefined ? '' : `${Math.round(c.delayMs)} ms`),
    h('td', { class: 'back' }, ''),
    h('td', { class: 'reason' }, c.reason),
  );
  byId('closes').prepend(row);
  pendingClose = c.willReconnect ? { row, at: Date.now() } : undefined;
  if (!c.willReconnect && c.diagnosis) setText('diagnosis', c.diagnosis);
}

function onMessage(m: SessionMessage): void {
  const before = last.get(m.channel);
  let note = '';
  if (before && before.epoch === m.epoch) {
    if (m.offset <= before.offset) {
      seen.duplicates += 1;
      note = 'repeat';
    } else if (m.offset !== before.offset + 1) {
      seen.gaps += 1;
      note = `gap after ${before.offset}`;
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

session.on('state', onState);
session.on('close', onClose);
session.on('welcome', (w) => {
  setText('session', w.session);
  byId('welcomes').prepend(h('li', { 'data-resumed': String(w.resumed), 'data-recovered': String(w.recovered) }, `${clockTime(Date.now())} welcome: session ${w.session}, resumed ${w.resumed}, recovered ${w.recovered}${w.lost.length ? `, lost ${w.lost.join(', ')}` : ''}`));
  if (pendingClose) {
    const ms = Date.now() - pendingClose.at;
    pendingClose.row.dataset.backAfterMs = String(ms);
    pendingClose.row.dataset.backAt = String(Date.now());
    const cell = pendingClose.row.querySelector('.back');
    if (cell) cell.textContent = `${ms} ms`;
    pendingClose = undefined;
  }
});
session.on('subscribed', (sub) => {
  byId('welcomes').prepend(h('li', { 'data-subscribed': sub.channel, 'data-offset': sub.offset, 'data-recovered': String(sub.recovered) }, `${clockTime(Date.now())} subscribed to ${sub.channel} after offset ${sub.offset}, recovered ${sub.recovered}`));
});
session.on('recovery', (r) => {
  byId('welcomes').prepend(h('li', { class: 'anomaly', 'data-recovery': r.lost.join(' ') }, `${clockTime(Date.now())} recovery: lost ${r.lost.join(', ')}`));
});
session.on('message', onMessage);
session.on('error', (e) => setText('last-error', `${e.name}: ${e.message}`));
session.subscribe(channel);
setText('channel', channel);
onState();

byId('crash').addEventListener('click', () => {
  const result = byId('crash-result');
  result.textContent = 'sent "crash": the handler throws, the server closes this connection with 1011…';
  // The message stays pending over the 1011; its resend is refused (the handler failed on it before).
  session.send('crash').then(
    () => {
      result.textContent = 'the handler ran without crashing';
    },
    (error: unknown) => {
      result.textContent = error instanceof RejectedError ? `resend refused: ${error.reason}${error.incident ? ` (incident ${error.incident})` : ''}` : String(error);
    },
  );
});

byId('publish-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = byId<HTMLInputElement>('publish-text');
  const text = input.value;
  input.value = '';
  session.publish(channel, { text }).then(
    (r) => setText('publish-result', `stored at offset ${r.offset}`),
    (error: unknown) => setText('publish-result', String(error)),
  );
});

document.body.dataset.ready = 'true';
