/**
 * Table rows the console's lists are made of: each cell carries its column's name (`data-label`), which
 * a phone's layout shows in front of the value when a row becomes a card; an empty list is one row
 * that says so.
 * @packageDocumentation
 */
import type { Lang } from '../../codes/index.js';
import { fill, h, type Attrs, type Child } from './dom.js';
import { t, type UiKey } from './i18n.js';

/** One cell: its column's label, its class, and what it holds. */
export type Cell = readonly [label: UiKey, cls: string | undefined, ...content: Child[]];

/** A row of labelled cells. */
export function row(lang: Lang, attrs: Attrs, ...cells: readonly Cell[]): HTMLTableRowElement {
  return h('tr', attrs, ...cells.map(([label, cls, ...content]) => h('td', { class: cls, 'data-label': t(lang, label) }, ...content)));
}

/** Put `rows` in a table body, or one row saying `empty` across every column. */
export function fillRows(body: HTMLElement, rows: readonly HTMLTableRowElement[], empty: string): void {
  if (rows.length > 0) {
    fill(body, ...rows);
    return;
  }
  const columns = body.closest('table')?.tHead?.rows[0]?.cells.length ?? 1;
  fill(body, h('tr', { class: 'none' }, h('td', { colspan: columns }, empty)));
}
