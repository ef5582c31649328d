/**
 * The in-memory engine: the reference implementation of the store contract. Simple on purpose, so it
 * can be read as the specification by example; the conformance suite pins the same behaviour on
 * every other engine.
 * @packageDocumentation
 */
import { StoreUnavailableError } from './errors.js';
import {
  AUTO_SWEEP_INTERVAL_MS,
  ageCutoff,
  checkChannel,
  checkId,
  checkLimit,
  checkMessageId,
  checkOutcome,
  checkPosition,
  checkSession,
  copySession,
  decodeData,
  encodeData,
  isExpired,
  planRead,
  randomEpoch,
  readClock,
  resolveStoreOptions,
  type ResolvedStoreOptions,
} from './internal.js';
import type {
  AppendResult,
  ChannelPosition,
  ClaimResult,
  JsonValue,
  MessageOutcome,
  ReadResult,
  SessionRecord,
  Store,
  StoredMessage,
  StoreOptions,
} from './types.js';

/** One message as kept: data as JSON text, so nothing is shared with callers. */
interface Entry {
  readonly offset: number;
  readonly time: number;
  readonly json: string;
}

interface ChannelState {
  readonly epoch: string;
  /** Newest offset ever given out (never decreases, even when history is trimmed). */
  last: number;
  /** Time of the newest message; message times never decrease within a channel. */
  lastTime: number;
  /** Retained messages, oldest first, offsets contiguous. */
  readonly messages: Entry[];
}

interface KeyRecord {
  readonly channel: string;
  readonly epoch: string;
  readonly entry: Entry;
  readonly expiresAt: number;
}

interface ClaimRecord {
  readonly outcome: MessageOutcome;
  readonly expiresAt: number;
}

function copyOutcome(outcome: MessageOutcome): MessageOutcome {
  return outcome.state === 'failed' ? { state: 'failed', incident: outcome.incident } : { state: outcome.state };
}

function toMessage(channel: string, epoch: string, entry: Entry): StoredMessage {
  return { channel, epoch, offset: entry.offset, data: decodeData(entry.json), time: entry.time };
}

/**
 * A store that keeps everything in this process's memory. `durable: false`: a restart loses history,
 * sessions and dedupe records, and every channel gets a new random epoch, so readers holding offsets
 * from before the restart are told their history is incomplete rather than handed wrong messages.
 *
 * Use it for tests and for a single process that can afford to forget on restart.
 */
export class MemoryStore implements Store {
  /** Always `memory`. */
  readonly kind = 'memory';
  /** Always `false`: nothing survives the process. */
  readonly durable = false;

  readonly #options: ResolvedStoreOptions;
  readonly #channels = new Map<string, ChannelState>();
  readonly #keys = new Map<string, KeyRecord>();
  readonly #sessions = new Map<string, SessionRecord>();
  /** Claims by session, then by message id. */
  readonly #claims = new Map<string, Map<number, ClaimRecord>>();
  #lastSweep = -Infinity;
  #closed = false;

  /**
   * @param options - history bounds, dedupe TTL and clock; see {@link StoreOptions}
   * @throws TypeError or RangeError for an invalid option
   */
  constructor(options?: StoreOptions) {
    this.#options = resolveStoreOptions(options);
  }

  async append(channel: string, data: JsonValue, options?: { idempotencyKey?: string }): Promise<AppendResult> {
    this.#checkOpen();
    checkChannel(channel);
    const key = options?.idempotencyKey;
    if (key !== undefined) checkId(key, 'idempotencyKey');
    const json = encodeData(data);
    const now = this.#beginWrite();

    if (key !== undefined) {
      const record = this.#keys.get(key);
      if (record && !isExpired(record.expiresAt, now)) {
        return { message: toMessage(record.channel, record.epoch, record.entry), duplicate: true };
      }
    }
    const state = this.#channel(channel);
    const entry: Entry = { offset: state.last + 1, time: Math.max(now, state.lastTime), json };
    state.messages.push(entry);
    state.last = entry.offset;
    state.lastTime = entry.time;
    if (key !== undefined) {
      this.#keys.set(key, { channel, epoch: state.epoch, entry, expiresAt: now + this.#options.dedupeTtlMs });
    }
    this.#trim(state, now);
    return { message: toMessage(channel, state.epoch, entry), duplicate: false };
  }

  async read(channel: string, from: ChannelPosition | undefined, limit: number): Promise<ReadResult> {
    this.#checkOpen();
    checkChannel(channel);
    if (from !== undefined) checkPosition(from);
    checkLimit(limit);
    const now = readClock(this.#options.now);
    const state = this.#channel(channel);
    this.#trim(state, now);
    const head: ChannelPosition = { epoch: state.epoch, offset: state.last };
    if (from === undefined) return { messages: [], complete: true, more: false, head };

    const first = state.messages[0]?.offset ?? state.last + 1;
    const plan = planRead(head, first, from);
    const start = Math.max(plan.after + 1, first) - first;
    const messages = state.messages.slice(start, start + limit).map((entry) => toMessage(channel, state.epoch, entry));
    return { messages, complete: plan.complete, more: start + limit < state.messages.length, head };
  }

  async head(channel: string): Promise<ChannelPosition> {
    this.#checkOpen();
    checkChannel(channel);
    const state = this.#channel(channel);
    return { epoch: state.epoch, offset: state.last };
  }

  async saveSession(session: SessionRecord): Promise<void> {
    this.#checkOpen();
    checkSession(session);
    this.#beginWrite();
    this.#sessions.set(session.id, copySession(session));
  }

  async loadSession(id: string): Promise<SessionRecord | undefined> {
    this.#checkOpen();
    checkId(id, 'session id');
    const now = readClock(this.#options.now);
    const session = this.#sessions.get(id);
    if (!session || isExpired(session.expiresAt, now)) return undefined;
    return copySession(session);
  }

  async deleteSession(id: string): Promise<void> {
    this.#checkOpen();
    checkId(id, 'session id');
    this.#sessions.delete(id);
    this.#claims.delete(id);
  }

  async claimMessage(session: string, messageId: number): Promise<ClaimResult> {
    this.#checkOpen();
    checkId(session, 'session');
    checkMessageId(messageId);
    const now = this.#beginWrite();
    let claims = this.#claims.get(session);
    const record = claims?.get(messageId);
    if (record && !isExpired(record.expiresAt, now)) return { claimed: false, outcome: copyOutcome(record.outcome) };
    if (!claims) this.#claims.set(session, (claims = new Map()));
    claims.set(messageId, { outcome: { state: 'running' }, expiresAt: now + this.#options.dedupeTtlMs });
    return { claimed: true };
  }

  async finishMessage(session: string, messageId: number, outcome: MessageOutcome): Promise<void> {
    this.#checkOpen();
    checkId(session, 'session');
    checkMessageId(messageId);
    checkOutcome(outcome);
    const now = this.#beginWrite();
    let claims = this.#claims.get(session);
    if (!claims) this.#claims.set(session, (claims = new Map()));
    claims.set(messageId, { outcome: copyOutcome(outcome), expiresAt: now + this.#options.dedupeTtlMs });
  }

  async sweep(): Promise<void> {
    this.#checkOpen();
    this.#sweepAt(readClock(this.#options.now));
  }

  /** Drop everything. Idempotent; afterwards every other method rejects with {@link StoreUnavailableError}. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#channels.clear();
    this.#keys.clear();
    this.#sessions.clear();
    this.#claims.clear();
  }

  #checkOpen(): void {
    if (this.#closed) throw new StoreUnavailableError('the memory store is closed');
  }

  /** Read the clock for a write, sweeping first when the last sweep is old enough. */
  #beginWrite(): number {
    const now = readClock(this.#options.now);
    if (now - this.#lastSweep >= AUTO_SWEEP_INTERVAL_MS) this.#sweepAt(now);
    return now;
  }

  /** The channel's state, created with a fresh epoch the first time the channel is touched. */
  #channel(name: string): ChannelState {
    let state = this.#channels.get(name);
    if (!state) {
      state = { epoch: randomEpoch(), last: 0, lastTime: -Infinity, messages: [] };
      this.#channels.set(name, state);
    }
    return state;
  }

  /** Drop the oldest messages beyond `maxCount` and those older than `maxAgeMs`. */
  #trim(state: ChannelState, now: number): void {
    const { messages } = state;
    let drop = Math.max(0, messages.length - this.#options.maxCount);
    const cutoff = ageCutoff(now, this.#options.maxAgeMs);
    while (drop < messages.length && messages[drop]!.time < cutoff) drop++;
    if (drop > 0) messages.splice(0, drop);
  }

  #sweepAt(now: number): void {
    this.#lastSweep = now;
    for (const state of this.#channels.values()) this.#trim(state, now);
    for (const [key, record] of this.#keys) if (isExpired(record.expiresAt, now)) this.#keys.delete(key);
    for (const [id, session] of this.#sessions) if (isExpired(session.expiresAt, now)) this.#sessions.delete(id);
    for (const [session, claims] of this.#claims) {
      for (const [messageId, record] of claims) if (isExpired(record.expiresAt, now)) claims.delete(messageId);
      if (claims.size === 0) this.#claims.delete(session);
    }
  }
}

/**
 * Create an in-memory store (see {@link MemoryStore}).
 * @param options - history bounds, dedupe TTL and clock
 * @throws TypeError or RangeError for an invalid option
 * @example
 * ```ts
 * const store = createMemoryStore({ history: { maxCount: 1000 } });
 * const { message } = await store.append('news', { title: 'hello' });
 * message.offset; // 1
 * ```
 */
export function createMemoryStore(options?: StoreOptions): MemoryStore {
  return new MemoryStore(options);
}
