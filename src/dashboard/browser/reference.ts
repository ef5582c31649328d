/**
 * The close-code reference and the side-by-side comparison, straight from the registry
 * (`registryEntries`, `explainCode`, `compareCodes`, `codeLabels`), in English or Chinese.
 * @packageDocumentation
 */
import { codeLabels, compareCodes, explainCode, registryEntries, type Explanation, type Lang } from '../../codes/index.js';
import { h, type Child } from './dom.js';
import { t } from './i18n.js';

function codeCell(from: number, to: number): string {
  return from === to ? String(from) : `${from}–${to}`;
}

/** The whole registry as a table: one row per registered code or range, details folded. */
export function renderReference(container: Element, lang: Lang): void {
  const labels = codeLabels(lang);
  const rows = registryEntries().map((entry) => {
    const e = explainCode(entry.from, lang);
    return h(
      'tr',
      { 'data-code': entry.from, 'data-reconnect': e.reconnect, class: entry.kind === 'registered' ? 'registered' : 'range' },
      h('td', { class: 'code' }, codeCell(entry.from, entry.to)),
      h(
        'td',
        undefined,
        h(
          'details',
          undefined,
          h('summary', { class: 'name' }, e.name),
          h('dl', undefined, ...detailItems(e, lang)),
          h('p', { class: 'source' }, e.source),
        ),
      ),
      h('td', undefined, labels.sender[e.sender]),
      h('td', undefined, h('span', { class: `reaction ${e.reconnect}` }, labels.reconnect[e.reconnect])),
      h('td', undefined, e.summary),
    );
  });
  container.replaceChildren(
    h(
      'table',
      { class: 'reference', lang: lang === 'zh' ? 'zh-Hans' : 'en' },
      h('thead', undefined, h('tr', undefined, ...(['code', 'name', 'sender', 'reaction', 'summary'] as const).map((k) => h('th', undefined, t(lang, k))))),
      h('tbody', undefined, ...rows),
    ),
  );
}

function detailItems(e: Explanation, lang: Lang): Child[] {
  return [h('dt', undefined, t(lang, 'description')), h('dd', undefined, e.description), h('dt', undefined, t(lang, 'when')), h('dd', undefined, e.when), h('dt', undefined, t(lang, 'fix')), h('dd', undefined, e.fix)];
}

function side(e: Explanation, lang: Lang, id: string): HTMLElement {
  const labels = codeLabels(lang);
  return h(
    'article',
    { id, class: 'side', 'data-code': e.code },
    h('h3', undefined, `${e.code} ${e.name}`),
    h('p', { class: 'meta' }, `${labels.sender[e.sender]} · ${labels.reconnect[e.reconnect]} · ${t(lang, 'onWire')}: ${e.onWire ? labels.wire.yes : labels.wire.no}`),
    h('dl', undefined, ...detailItems(e, lang)),
  );
}

/**
 * Compare two codes into `container`: the two codes side by side (what each means, when it happens,
 * how to fix it), the main difference, and which to use — each paragraph once. The comparison's
 * "when you meet each" and the per-code half of "what to do" repeat what the sides already say, so
 * only the lines that add something (which to send, which is never sent) are shown under the sides.
 * Any value the registry rejects (not an integer in 0..4999) is reported in place instead.
 */
export function renderComparison(container: Element, a: string, b: string, lang: Lang): void {
  let comparison;
  try {
    comparison = compareCodes(Number(a.trim() === '' ? NaN : a), Number(b.trim() === '' ? NaN : b), lang);
  } catch (error) {
    container.replaceChildren(h('p', { class: 'error', id: 'compare-error' }, error instanceof Error ? error.message : String(error)));
    return;
  }
  const fixes = [comparison.a.fix, comparison.b.fix];
  const advice = comparison.whatToDo.split('\n').filter((line) => line.trim() !== '' && !fixes.some((fix) => line.includes(fix)));
  container.replaceChildren(
    h('div', { class: 'sides' }, side(comparison.a, lang, 'compare-a'), side(comparison.b, lang, 'compare-b')),
    h('section', { id: 'compare-difference', class: 'verdict' }, h('h3', undefined, t(lang, 'difference')), h('p', { class: 'text' }, comparison.difference)),
    ...(advice.length === 0 ? [] : [h('section', { id: 'compare-todo', class: 'verdict' }, h('h3', undefined, t(lang, 'whichToUse')), ...advice.map((line) => h('p', undefined, line)))]),
  );
}
