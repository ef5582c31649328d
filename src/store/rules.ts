/**
 * The rules every engine follows in its own terms: epochs, expiry, age trimming, what a read returns,
 * the claim window, and how a duplicate is answered. Written once here, so that the engines can only
 * differ in how they store things, never in what they answer. Internal: not re-exported from
 * `store/index.ts`.
 * @packageDocumentation
 */
import { UNWRITTEN_EPOCH_PREFIX } from '../protocol/frames.js';
import { IdempotencyConflictError, type OriginalMessage } from './errors.js';
import { decodeData, encodeData, sameJson } from './records.js';
import type { AppendResult, ChannelPosition, ClaimResult, JsonValue, MessageOutcome } from './types.js';

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
 * The rule every engine follows for `Store.read` (the reference semantics):
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

/** Whether a claim of `id` falls below the window of a scope whose highest id is `maxId`. */
export function belowWindow(id: number, maxId: number, perScope: number): boolean {
  return id <= maxId - perScope;
}

/**
 * Whether a recorded fingerprint is the presented claim's: its fingerprint, or the form an earlier
 * version computed for the same content (`legacy`), so a resend of a message recorded before an
 * upgrade still matches.
 */
export function sameFingerprint(recorded: string, presented: string, legacy: string | undefined): boolean {
  return recorded === presented || (legacy !== undefined && recorded === legacy);
}

/**
 * The answer to a claim of an id that is already recorded: its outcome, and a conflict when both the
 * recorded and the presented claim carry a fingerprint and they differ (the id was reused for other content).
 * @param legacy - the presented content's fingerprint in an earlier version's form, also accepted
 */
export function answerRecordedClaim(outcome: MessageOutcome, recorded: string | undefined, presented: string | undefined, legacy?: string): ClaimResult {
  const conflict = presented !== undefined && recorded !== undefined && !sameFingerprint(recorded, presented, legacy);
  return conflict ? { claimed: false, outcome, conflict: true } : { claimed: false, outcome };
}

/**
 * The answer to an append deduplicated by a claim that is already recorded (see `AppendOptions.claim`):
 * the first message when that claim is a publish with the same fingerprint, else a conflict.
 * @param outcome - the recorded outcome
 * @param recorded - the fingerprint recorded with it
 * @param presented - the fingerprint of this append
 * @param data - this append's data (the same as the first's when the fingerprints agree)
 * @param legacy - this append's fingerprint in an earlier version's form, also accepted
 * @throws IdempotencyConflictError when the id was used for other content or for a client message
 */
export function duplicateOfClaim(outcome: MessageOutcome, recorded: string | undefined, presented: string, data: JsonValue, legacy?: string): AppendResult {
  const result = outcome.state === 'done' ? (outcome.result as { channel?: unknown; epoch?: unknown; offset?: unknown; time?: unknown } | undefined) : undefined;
  const first =
    result && typeof result.channel === 'string' && typeof result.epoch === 'string' && typeof result.offset === 'number' && typeof result.time === 'number'
      ? { channel: result.channel, epoch: result.epoch, offset: result.offset, time: result.time }
      : undefined;
  if (first === undefined || recorded === undefined || !sameFingerprint(recorded, presented, legacy)) throw new IdempotencyConflictError('this message id was used for another message', first);
  return { message: { ...first, data: decodeData(encodeData(data)) }, duplicate: true };
}

/** The first message stored under an idempotency key, as an engine keeps it (data as JSON text). */
export interface KeyedMessage extends OriginalMessage {
  readonly time: number;
  readonly json: string;
}

/** The conflict of an idempotency key reused for another message. */
export function keyConflict(key: string, original: OriginalMessage): IdempotencyConflictError {
  return new IdempotencyConflictError(`idempotency key ${key} was used for another message`, { channel: original.channel, epoch: original.epoch, offset: original.offset });
}

/**
 * The answer to an append under an idempotency key that is live: the first message, when this append
 * is the same (channel and data: the same JSON value, whatever the order of object keys or the
 * spelling of numbers, see `sameJson`); else a conflict.
 * @throws IdempotencyConflictError when the key was used for another channel or other data
 */
export function duplicateOfKey(key: string, first: KeyedMessage, channel: string, json: string): AppendResult {
  if (first.channel !== channel || !sameJson(first.json, json)) throw keyConflict(key, first);
  return { message: { channel: first.channel, epoch: first.epoch, offset: first.offset, data: decodeData(first.json), time: first.time }, duplicate: true };
}
