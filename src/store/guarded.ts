/**
 * The guard every engine sits behind: a {@link GuardedStore} turns an engine's {@link StoreCore} into a
 * {@link Store}. Whatever is the same for every engine happens here, once:
 *
 * - the closed check: after `close`, every operation rejects with `StoreUnavailableError`;
 * - the argument checks: a bad argument rejects with `TypeError` or `RangeError` before the engine
 *   sees it (the caller's mistake, never a store error);
 * - the clock: read once per operation, checked, and handed to the core;
 * - the automatic sweep: due at the start of a write once {@link AUTO_SWEEP_INTERVAL_MS} have passed
 *   since the last sweep *started* (automatic or called), and never while an automatic one still runs.
 *
 * Why the time is marked when a sweep starts, not when it ends: a sweep that fails (a full disk, Redis
 * away) or runs long must not be started again by every write meanwhile; marked at the start, sweeps
 * start at most once per interval whatever they cost, and a called `sweep()` counts like an automatic one.
 * @packageDocumentation
 */
import { StoreUnavailableError } from './errors.js';
import { checkAppendOptions, checkChannel, checkClaimOptions, checkId, checkLimit, checkMessageId, checkOutcome, checkPosition, checkReadOptions, checkSession, checkSessionPatch } from './checks.js';
import type { StoreCore } from './core.js';
import { GuardedPresence } from './guarded-presence.js';
import { AUTO_SWEEP_INTERVAL_MS, readClock, type ResolvedStoreOptions } from './options.js';
import { encodeData } from './records.js';
import type { AppendOptions, AppendResult, ChannelPosition, ClaimOptions, ClaimResult, JsonValue, MessageOutcome, PresenceStore, ReadOptions, ReadResult, SessionPatch, SessionRecord, Store, StoreStats } from './types.js';

/**
 * A {@link Store} made of an engine's core and the guard around it. The engines' public classes
 * (`MemoryStore`, `SqliteStore`, `RedisStore`) extend it and add what is theirs (a path, a prefix,
 * availability, `watch`).
 */
export abstract class GuardedStore implements Store {
  /** Engine name, e.g. `memory`, `sqlite`, `redis`. */
  abstract readonly kind: string;
  /** Whether history, sessions and dedupe records survive a process restart. */
  abstract readonly durable: boolean;

  readonly #core: StoreCore;
  readonly #now: () => number;
  #closed = false;
  /** When the last sweep started, by the store's clock. */
  #lastSweep = -Infinity;
  /** Whether an automatic sweep is still running in the background. */
  #sweeping = false;

  /**
   * Only the engines' classes construct the guard (it is not exported from any entry point).
   * @param core - the engine
   * @param options - the resolved options (the clock is taken from them)
   */
  protected constructor(core: StoreCore, options: ResolvedStoreOptions) {
    this.#core = core;
    this.#now = options.now;
    if (core.presence) this.presence = new GuardedPresence(core.presence, { assertOpen: () => this.assertOpen(), now: options.now });
  }

  /** Presence records, when the engine keeps them; see {@link Store.presence}. */
  readonly presence?: PresenceStore;

  /** Whether {@link GuardedStore.close} was called. @internal */
  protected get closed(): boolean {
    return this.#closed;
  }

  /** Append a message; see {@link Store.append}. */
  async append(channel: string, data: JsonValue, options?: AppendOptions): Promise<AppendResult> {
    this.assertOpen();
    checkChannel(channel);
    checkAppendOptions(options);
    const json = encodeData(data);
    return this.#core.append(channel, data, json, options, this.#beginWrite());
  }

  /** Read history after a position; see {@link Store.read}. */
  async read(channel: string, from: ChannelPosition | undefined, limit: number, options?: ReadOptions): Promise<ReadResult> {
    this.assertOpen();
    checkChannel(channel);
    if (from !== undefined) checkPosition(from);
    checkLimit(limit);
    checkReadOptions(options);
    const now = readClock(this.#now);
    if (from === undefined) return { messages: [], complete: true, more: false, head: await this.#core.head(channel) };
    return this.#core.read(channel, from, limit, options?.maxBytes ?? Infinity, now);
  }

  /** A channel's epoch and newest offset; see {@link Store.head}. */
  async head(channel: string): Promise<ChannelPosition> {
    this.assertOpen();
    checkChannel(channel);
    return this.#core.head(channel);
  }

  /** Create or replace a session; see {@link Store.saveSession}. */
  async saveSession(session: SessionRecord): Promise<void> {
    this.assertOpen();
    checkSession(session);
    return this.#core.saveSession(session, this.#beginWrite());
  }

  /** Change a stored session; see {@link Store.updateSession}. */
  async updateSession(id: string, patch: SessionPatch): Promise<boolean> {
    this.assertOpen();
    checkId(id, 'session id');
    checkSessionPatch(patch);
    return this.#core.updateSession(id, patch, this.#beginWrite());
  }

  /** Load a session; see {@link Store.loadSession}. */
  async loadSession(id: string): Promise<SessionRecord | undefined> {
    this.assertOpen();
    checkId(id, 'session id');
    return this.#core.loadSession(id, readClock(this.#now));
  }

  /** Forget a session and its claims; see {@link Store.deleteSession}. */
  async deleteSession(id: string): Promise<void> {
    this.assertOpen();
    checkId(id, 'session id');
    return this.#core.deleteSession(id);
  }

  /** Claim a client message id; see {@link Store.claimMessage}. */
  async claimMessage(session: string, messageId: number, options?: ClaimOptions): Promise<ClaimResult> {
    this.assertOpen();
    checkId(session, 'session');
    checkMessageId(messageId);
    checkClaimOptions(options);
    return this.#core.claimMessage(session, messageId, options, this.#beginWrite());
  }

  /** Record how a claimed message is going or ended; see {@link Store.finishMessage}. */
  async finishMessage(session: string, messageId: number, outcome: MessageOutcome): Promise<void> {
    this.assertOpen();
    checkId(session, 'session');
    checkMessageId(messageId);
    checkOutcome(outcome);
    return this.#core.finishMessage(session, messageId, outcome, this.#beginWrite());
  }

  /** Count the records held; each count is exact or absent (see {@link StoreStats}). */
  async stats(): Promise<StoreStats> {
    this.assertOpen();
    return (await this.#core.stats?.()) ?? {};
  }

  /** Drop expired records and history past its limits, to the end; see {@link Store.sweep}. */
  async sweep(): Promise<void> {
    this.assertOpen();
    const now = readClock(this.#now);
    this.#lastSweep = now;
    return this.#core.sweep(now);
  }

  /** Release the engine's resources. Idempotent; afterwards every other method rejects with {@link StoreUnavailableError}. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    return this.#core.close();
  }

  /**
   * Throw {@link StoreUnavailableError} once the store is closed: the first step of every operation.
   * @internal
   */
  protected assertOpen(): void {
    if (this.#closed) throw new StoreUnavailableError(`${this.#core.label} is closed`);
  }

  /** Read the clock for a write, and start the automatic sweep when one is due (see the module's rule). */
  #beginWrite(): number {
    const now = readClock(this.#now);
    if (!this.#sweeping && now - this.#lastSweep >= AUTO_SWEEP_INTERVAL_MS) {
      this.#lastSweep = now;
      const rest = this.#core.autoSweep(now);
      if (rest !== undefined) {
        this.#sweeping = true;
        const done = (): void => {
          this.#sweeping = false;
        };
        // The core reports its own sweep failures; a rejection here only ends the sweep.
        rest.then(done, done);
      }
    }
    return now;
  }
}
