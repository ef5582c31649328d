/**
 * Paging through a console list: the cursors of the pages seen so far (the first page has none), the
 * buttons to go back to the first page and on to the next, and a filter form that starts over.
 * @packageDocumentation
 */
import { byId } from './dom.js';

/** The element ids a pager drives. */
export interface PagerControls {
  /** Back to the first (newest) page. */
  readonly first: string;
  /** On to the next (older) page. */
  readonly next: string;
  /** A form whose submit starts over from the first page. */
  readonly form?: string;
}

/** The cursors of one list. */
export class Pager<C extends string | number> {
  #cursors: (C | undefined)[] = [undefined];
  #index = 0;
  readonly #controls: PagerControls;

  /**
   * @param controls - the buttons (and filter form) to wire
   * @param nextCursor - the cursor the page on screen gives for the next one (null on the last page)
   * @param load - fetch and draw the current page
   */
  constructor(controls: PagerControls, nextCursor: () => C | null | undefined, load: () => void) {
    this.#controls = controls;
    if (controls.form !== undefined) {
      byId(controls.form).addEventListener('submit', (event) => {
        event.preventDefault();
        this.reset();
        load();
      });
    }
    byId(controls.first).addEventListener('click', () => {
      this.#index = 0;
      load();
    });
    byId(controls.next).addEventListener('click', () => {
      const next = nextCursor();
      if (next === null || next === undefined) return;
      this.#cursors = [...this.#cursors.slice(0, this.#index + 1), next];
      this.#index += 1;
      load();
    });
  }

  /** The cursor of the page to fetch (undefined: the first). */
  get cursor(): C | undefined {
    return this.#cursors[this.#index];
  }

  /** Which page, from 0. */
  get index(): number {
    return this.#index;
  }

  /** Start over from the first page (the filter changed). */
  reset(): void {
    this.#cursors = [undefined];
    this.#index = 0;
  }

  /** Enable the buttons that lead somewhere, given the page on screen's next cursor. */
  update(next: C | null | undefined): void {
    byId<HTMLButtonElement>(this.#controls.next).disabled = next === null || next === undefined;
    byId<HTMLButtonElement>(this.#controls.first).disabled = this.#index === 0;
  }
}
