/**
 * What every engine shares: option defaults and validation, argument checks, epochs, and the one
 * rule that decides what a read returns. Internal: not re-exported from `store/index.ts`.
 * @packageDocumentation
 */
import { UNWRITTEN_EPOCH_PREFIX } from '../protocol/frames.js';
import { IdempotencyConflictError } from './errors.js';
import type { AppendResult, ChannelPosition, ClaimOptions, JsonValue, MessageOutcome, ReadOptions, SessionPatch, SessionRecord, Store, StoreOptions } from './types.js';

/** Default bound on messages kept per channel. */
export const DEFAULT_MAX_COUNT = 10_000;
/** Default bound on the age of kept messages: 24 h. */
export const DEFAULT_MAX_AGE_MS = 24 * 60 * 60 * 1000;
/** Default lifetime of idempotency keys and client message ids: 24 h. */
export const DEFAULT_DEDUPE_TTL_MS = 24 * 60 * 60 * 1000;
/**
 * Engines sweep on their own, at most this often (by the store's clock), at the start of a write.
 * Expired records are invisible before they are swept; sweeping only reclaims space.
 */
export const AUTO_SWEEP_INTERVAL_MS = 60_000;
/**
 * Most records one automatic sweep step removes. A step is one short transaction; the engine takes
 * another step soon after while there is more to do, so no sweep holds the process for long.
 */
export const SWEEP_BATCH = 2000;
/** Default of {@link StoreOptions.maxClaimsPerScope} and {@link StoreOptions.maxKeysPerScope}. */
export const DEFAULT_MAX_PER_SCOPE = 10_000;

/** {@link StoreOptions} with every default applied and every value checked. */
export interface ResolvedStoreOptions {
  readonly maxCount: number;
  readonly maxAgeMs: number;
  readonly dedupeTtlMs: number;
  readonly maxClaimsPerScope: number;
  readonly maxKeysPerScope: number;
  readonly now: () => number;
}

function isDuration(value: unknown): value is number {
  return typeof value === 'number' && !Number.isNaN(value) && value >= 0;
}

/**
 * Apply defaults and validate. Throws `TypeError`/`RangeError` synchronously on a bad option.
 * `maxCount` is an integer >= 0 or `Infinity`; durations are numbers >= 0 (`Infinity`: never).
 */
export function resolveStoreOptions(options: StoreOptions = {}): ResolvedStoreOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('store options must be an object');
  const maxCount = options.history?.maxCount ?? DEFAULT_MAX_COUNT;
  const maxAgeMs = options.history?.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
  const dedupeTtlMs = options.dedupeTtlMs ?? DEFAULT_DEDUPE_TTL_MS;
  const now = options.now ?? Date.now;
  const maxClaimsPerScope = options.maxClaimsPerScope ?? DEFAULT_MAX_PER_SCOPE;
  const maxKeysPerScope = options.maxKeysPerScope ?? DEFAULT_MAX_PER_SCOPE;
  for (const [name, value] of [['maxClaimsPerScope', maxClaimsPerScope], ['maxKeysPerScope', maxKeysPerScope]] as const) {
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be an integer >= 1, got ${String(value)}`);
  }
  if (!(maxCount === Infinity || (Number.isSafeInteger(maxCount) && maxCount >= 0))) {
    throw new RangeError(`history.maxCount must be an integer >= 0 or Infinity, got ${String(maxCount)}`);
  }
  if (!isDuration(maxAgeMs)) throw new RangeError(`history.maxAgeMs must be a number of ms >= 0, got ${String(maxAgeMs)}`);
  if (!isDuration(dedupeTtlMs)) throw new RangeError(`dedupeTtlMs must be a number of ms >= 0, got ${String(dedupeTtlMs)}`);
  if (typeof now !== 'function') throw new TypeError('now must be a function returning ms since the epoch');
  return { maxCount, maxAgeMs, dedupeTtlMs, maxClaimsPerScope, maxKeysPerScope, now };
}

/** A fresh epoch: 16 lowercase hex characters (64 random bits). */
export function randomEpoch(): string {
  const bytes = new Uint8Array(8);
  globalThis.crypto.getRandomValues(bytes);
  let out = '';
  for (const byte of bytes) out += byte.toString(16).padStart(2, '0');
  return out;
}

/** A fresh empty epoch (see `isUnwrittenEpoch`): the unwritten-channel prefix and 64 random bits. */
export function randomEmptyEpoch(): string {
  return UNWRITTEN_EPOCH_PREFIX + randomEpoch();
}

/** The store's clock, checked: a clock that returns garbage must not corrupt stored times. */
export function readClock(now: () => number): number {
  const t = now();
  if (typeof t !== 'number' || !Number.isFinite(t)) throw new TypeError(`the store clock returned ${String(t)}, not a finite number`);
  return t;
}

/** A channel name: any non-empty string. */
export function checkChannel(channel: unknown): asserts channel is string {
  if (typeof channel !== 'string' || channel.length === 0) throw new TypeError('channel must be a non-empty string');
}

/** An id (session id, idempotency key): any non-empty string. */
export function checkId(value: unknown, what: string): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) throw new TypeError(`${what} must be a non-empty string`);
}

/** A read limit: an integer >= 0. */
export function checkLimit(limit: unknown): asserts limit is number {
  if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 0) {
    throw new RangeError(`limit must be an integer >= 0, got ${String(limit)}`);
  }
}

/** A read position: a string epoch and an integer offset >= 0. */
export function checkPosition(from: unknown): asserts from is ChannelPosition {
  if (typeof from !== 'object' || from === null) throw new TypeError('from must be a {epoch, offset} position or undefined');
  const { epoch, offset } = from as { epoch?: unknown; offset?: unknown };
  if (typeof epoch !== 'string') throw new TypeError('from.epoch must be a string');
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
    throw new RangeError(`from.offset must be an integer >= 0, got ${String(offset)}`);
  }
}

/** Read options: `maxBytes` an integer >= 1 when given. */
export function checkReadOptions(options: unknown): asserts options is ReadOptions | undefined {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null) throw new TypeError('read options must be an object');
  const { maxBytes } = options as { maxBytes?: unknown };
  if (maxBytes !== undefined && !(typeof maxBytes === 'number' && Number.isSafeInteger(maxBytes) && maxBytes >= 1)) {
    throw new RangeError(`maxBytes must be an integer >= 1, got ${String(maxBytes)}`);
  }
}

/** Claim options: `leaseMs` a duration, `fingerprint` a string. */
export function checkClaimOptions(options: unknown): asserts options is ClaimOptions | undefined {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null) throw new TypeError('claim options must be an object');
  const { leaseMs, fingerprint } = options as { leaseMs?: unknown; fingerprint?: unknown };
  if (leaseMs !== undefined && !isDuration(leaseMs)) throw new RangeError(`leaseMs must be a number of ms >= 0, got ${String(leaseMs)}`);
  if (fingerprint !== undefined && typeof fingerprint !== 'string') throw new TypeError('fingerprint must be a string');
}

/** A session patch as {@link SessionPatch} describes it. */
export function checkSessionPatch(patch: unknown): asserts patch is SessionPatch {
  if (typeof patch !== 'object' || patch === null) throw new TypeError('session patch must be an object');
  const p = patch as { expiresAt?: unknown; subscribe?: unknown; unsubscribe?: unknown };
  if (p.expiresAt !== undefined && (typeof p.expiresAt !== 'number' || Number.isNaN(p.expiresAt))) throw new TypeError('patch.expiresAt must be a number (ms)');
  if (p.subscribe !== undefined) {
    if (!Array.isArray(p.subscribe)) throw new TypeError('patch.subscribe must be an array');
    for (const entry of p.subscribe as unknown[]) {
      const e = entry as { channel?: unknown; position?: unknown } | null;
      if (typeof e !== 'object' || e === null) throw new TypeError('patch.subscribe entries must be objects');
      checkChannel(e.channel);
      if (e.position !== undefined) checkPosition(e.position);
    }
  }
  if (p.unsubscribe !== undefined && !(Array.isArray(p.unsubscribe) && p.unsubscribe.every((c) => typeof c === 'string'))) {
    throw new TypeError('patch.unsubscribe must be an array of channel names');
  }
}

/** A client message id: a safe integer. */
export function checkMessageId(messageId: unknown): asserts messageId is number {
  if (typeof messageId !== 'number' || !Number.isSafeInteger(messageId)) {
    throw new RangeError(`messageId must be a safe integer, got ${String(messageId)}`);
  }
}

/** A message outcome as {@link MessageOutcome} describes it. */
export function checkOutcome(outcome: unknown): asserts outcome is MessageOutcome {
  const state = (outcome as { state?: unknown } | null)?.state;
  if (state === 'claimed' || state === 'running') return;
  if (state === 'done') {
    const result = (outcome as { result?: unknown }).result;
    if (result !== undefined) encodeData(result as JsonValue);
    return;
  }
  if (state === 'failed' && typeof (outcome as { incident?: unknown }).incident === 'string') return;
  throw new TypeError("outcome must be {state: 'claimed' | 'running'}, {state: 'done', result?} or {state: 'failed', incident: string}");
}

/** A session record with the documented field types. */
export function checkSession(session: unknown): asserts session is SessionRecord {
  if (typeof session !== 'object' || session === null) throw new TypeError('session must be an object');
  const s = session as Partial<Record<keyof SessionRecord, unknown>>;
  checkId(s.id, 'session.id');
  if (typeof s.tokenHash !== 'string') throw new TypeError('session.tokenHash must be a string');
  if (s.user !== undefined && typeof s.user !== 'string') throw new TypeError('session.user must be a string or undefined');
  if (!Array.isArray(s.channels) || !s.channels.every((c) => typeof c === 'string')) {
    throw new TypeError('session.channels must be an array of strings');
  }
  if (typeof s.expiresAt !== 'number' || Number.isNaN(s.expiresAt)) throw new TypeError('session.expiresAt must be a number (ms)');
  if (s.positions !== undefined) {
    if (typeof s.positions !== 'object' || s.positions === null) throw new TypeError('session.positions must be an object');
    for (const position of Object.values(s.positions)) checkPosition(position);
  }
}

/** A fresh object without a prototype, so any channel name (`__proto__`, `constructor`) is an ordinary key. */
export function bareRecord<V>(): Record<string, V> {
  return Object.create(null) as Record<string, V>;
}

/** A copy of a session that shares nothing with the caller's object, without an undefined `user`. */
export function copySession(session: SessionRecord): SessionRecord {
  const copy: { -readonly [K in keyof SessionRecord]: SessionRecord[K] } = {
    id: session.id,
    tokenHash: session.tokenHash,
    channels: [...session.channels],
    expiresAt: session.expiresAt,
  };
  if (session.user !== undefined) copy.user = session.user;
  const positions = session.positions === undefined ? [] : Object.entries(session.positions);
  if (positions.length > 0) {
    const out = bareRecord<ChannelPosition>();
    for (const [channel, p] of positions) out[channel] = { epoch: p.epoch, offset: p.offset };
    copy.positions = out;
  }
  return copy;
}

/**
 * Apply a {@link SessionPatch} to a session (the engines that keep sessions as one value use this; the
 * others apply the same rules in their own terms): removed channels go first, then added ones are
 * appended when new; a position given for a channel replaces the one kept.
 */
export function patchSession(session: SessionRecord, patch: SessionPatch): SessionRecord {
  const channels = session.channels.filter((c) => !patch.unsubscribe?.includes(c));
  const positions = bareRecord<ChannelPosition>();
  for (const c of channels) {
    const p = session.positions?.[c];
    if (p !== undefined) positions[c] = p;
  }
  for (const { channel, position } of patch.subscribe ?? []) {
    if (!channels.includes(channel)) channels.push(channel);
    if (position !== undefined) positions[channel] = { epoch: position.epoch, offset: position.offset };
  }
  return copySession({ ...session, channels, positions, expiresAt: patch.expiresAt ?? session.expiresAt });
}

/**
 * Serialize application data. Stored as JSON text by every engine so all of them round-trip exactly
 * the same values (JSON's own rules: `-0` reads back as `0`, a non-finite number as `null`).
 * Throws `TypeError` for a value JSON cannot represent at top level (`undefined`, a function).
 */
export function encodeData(data: JsonValue): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(data) as string | undefined;
  } catch (error) {
    throw new TypeError('data must be a JSON value', { cause: error });
  }
  if (json === undefined) throw new TypeError('data must be a JSON value');
  return json;
}

/** Parse data stored by {@link encodeData}. */
export function decodeData(json: string): JsonValue {
  return JSON.parse(json) as JsonValue;
}

/** Whether a record that expires at `expiresAt` is gone at time `now`. A record is live while `now < expiresAt`. */
export function isExpired(expiresAt: number, now: number): boolean {
  return now >= expiresAt;
}

/** The oldest message time still kept at `now`; older messages are trimmed. A message exactly `maxAgeMs` old is kept. */
export function ageCutoff(now: number, maxAgeMs: number): number {
  return now - maxAgeMs;
}

/** How to answer a read, from where the reader stands and what the channel retains. */
export interface ReadPlan {
  /** Return retained messages with offsets greater than this. */
  readonly after: number;
  /** Whether those messages are exactly everything the reader missed. */
  readonly complete: boolean;
}

/**
 * The rule every engine follows for {@link Store.read} (the reference semantics):
 * - same epoch, `from.offset` between the oldest retained message - 1 and the head: complete,
 *   messages after `from.offset`;
 * - same epoch but history trimmed past `from.offset`: not complete, messages from the oldest retained;
 * - another epoch, or an offset beyond the head (a position this history never gave out): not
 *   complete, the retained history from the oldest, so the caller may choose to deliver it;
 * - offset 0 of this store's empty epoch (the reader saw the channel unwritten): the retained history
 *   from the oldest, complete when it still starts at offset 1.
 * @param head - the channel's epoch and newest offset
 * @param firstRetained - offset of the oldest retained message; `head.offset + 1` when none is retained
 * @param emptyEpoch - the store's current empty epoch (unwritten channels')
 */
export function planRead(head: ChannelPosition, firstRetained: number, from: ChannelPosition, emptyEpoch: string): ReadPlan {
  // A reader who saw the channel unwritten has missed nothing while its history still starts at 1.
  if (from.epoch !== head.epoch && from.epoch === emptyEpoch && from.offset === 0) return { after: 0, complete: firstRetained <= 1 };
  if (from.epoch !== head.epoch || from.offset > head.offset) return { after: 0, complete: false };
  if (from.offset + 1 < firstRetained) return { after: from.offset, complete: false };
  return { after: from.offset, complete: true };
}

/**
 * The answer to an append deduplicated by a claim that is already recorded (see `AppendOptions.claim`):
 * the first message when that claim is a publish with the same fingerprint, else a conflict.
 * @param outcome - the recorded outcome
 * @param recorded - the fingerprint recorded with it
 * @param presented - the fingerprint of this append
 * @param data - this append's data (the same as the first's when the fingerprints agree)
 * @throws IdempotencyConflictError when the id was used for other content or for a client message
 */
export function duplicateOfClaim(outcome: MessageOutcome, recorded: string | undefined, presented: string, data: JsonValue): AppendResult {
  const result = outcome.state === 'done' ? (outcome.result as { channel?: unknown; epoch?: unknown; offset?: unknown; time?: unknown } | undefined) : undefined;
  const first =
    result && typeof result.channel === 'string' && typeof result.epoch === 'string' && typeof result.offset === 'number' && typeof result.time === 'number'
      ? { channel: result.channel, epoch: result.epoch, offset: result.offset, time: result.time }
      : undefined;
  if (first === undefined || recorded !== presented) throw new IdempotencyConflictError('this message id was used for another message', first);
  return { message: { ...first, data: decodeData(encodeData(data)) }, duplicate: true };
}

/** Whether a claim of `id` falls below the window of a scope whose highest id is `maxId`. */
export function belowWindow(id: number, maxId: number, perScope: number): boolean {
  return id <= maxId - perScope;
}
