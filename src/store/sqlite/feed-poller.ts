/**
 * The polling loop both cross-process feeds on one SQLite file share (the fan-out feed, `fanout.ts`,
 * and the presence feed, `presence-feed.ts`): a timer that looks every `intervalMs` while someone
 * listens, reads a backlog in batches, never keeps the process alive, and survives a failed look.
 * @packageDocumentation
 */

/** What one feed gives its poller. */
export interface FeedSource<Row> {
  /** How often to look, in ms. */
  readonly intervalMs: number;
  /** Most rows one look returns: a full batch means more may wait. */
  readonly batch: number;
  /** Whether anyone listens (no listener: no timer). */
  readonly listening: () => boolean;
  /** One look at the feed, in one read snapshot: the next rows to hand out. */
  readonly look: () => Row[];
  /** Hand out rows, in feed order. */
  readonly handOut: (rows: readonly Row[]) => void;
}

/** The timer and the batch loop of one feed. */
export class FeedPoller<Row> {
  readonly #source: FeedSource<Row>;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  /** @param source - the feed's look, hand-out and listener count */
  constructor(source: FeedSource<Row>) {
    this.#source = source;
  }

  /** Closed for good (the store closed). */
  get closed(): boolean {
    return this.#closed;
  }

  /** A look is scheduled. */
  get scheduled(): boolean {
    return this.#timer !== undefined;
  }

  /** Look again after the interval (nothing when closed, nobody listens, or a look is already due). */
  schedule(): void {
    if (this.#closed || this.#timer !== undefined || !this.#source.listening()) return;
    this.#timer = setTimeout(() => this.tick(), this.#source.intervalMs);
    // A watcher never keeps the process alive by itself.
    this.#timer.unref();
  }

  /** Cancel the next look (the last listener left). */
  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Stop for good. */
  close(): void {
    this.#closed = true;
    this.stop();
  }

  /** Look now: read and hand out the whole backlog, batch by batch, then schedule the next look. */
  tick(): void {
    this.stop();
    const { look, handOut, batch, listening } = this.#source;
    try {
      for (;;) {
        const rows = look();
        if (rows.length === 0) break;
        handOut(rows);
        if (rows.length < batch || this.#closed || !listening()) break;
      }
    } catch {
      // A lock that did not clear, the disk: nothing was handed out past the last row handed out, so
      // the next look reads from the same place. The store's own operations report the engine's state.
    }
    this.schedule();
  }
}
