/**
 * The in-memory engine: the reference implementation of the store contract. Simple on purpose, so it
 * can be read as the specification by example; the conformance suite (`lifeline/testing`) pins the same
 * behaviour on every other engine.
 * @packageDocumentation
 */
import { IdempotencyWindowError } from './errors.js';
import type { StoreCore } from './core.js';
import { GuardedStore } from './guarded.js';
import { MemoryPresence } from './memory-presence.js';
import { resolveStoreOptions, type ResolvedStoreOptions } from './options.js';
import { copySession, decodeData, outcomeFields, outcomeFrom, patchSession, type OutcomeFields } from './records.js';
import { ageCutoff, answerRecordedClaim, belowWindow, duplicateOfClaim, duplicateOfKey, isExpired, planRead, randomEmptyEpoch, randomEpoch, type KeyedMessage } from './rules.js';
import type { AppendOptions, AppendResult, ChannelPosition, ClaimOptions, ClaimResult, JsonValue, MessageOutcome, ReadResult, SessionPatch, SessionRecord, StoredMessage, StoreOptions, StoreStats } from './types.js';

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

/** The first message stored under an idempotency key, while the key lives. */
interface KeyRecord {
  readonly message: KeyedMessage;
  readonly expiresAt: number;
  readonly scope: string | undefined;
}

/**
 * A claim as kept: its outcome's flat fields (nothing is shared with callers) in the same object as its
 * fingerprint and expiry, one object per claim, rewritten in place by the writes that follow the claim.
 */
interface ClaimRecord {
  state: OutcomeFields['state'];
  incident: OutcomeFields['incident'];
  result: OutcomeFields['result'];
  fingerprint: string | undefined;
  expiresAt: number;
}

/** One scope's claims, in the order they were last written, and the highest id it ever claimed (its window's top). */
interface ClaimScope {
  readonly records: Map<number, ClaimRecord>;
  maxId: number;
  /**
   * The id written last (the map's last entry), or undefined. A message's claim, its start and its end
   * are written one after the other: those rewrites of the last entry change neither the order nor the
   * window, so they replace the record in place.
   */
  lastId: number | undefined;
  /**
   * The id of the oldest record (the map's first entry) when known, else undefined. While it is above the
   * window's floor and the scope within its bound, a new record has nothing to drop: no walk.
   */
  firstId: number | undefined;
}

function toMessage(channel: string, epoch: string, entry: Entry): StoredMessage {
  return { channel, epoch, offset: entry.offset, data: decodeData(entry.json), time: entry.time };
}

function outcomeOf(record: ClaimRecord): MessageOutcome {
  return outcomeFrom(record.state, record.incident, record.result);
}

/** The memory engine's core: maps in this process. */
class MemoryCore implements StoreCore {
  readonly label = 'the memory store';
  readonly #options: ResolvedStoreOptions;
  readonly #channels = new Map<string, ChannelState>();
  readonly #keys = new Map<string, KeyRecord>();
  /** The keys of each scope, oldest first, to forget the oldest beyond `maxKeysPerScope`. */
  readonly #keyScopes = new Map<string, Set<string>>();
  readonly #sessions = new Map<string, SessionRecord>();
  /** Claims by scope, then by message id. */
  readonly #claims = new Map<string, ClaimScope>();
  /** The epoch of channels never written; a new one per instance, since an instance's data dies with it. */
  readonly #emptyEpoch = randomEmptyEpoch();
  /** Presence records (`memory-presence.ts`). */
  readonly presence = new MemoryPresence();

  constructor(options: ResolvedStoreOptions) {
    this.#options = options;
  }

  append(channel: string, data: JsonValue, json: string, options: AppendOptions | undefined, now: number): AppendResult {
    const key = options?.idempotencyKey;
    const claim = options?.claim;
    if (key !== undefined) {
      const record = this.#keys.get(key);
      if (record && !isExpired(record.expiresAt, now)) return duplicateOfKey(key, record.message, channel, json);
    }
    if (claim !== undefined) {
      const found = this.#claimed(claim.scope, claim.id, now);
      if (found === 'forgotten') throw new IdempotencyWindowError();
      if (found !== undefined) return duplicateOfClaim(outcomeOf(found), found.fingerprint, claim.fingerprint, data, claim.legacyFingerprint);
    }
    const state = this.#channel(channel);
    const entry: Entry = { offset: state.last + 1, time: Math.max(now, state.lastTime), json };
    state.messages.push(entry);
    state.last = entry.offset;
    state.lastTime = entry.time;
    const expiresAt = now + this.#options.dedupeTtlMs;
    if (key !== undefined) {
      const message = { channel, epoch: state.epoch, offset: entry.offset, time: entry.time, json };
      this.#remember(key, { message, expiresAt, scope: options?.idempotencyScope }, now);
    }
    if (claim !== undefined) {
      const result = { channel, epoch: state.epoch, offset: entry.offset, time: entry.time };
      this.#record(claim.scope, claim.id, { state: 'done', result }, claim.fingerprint, expiresAt);
    }
    this.#trim(state, now);
    return { message: toMessage(channel, state.epoch, entry), duplicate: false };
  }

  read(channel: string, from: ChannelPosition, limit: number, maxBytes: number, now: number): ReadResult {
    const state = this.#channels.get(channel);
    if (state) this.#trim(state, now);
    const head = this.head(channel);
    const retained = state?.messages ?? [];
    const first = retained[0]?.offset ?? head.offset + 1;
    const plan = planRead(head, first, from, this.#emptyEpoch);
    const start = Math.max(plan.after + 1, first) - first;
    const messages: StoredMessage[] = [];
    let bytes = 0;
    for (let i = start; i < retained.length && messages.length < limit && bytes < maxBytes; i++) {
      const entry = retained[i]!;
      bytes += entry.json.length;
      messages.push(toMessage(channel, head.epoch, entry));
    }
    return { messages, complete: plan.complete, more: start + messages.length < retained.length, head };
  }

  head(channel: string): ChannelPosition {
    const state = this.#channels.get(channel);
    return state ? { epoch: state.epoch, offset: state.last } : { epoch: this.#emptyEpoch, offset: 0 };
  }

  saveSession(session: SessionRecord): void {
    this.#sessions.set(session.id, copySession(session));
  }

  updateSession(id: string, patch: SessionPatch, now: number): boolean {
    const session = this.#sessions.get(id);
    if (!session || isExpired(session.expiresAt, now)) return false;
    this.#sessions.set(id, patchSession(session, patch));
    return true;
  }

  loadSession(id: string, now: number): SessionRecord | undefined {
    const session = this.#sessions.get(id);
    if (!session || isExpired(session.expiresAt, now)) return undefined;
    return copySession(session);
  }

  deleteSession(id: string): void {
    this.#sessions.delete(id);
    this.#claims.delete(id);
  }

  claimMessage(scope: string, messageId: number, options: ClaimOptions | undefined, now: number): ClaimResult {
    const found = this.#claimed(scope, messageId, now);
    if (found === 'forgotten') return { claimed: false, forgotten: true };
    if (found !== undefined) return answerRecordedClaim(outcomeOf(found), found.fingerprint, options?.fingerprint, options?.legacyFingerprint);
    this.#record(scope, messageId, { state: 'claimed' }, options?.fingerprint, now + (options?.leaseMs ?? this.#options.dedupeTtlMs));
    return { claimed: true };
  }

  finishMessage(scope: string, messageId: number, outcome: MessageOutcome, now: number): void {
    const previous = this.#claims.get(scope)?.records.get(messageId);
    this.#record(scope, messageId, outcome, previous?.fingerprint, now + this.#options.dedupeTtlMs);
  }

  stats(): StoreStats {
    let messages = 0;
    for (const c of this.#channels.values()) messages += c.messages.length;
    let claims = 0;
    for (const c of this.#claims.values()) claims += c.records.size;
    let sessionChannels = 0;
    for (const s of this.#sessions.values()) sessionChannels += s.channels.length;
    const presence = this.presence.stats;
    return { channels: this.#channels.size, messages, sessions: this.#sessions.size, sessionChannels, claims, keys: this.#keys.size, presenceMembers: presence.members, presenceNodes: presence.nodes };
  }

  sweep(now: number): void {
    for (const state of this.#channels.values()) this.#trim(state, now);
    for (const [key, record] of this.#keys) if (isExpired(record.expiresAt, now)) this.#forgetKey(key);
    for (const [id, session] of this.#sessions) if (isExpired(session.expiresAt, now)) this.#sessions.delete(id);
    for (const [scope, claims] of this.#claims) {
      for (const [messageId, record] of claims.records) if (isExpired(record.expiresAt, now)) claims.records.delete(messageId);
      claims.firstId = undefined; // learnt again by the next write's window walk
      // An empty scope is forgotten, window and all: its ids expired, so none of them is remembered anyway.
      if (claims.records.size === 0) this.#claims.delete(scope);
    }
  }

  /** The whole sweep, at once: memory has no transaction to keep short. */
  autoSweep(now: number): undefined {
    this.sweep(now);
    return undefined;
  }

  close(): void {
    this.#channels.clear();
    this.#keys.clear();
    this.#keyScopes.clear();
    this.#sessions.clear();
    this.#claims.clear();
    this.presence.clear();
  }

  /** A live claim record of `(scope, id)`, `'forgotten'` when the id is below the scope's window, else undefined. */
  #claimed(scope: string, id: number, now: number): ClaimRecord | 'forgotten' | undefined {
    const claims = this.#claims.get(scope);
    if (!claims) return undefined;
    if (belowWindow(id, claims.maxId, this.#options.maxClaimsPerScope)) return 'forgotten';
    const record = claims.records.get(id);
    return record && !isExpired(record.expiresAt, now) ? record : undefined;
  }

  /** Write a claim record, keeping the scope within its window and its size bound. */
  #record(scope: string, id: number, outcome: MessageOutcome, fingerprint: string | undefined, expiresAt: number): void {
    let claims = this.#claims.get(scope);
    if (!claims) this.#claims.set(scope, (claims = { records: new Map(), maxId: -Infinity, lastId: undefined, firstId: undefined }));
    const { state, incident, result } = outcomeFields(outcome);
    // Already the last entry, and nothing dropped since the last window walk (which left the oldest record
    // inside the window): the order, the size and the window stay as they are, and the record is rewritten
    // in place (a message's three writes leave one object, not three, and walk the window once).
    const last = claims.lastId === id && claims.firstId !== undefined ? claims.records.get(id) : undefined;
    if (last !== undefined) {
      last.state = state;
      last.incident = incident;
      last.result = result;
      last.fingerprint = fingerprint;
      last.expiresAt = expiresAt;
      return;
    }
    const record: ClaimRecord = { state, incident, result, fingerprint, expiresAt };
    claims.records.delete(id); // re-inserted last: the map's order is the order records were written
    if (claims.firstId === id) claims.firstId = undefined; // the next one is the oldest now
    if (claims.records.size === 0) claims.firstId = id;
    claims.records.set(id, record);
    claims.lastId = id;
    if (id > claims.maxId) claims.maxId = id;
    const max = this.#options.maxClaimsPerScope;
    const floor = claims.maxId - max;
    if (claims.firstId !== undefined && claims.firstId > floor && claims.records.size <= max) return;
    claims.firstId = undefined;
    // Oldest first: for a client whose ids increase this drops exactly the ids that left the window.
    for (const [oldId] of claims.records) {
      if (oldId > floor && claims.records.size <= max) {
        claims.firstId = oldId;
        break;
      }
      claims.records.delete(oldId);
    }
  }

  /** Keep an idempotency key, forgetting its scope's oldest beyond `maxKeysPerScope`. */
  #remember(key: string, record: KeyRecord, now: number): void {
    this.#forgetKey(key);
    this.#keys.set(key, record);
    if (record.scope === undefined) return;
    let keys = this.#keyScopes.get(record.scope);
    if (!keys) this.#keyScopes.set(record.scope, (keys = new Set()));
    keys.add(key);
    for (const oldest of keys) {
      if (keys.size <= this.#options.maxKeysPerScope) break;
      const old = this.#keys.get(oldest);
      if (old && !isExpired(old.expiresAt, now) && keys.size <= this.#options.maxKeysPerScope) break;
      this.#forgetKey(oldest);
    }
  }

  #forgetKey(key: string): void {
    const record = this.#keys.get(key);
    if (!record) return;
    this.#keys.delete(key);
    if (record.scope === undefined) return;
    const keys = this.#keyScopes.get(record.scope);
    keys?.delete(key);
    if (keys?.size === 0) this.#keyScopes.delete(record.scope);
  }

  /** The channel's state, created with a fresh epoch the first time the channel is written. */
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
}

/**
 * A store that keeps everything in this process's memory. `durable: false`: a restart loses history,
 * sessions and dedupe records, and every channel gets a new random epoch, so readers holding offsets
 * from before the restart are told their history is incomplete rather than handed wrong messages.
 *
 * Use it for tests and for a single process that can afford to forget on restart.
 */
export class MemoryStore extends GuardedStore {
  /** Always `memory`. */
  readonly kind = 'memory';
  /** Always `false`: nothing survives the process. */
  readonly durable = false;

  /**
   * @param options - history bounds, dedupe TTL and clock; see {@link StoreOptions}
   * @throws TypeError or RangeError for an invalid option
   */
  constructor(options?: StoreOptions) {
    const resolved = resolveStoreOptions(options);
    super(new MemoryCore(resolved), resolved);
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
