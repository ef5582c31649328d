/**
 * A server-wide budget of bytes, shared by every connection's history replay: many replays at once are
 * as bounded as one. A replay takes a grant before it reads a page and gives it back once that page has
 * left the process (the peer's socket drained), so the bytes of history held for sending never exceed
 * the budget, however many clients ask for replay at once or how slowly they read.
 * @packageDocumentation
 */

/** Bytes held from a {@link ByteBudget}; give them back with {@link Grant.release} (idempotent). */
export interface Grant {
  /** The bytes held. */
  readonly bytes: number;
  /** Hold `bytes` instead (a page came out larger than asked for: at least one message is always read). */
  resize(bytes: number): void;
  /** Give the bytes back. */
  release(): void;
}

/** First come, first served; a request larger than the whole budget is granted when nothing else is held. */
export class ByteBudget {
  #inUse = 0;
  #peak = 0;
  #waits = 0;
  /** Requests waiting, first come first served; made at the first wait (every connection has a budget, few ever wait). */
  #queue: { bytes: number; grant: (g: Grant) => void }[] | undefined;

  /** @param limit - bytes that may be held at once, > 0 */
  constructor(readonly limit: number) {
    if (!(limit > 0)) throw new RangeError(`a byte budget needs a limit > 0, got ${limit}`);
  }

  /** Bytes held now. */
  get inUse(): number {
    return this.#inUse;
  }

  /** Most bytes ever held at once. */
  get peak(): number {
    return this.#peak;
  }

  /** Requests waiting for bytes now. */
  get waiting(): number {
    return this.#queue?.length ?? 0;
  }

  /** Requests that had to wait, in total. */
  get waits(): number {
    return this.#waits;
  }

  /** Resolve with a grant of `bytes` once they fit (or nothing else is held). */
  acquire(bytes: number): Promise<Grant> {
    if (!this.#queue?.length && this.#fits(bytes)) return Promise.resolve(this.#grant(bytes));
    this.#waits += 1;
    const queue = (this.#queue ??= []);
    return new Promise((resolve) => queue.push({ bytes, grant: resolve }));
  }

  #fits(bytes: number): boolean {
    return this.#inUse === 0 || this.#inUse + bytes <= this.limit;
  }

  #grant(initial: number): Grant {
    let held = initial;
    let released = false;
    this.#add(held);
    return {
      get bytes() {
        return held;
      },
      resize: (bytes: number) => {
        if (released) return;
        const shrunk = bytes < held;
        this.#add(bytes - held);
        held = bytes;
        if (shrunk) this.#next();
      },
      release: () => {
        if (released) return;
        released = true;
        this.#add(-held);
        this.#next();
      },
    };
  }

  #add(delta: number): void {
    this.#inUse += delta;
    if (this.#inUse > this.#peak) this.#peak = this.#inUse;
  }

  #next(): void {
    const queue = this.#queue;
    while (queue !== undefined && queue.length > 0 && this.#fits(queue[0]!.bytes)) {
      const { bytes, grant } = queue.shift()!;
      grant(this.#grant(bytes));
    }
  }
}
