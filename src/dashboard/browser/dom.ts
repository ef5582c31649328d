/**
 * The few DOM helpers the pages need: build elements (HTML and SVG) without innerHTML, so nothing
 * received over the wire is ever parsed as markup.
 * @packageDocumentation
 */

/** What may go inside an element: nodes, text, or nothing. */
export type Child = Node | string | number | null | undefined | false;

/** Attribute values: `true` sets an empty attribute, `false`/`undefined` leaves it out. */
export type Attrs = Readonly<Record<string, string | number | boolean | undefined>>;

function apply(el: Element, attrs: Attrs | undefined, children: readonly Child[]): void {
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === false) continue;
    el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === 'object' ? child : String(child));
  }
}

/** An HTML element. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  apply(el, attrs, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An SVG element. */
export function s<K extends keyof SVGElementTagNameMap>(tag: K, attrs?: Attrs, ...children: Child[]): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  apply(el, attrs, children);
  return el;
}

/** The element with this id; throws when the page lacks it (a build mistake, not a runtime condition). */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
}

/** Replace an element's content. */
export function fill(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  apply(el, undefined, children);
}

/** `12:03:04` in the viewer's time zone, from ms since the epoch. */
export function clockTime(ms: number): string {
  const d = new Date(ms);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/** The WebSocket URL of this page's server, with an optional query. */
export function sameOriginWsUrl(query = ''): string {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${location.host}/${query === '' ? '' : `?${query}`}`;
}

/** `2025-01-31 12:03:04` in the viewer's time zone. */
export function dateTime(ms: number): string {
  const d = new Date(ms);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${clockTime(ms)}`;
}

/** `512 B`, `3.4 KiB`, `120.5 MiB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** `850 ms`, `42 s`, `3 min 20 s`, `5 h 2 min`: a duration for people. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  const hours = Math.floor(m / 60);
  if (hours < 48) return `${hours} h ${m % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/** A table inside a box that scrolls sideways on a narrow screen instead of widening the page. */
export function tableWrap(table: HTMLTableElement): HTMLDivElement {
  return h('div', { class: 'table-wrap' }, table);
}

/**
 * Show the detail panel `panelId` for `item` (or hide it when undefined): the item goes in the panel's
 * `data-<key>` and `title` in its heading `titleId`. Returns whether it is shown.
 */
export function showPanel(panelId: string, titleId: string, key: string, item: string | undefined, title: string): item is string {
  const panel = byId(panelId);
  panel.hidden = item === undefined;
  if (item === undefined) return false;
  panel.dataset[key] = item;
  byId(titleId).textContent = `${title} ${item}`;
  return true;
}
