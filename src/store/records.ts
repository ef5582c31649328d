/**
 * How records cross an engine's boundary, the same way in every engine: data as JSON text, sessions as
 * fresh objects that share nothing with the caller, outcomes as a few flat fields. Internal: not
 * re-exported from `store/index.ts`.
 * @packageDocumentation
 */
import type { ChannelPosition, JsonValue, MessageOutcome, SessionPatch, SessionPresence, SessionRecord } from './types.js';

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

/**
 * JSON text of a value with every object's keys sorted (by UTF-16 code units, as `Array#sort` does) and
 * no whitespace: two values equal as JSON (RFC 8259: objects are unordered) give the same text.
 * `reordered` says whether any object's keys were out of order, that is whether the text differs from
 * `JSON.stringify(value)`: a caller that needs both encodes a second time only then. An object whose
 * keys are in order already is written as it is (no copy).
 */
export function canonicalJson(value: JsonValue): { readonly text: string; readonly reordered: boolean } {
  let reordered = false;
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
    const keys = Object.keys(v);
    let sorted = true;
    for (let i = 1; i < keys.length && sorted; i++) sorted = keys[i - 1]! < keys[i]!;
    if (sorted) return v;
    reordered = true;
    const copy: Record<string, unknown> = bareRecord();
    for (const k of keys.sort()) copy[k] = (v as Record<string, unknown>)[k];
    return copy;
  });
  return { text, reordered };
}

/**
 * Whether two JSON texts hold the same data: equal text is the fast path; otherwise both are parsed
 * and compared by value (object keys in any order, arrays in order, numbers by value, so `1.0`, `1`
 * and `1e0` agree). A client whose serializer orders keys differently on a retry sends the same data.
 */
export function sameJson(a: string, b: string): boolean {
  if (a === b) return true;
  let x: unknown;
  let y: unknown;
  try {
    x = JSON.parse(a);
    y = JSON.parse(b);
  } catch {
    return false;
  }
  return sameValue(x, y);
}

function sameValue(x: unknown, y: unknown): boolean {
  if (x === y) return true;
  if (typeof x !== 'object' || typeof y !== 'object' || x === null || y === null) return false;
  if (Array.isArray(x) || Array.isArray(y)) {
    if (!Array.isArray(x) || !Array.isArray(y) || x.length !== y.length) return false;
    return x.every((v, i) => sameValue(v, y[i]));
  }
  const xs = Object.keys(x);
  if (xs.length !== Object.keys(y).length) return false;
  return xs.every((k) => Object.prototype.hasOwnProperty.call(y, k) && sameValue((x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k]));
}

/** Parse data stored by {@link encodeData}. */
export function decodeData(json: string): JsonValue {
  return JSON.parse(json) as JsonValue;
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
  const presence = session.presence === undefined ? [] : Object.entries(session.presence);
  if (presence.length > 0) {
    const out = bareRecord<SessionPresence>();
    for (const [channel, p] of presence) out[channel] = copyPresence(p);
    copy.presence = out;
  }
  return copy;
}

/** A copy of a session's presence in a channel (its info through JSON text: nothing shared), without undefined members. */
export function copyPresence(presence: SessionPresence): SessionPresence {
  const copy: { info?: JsonValue; events?: boolean } = {};
  if (presence.info !== undefined) copy.info = decodeData(encodeData(presence.info));
  if (presence.events !== undefined) copy.events = presence.events;
  return copy;
}

/**
 * Apply a {@link SessionPatch} to a session (the engines that keep sessions as one value use this; the
 * others apply the same rules in their own terms): removed channels go first, then added ones are
 * appended when new; a position (or a presence) given for a channel replaces the one kept.
 */
export function patchSession(session: SessionRecord, patch: SessionPatch): SessionRecord {
  const channels = session.channels.filter((c) => !patch.unsubscribe?.includes(c));
  const positions = bareRecord<ChannelPosition>();
  for (const c of channels) {
    const p = session.positions?.[c];
    if (p !== undefined) positions[c] = p;
  }
  const presence = bareRecord<SessionPresence>();
  for (const c of channels) {
    const p = session.presence?.[c];
    if (p !== undefined) presence[c] = p;
  }
  for (const entry of patch.subscribe ?? []) {
    const { channel, position } = entry;
    if (!channels.includes(channel)) channels.push(channel);
    if (position !== undefined) positions[channel] = { epoch: position.epoch, offset: position.offset };
    if (entry.presence !== undefined) presence[channel] = entry.presence;
  }
  return copySession({ ...session, channels, positions, presence, expiresAt: patch.expiresAt ?? session.expiresAt });
}

/** A {@link MessageOutcome} as flat fields, the way every engine keeps it: `result` as JSON text. */
export interface OutcomeFields {
  readonly state: MessageOutcome['state'];
  /** The incident of a `failed` outcome. */
  readonly incident: string | undefined;
  /** The result of a `done` outcome, as {@link encodeData} writes it. */
  readonly result: string | undefined;
}

/** Flatten an outcome to store it (the result is encoded: nothing is shared with the caller). */
export function outcomeFields(outcome: MessageOutcome): OutcomeFields {
  return {
    state: outcome.state,
    incident: outcome.state === 'failed' ? outcome.incident : undefined,
    result: outcome.state === 'done' && outcome.result !== undefined ? encodeData(outcome.result) : undefined,
  };
}

/** The outcome of stored fields; an unknown state reads as `running` (its handler started, its end unknown). */
export function outcomeFrom(state: string, incident: string | undefined, result: string | undefined): MessageOutcome {
  switch (state) {
    case 'failed':
      return { state: 'failed', incident: incident ?? '' };
    case 'done':
      return result === undefined ? { state: 'done' } : { state: 'done', result: decodeData(result) };
    case 'claimed':
      return { state: 'claimed' };
    default:
      return { state: 'running' };
  }
}
