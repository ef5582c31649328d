/**
 * When the SQLite engine cannot serve: which failures say so (as opposed to refusing one operation),
 * and the probe that learns when it can again.
 * @packageDocumentation
 */
import { LifelineError } from '../../errors.js';
import { Availability } from '../availability.js';
import { StoreError, StoreUnavailableError } from '../errors.js';

/** SQLite result codes meaning the engine cannot serve (as opposed to refusing one operation). */
const UNAVAILABLE = /^SQLITE_(IOERR|FULL|CANTOPEN|BUSY|LOCKED|READONLY|CORRUPT|NOTADB|PROTOCOL|NOMEM|NOLFS|PERM|AUTH)/;

/**
 * Turn a better-sqlite3 failure into a store error: {@link StoreUnavailableError} when its code says the
 * engine cannot serve (a full disk, an I/O error, a lock that did not clear), else {@link StoreError}.
 * The contract's own errors and argument errors pass unchanged.
 */
export function sqliteStoreError(error: unknown, what: string): Error {
  if (error instanceof LifelineError || error instanceof TypeError || error instanceof RangeError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const detail = error instanceof Error ? error.message : String(error);
  if (typeof code === 'string' && UNAVAILABLE.test(code)) {
    return new StoreUnavailableError(`sqlite store: ${what} failed: ${detail}`, { cause: error });
  }
  return new StoreError(`sqlite store: ${what} failed: ${detail}`, { cause: error });
}

/**
 * The engine's availability: up from the start; down once a write failed because the engine cannot
 * serve, then a tiny write every `intervalMs` until one succeeds (space freed, the disk back).
 */
export class WriteProbe {
  /** The flag and its listeners. */
  readonly availability = new Availability(true);
  readonly #probeWrite: () => void;
  readonly #intervalMs: number;
  readonly #path: string;
  #timer: ReturnType<typeof setInterval> | undefined;

  /**
   * @param probeWrite - a small write that throws while the engine cannot serve
   * @param intervalMs - how often to try it while down
   * @param path - the database file, for the reason given when it is back
   */
  constructor(probeWrite: () => void, intervalMs: number, path: string) {
    this.#probeWrite = probeWrite;
    this.#intervalMs = intervalMs;
    this.#path = path;
  }

  /** A write failed because the engine cannot serve: turn unavailable and start probing. */
  lost(reason: string): void {
    if (!this.availability.up) return;
    this.availability.set(false, reason);
    this.#timer = setInterval(() => {
      try {
        this.#probeWrite();
      } catch {
        return;
      }
      this.stop();
      this.availability.set(true, `sqlite store: ${this.#path} accepts writes again`);
    }, this.#intervalMs);
    this.#timer.unref();
  }

  /** Stop probing (the store closes). */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
