/**
 * What every engine shares: option defaults and validation, argument checks, epochs, and the one
 * rule that decides what a read returns. Internal: not re-exported from `store/index.ts`.
 * @packageDocumentation
 */
import type { ChannelPosition, JsonValue, MessageOutcome, SessionRecord, Store, StoreOptions } from './types.js';

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

/** {@link StoreOptions} with every default applied and every value checked. */
export interface ResolvedStoreOptions {
  readonly maxCount: number;
  readonly maxAgeMs: number;
  readonly dedupeTtlMs: number;
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
  if (!(maxCount === Infinity || (Number.isSafeInteger(maxCount) && maxCount >= 0))) {
    throw new RangeError(`history.maxCount must be an integer >= 0 or Infinity, got ${String(maxCount)}`);
  }
  if (!isDuration(maxAgeMs)) throw new RangeError(`history.maxAgeMs must be a number of ms >= 0, got ${String(maxAgeMs)}`);
  if (!isDuration(dedupeTtlMs)) throw new RangeError(`dedupeTtlMs must be a number of ms >= 0, got ${String(dedupeTtlMs)}`);
  if (typeof now !== 'function') throw new TypeError('now must be a function returning ms since the epoch');
  return { maxCount, maxAgeMs, dedupeTtlMs, now };
}

/** A fresh epoch: 16 lowercase hex characters (64 random bits). */
export function randomEpoch(): string {
  const bytes = new Uint8Array(8);
  globalThis.crypto.getRandomValues(bytes);
  let out = '';
  for (const byte of bytes) out += byte.toString(16).padStart(2, '0');
  return out;
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

/** A client message id: a safe integer. */
export function checkMessageId(messageId: unknown): asserts messageId is number {
  if (typeof messageId !== 'number' || !Number.isSafeInteger(messageId)) {
    throw new RangeError(`messageId must be a safe integer, got ${String(messageId)}`);
  }
}

/** A message outcome as {@link MessageOutcome} describes it. */
export function checkOutcome(outcome: unknown): asserts outcome is MessageOutcome {
  const state = (outcome as { state?: unknown } | null)?.state;
  if (state === 'running' || state === 'done') return;
  if (state === 'failed' && typeof (outcome as { incident?: unknown }).incident === 'string') return;
  throw new TypeError("outcome must be {state: 'running'}, {state: 'done'} or {state: 'failed', incident: string}");
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
  return copy;
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
 *   complete, the retained history from the oldest, so the caller may choose to deliver it.
 * @param head - the channel's epoch and newest offset
 * @param firstRetained - offset of the oldest retained message; `head.offset + 1` when none is retained
 */
export function planRead(head: ChannelPosition, firstRetained: number, from: ChannelPosition): ReadPlan {
  if (from.epoch !== head.epoch || from.offset > head.offset) return { after: 0, complete: false };
  if (from.offset + 1 < firstRetained) return { after: from.offset, complete: false };
  return { after: from.offset, complete: true };
}
