/**
 * The Redis engine's key layout under a prefix, how variable parts are escaped into key names, and how
 * long records stay in Redis. Every key one operation touches is named here, so the scripts and the
 * code that calls them agree.
 * @packageDocumentation
 */

/** Key names under a prefix. Every variable part is escaped by {@link keyPart}. */
export interface RedisKeys {
  /** Hash: `epoch`, `last` (newest offset given out), `time` (newest message time). */
  meta(channelPart: string): string;
  /** Stream: the retained history, entry id `<offset>-0`, fields `t` (time) and `d` (JSON data). */
  history(channelPart: string): string;
  /** Set of every written channel's part, so sweeps find the channels without KEYS/SCAN over the database. */
  readonly channels: string;
  /** String: the empty epoch of unwritten channels (made once; gone with the data it speaks for). */
  readonly emptyEpoch: string;
  /** Hash: the first message stored with an idempotency key, and `until`. */
  idempotency(key: string): string;
  /** Sorted set of one scope's idempotency keys (as key parts), scored by when they were stored. */
  idempotencyScope(scope: string): string;
  /** Text before the key part in {@link RedisKeys.idempotency}, for scripts that name keys from a scope's set. */
  readonly idempotencyHead: string;
  /** Hash: `r` a session record as JSON (without its channels and expiry), `e` its expiry. */
  session(id: string): string;
  /** Hash: one session's channels, field = the channel's key part, value = `seq|epoch|offset` (epoch and offset may be empty); field `''` holds the last seq. */
  sessionChannels(id: string): string;
  /** Hash: `state`, `incident`, `result`, `fp`, `until` of one client message id of one scope. */
  claim(session: string, messageId: number): string;
  /** Sorted set of one scope's claimed message ids, scored by the id (what windows and `deleteSession` use). */
  claims(session: string): string;
  /** Text before the message id in {@link RedisKeys.claim}, for the delete-session script. */
  readonly claimHead: string;
  /** Text after the message id in {@link RedisKeys.claim}. */
  claimTail(session: string): string;
  /** The pub/sub channel every append is published on (not a key). */
  readonly fanout: string;
  /** String: held for a while by the process doing the periodic sweep, so processes take turns. */
  readonly sweepLock: string;
}

/**
 * A variable part of a key (channel name, session id, idempotency key), escaped so that distinct
 * strings give distinct keys. JSON string escaping is injective and leaves ordinary names readable
 * (`room:1` stays `room:1`); it also spells lone surrogates out, which UTF-8 would otherwise merge
 * into one replacement character.
 */
export function keyPart(value: string): string {
  return JSON.stringify(value).slice(1, -1);
}

/** The key layout under `prefix`. Fixed tags come before the variable part, so no two kinds collide. */
export function redisKeys(prefix: string): RedisKeys {
  return {
    meta: (channel) => `${prefix}ch:${channel}`,
    history: (channel) => `${prefix}hist:${channel}`,
    channels: `${prefix}channels`,
    emptyEpoch: `${prefix}empty-epoch`,
    idempotency: (key) => `${prefix}idem:${keyPart(key)}`,
    idempotencyScope: (scope) => `${prefix}idemscope:${keyPart(scope)}`,
    idempotencyHead: `${prefix}idem:`,
    session: (id) => `${prefix}sess:${keyPart(id)}`,
    sessionChannels: (id) => `${prefix}sesschan:${keyPart(id)}`,
    // The message id (an integer: no ':') comes first, so any session id parses back unambiguously.
    claim: (session, messageId) => `${prefix}claim:${messageId}:${keyPart(session)}`,
    claims: (session) => `${prefix}claims:${keyPart(session)}`,
    claimHead: `${prefix}claim:`,
    claimTail: (session) => `:${keyPart(session)}`,
    fanout: `${prefix}fanout`,
    sweepLock: `${prefix}sweep-lock`,
  };
}

/**
 * How much longer than its logical lifetime a record stays in Redis, in ms. Whether a session,
 * idempotency key or claim is live is decided from the store's clock; Redis's expiry only collects
 * the garbage, this much later, so a process whose clock lags Redis's by less still sees its records.
 */
export const EXPIRY_GRACE_MS = 60_000;
/** Lifetimes beyond this (about 3000 years) are kept without a Redis expiry. */
const MAX_PX_MS = 1e14;

/**
 * A Redis expiry (PX, in ms) for a record that stays live `ms` longer, as the scripts take it: `''`
 * keeps the record without expiry.
 */
export function pxFor(ms: number): string {
  const px = Math.max(0, Math.ceil(ms)) + EXPIRY_GRACE_MS;
  return Number.isFinite(px) && px <= MAX_PX_MS ? String(px) : '';
}
