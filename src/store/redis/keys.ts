/**
 * The Redis engine's key layout under a prefix, how variable parts are escaped into key names, and how
 * long records stay in Redis. Every key one operation touches is named here, so the scripts and the
 * code that calls them agree.
 *
 * The layout is made for Redis Cluster and used unchanged on a standalone Redis: every key carries a
 * hash tag (`{…}`, right after the prefix), and the keys one operation touches share it, so each script
 * runs on one slot.
 * - A channel's keys carry its partition's tag (`{p<k>}`, see `partitions.ts`): its meta hash, its
 *   stream, its dedupe records, its pub/sub topic, and whatever a later feature keeps per channel
 *   ({@link ChannelKeys.key}: presence, a committed offset…). Channels of one partition share a slot.
 * - A partition's own keys (its set of written channels, its empty epoch) carry the same tag.
 * - A session's keys, and the claims of the scope of the same name, carry `{s:<id>}`.
 * - An idempotency key's owner (which channel first used it) carries `{k:<key>}`.
 * @packageDocumentation
 */
import { PARTITIONS, partitionOf, partitionTags } from './partitions.js';

/**
 * A variable part of a key (channel name, session id, idempotency key), escaped so that distinct
 * strings give distinct keys. JSON string escaping is injective and leaves ordinary names readable
 * (`room:1` stays `room:1`); it also spells lone surrogates out, which UTF-8 would otherwise merge
 * into one replacement character.
 */
export function keyPart(value: string): string {
  return JSON.stringify(value).slice(1, -1);
}

/**
 * A variable part inside a hash tag: {@link keyPart} with `}` spelled `\u007d`, so the tag ends where the
 * layout says (still injective: the result is a JSON string body that decodes to `value`).
 */
function tagPart(value: string): string {
  return keyPart(value).replaceAll('}', '\\u007d');
}

/**
 * The keys of one channel, all in the slot of its partition's tag. Composite names quote the channel
 * (`idem:"<channel>"<key>`): a JSON string is self-delimiting, so no two (channel, key) pairs share a name.
 */
export interface ChannelKeys {
  /** The channel's key part ({@link keyPart}): the member of its partition's channel set. */
  readonly part: string;
  /** Its partition (0 ≤ k < `PARTITIONS`). */
  readonly partition: number;
  /** Hash: `epoch`, `last` (newest offset given out), `time` (newest message time). */
  readonly meta: string;
  /** Stream: the retained history, entry id `<offset>-0`, fields `t` (time) and `d` (JSON data). */
  readonly history: string;
  /** The pub/sub topic its appends are published on (not a key; a shard channel in the same slot). */
  readonly topic: string;
  /** Set of the key parts of its partition's written channels (sweeps read these, never KEYS/SCAN). */
  readonly channels: string;
  /** String: the empty epoch of its partition's unwritten channels. */
  readonly emptyEpoch: string;
  /** Hash: the first message appended with an idempotency key on this channel, and `until`. */
  idempotency(key: string): string;
  /** Text before the key part in {@link ChannelKeys.idempotency}, for scripts that name keys from a scope's set. */
  readonly idempotencyHead: string;
  /** Sorted set of one scope's idempotency keys on this channel (as key parts), scored by when they were stored. */
  idempotencyScope(scope: string): string;
  /**
   * Sorted set of the client message ids one scope published on this channel, scored by id; each member
   * `id|until|fingerprint|epoch|offset|time` (see APPEND_LUA): the record that makes a resent `pub` a duplicate.
   */
  publishedIds(scope: string): string;
  /**
   * Any other key of this channel, in its slot: `<prefix>{<tag>}<kind>:<channel>`. For features that keep
   * something per channel and must touch it in the same script as the channel's history (presence, a
   * committed offset). `kind` must not be one of the kinds above (`ch`, `hist`, `t`, `idem`, `idemscope`, `pubid`).
   */
  key(kind: string): string;
}

/** The keys of one partition, for sweeps and probes. */
export interface PartitionKeys {
  /** Set of the key parts of the partition's written channels. */
  readonly channels: string;
  /** String: the partition's empty epoch. */
  readonly emptyEpoch: string;
  /** The meta hash of the channel whose key part is `part`. */
  meta(part: string): string;
  /** The stream of the channel whose key part is `part`. */
  history(part: string): string;
  /** A pub/sub topic in the partition's slot, for liveness pings of the connection that holds it. */
  readonly ping: string;
  /**
   * Any other key of this partition, in its slot: `<prefix>{<tag>}<kind>`, for features that index a
   * partition's records (presence). `kind` must not be one of the names above, nor end like a channel's
   * kinds (`<kind>:<channel>`).
   */
  key(kind: string): string;
}

/** Key names under a prefix. Every variable part is escaped by {@link keyPart}. */
export interface RedisKeys {
  /** The prefix every key starts with (features that keep keys under a tag of their own build on it). */
  readonly prefix: string;
  /** The keys of a channel. */
  channel(channel: string): ChannelKeys;
  /** The keys of a partition. */
  partition(k: number): PartitionKeys;
  /** Hash: `channel` (JSON), `until`: which channel first used an idempotency key (keys are global across channels). */
  keyOwner(key: string): string;
  /** Hash: `r` a session record as JSON (without its channels and expiry), `e` its expiry. */
  session(id: string): string;
  /** Hash: one session's channels, field = the channel's key part, value = `seq|epoch|offset` (epoch and offset may be empty); field `''` holds the last seq. */
  sessionChannels(id: string): string;
  /** Hash: `state`, `incident`, `result`, `fp`, `until`, `pub` of one client message id of one scope. */
  claim(scope: string, messageId: number): string;
  /** Sorted set of one scope's claimed message ids, scored by the id (what windows and `deleteSession` use). */
  claims(scope: string): string;
  /** Text before the message id in {@link RedisKeys.claim}, for the scripts that name claims from the index. */
  claimHead(scope: string): string;
  /** Hash: `version`, `empty` (the empty epoch a fresh store starts with), `ready` (every partition initialised). */
  readonly layout: string;
  /** Keys of the layout before partitioning (version 1), looked for so that old data is never silently ignored. */
  readonly legacy: readonly string[];
  /** String: held for a while by the process doing the periodic sweep, so processes take turns. */
  readonly sweepLock: string;
  /** The pub/sub channel of the `broadcast` fan-out: every append, every process (not a key). */
  readonly broadcast: string;
}

/** The key layout under `prefix` (which holds no `{` or `}`: the first tag must be the layout's). */
export function redisKeys(prefix: string): RedisKeys {
  const tags = partitionTags();
  const partitions: PartitionKeys[] = [];
  const partition = (k: number): PartitionKeys => {
    let keys = partitions[k];
    if (keys === undefined) {
      const base = `${prefix}{${tags[k]!}}`;
      keys = partitions[k] = {
        channels: `${base}channels`,
        emptyEpoch: `${base}empty`,
        meta: (part) => `${base}ch:${part}`,
        history: (part) => `${base}hist:${part}`,
        ping: `${base}ping`,
        key: (kind) => `${base}${kind}`,
      };
    }
    return keys;
  };
  const session = (id: string): string => `${prefix}{s:${tagPart(id)}}`;
  return {
    prefix,
    channel(channel) {
      const k = partitionOf(channel);
      const p = partition(k);
      const part = keyPart(channel);
      const base = `${prefix}{${tags[k]!}}`;
      const quoted = `"${part}"`;
      return {
        part,
        partition: k,
        meta: p.meta(part),
        history: p.history(part),
        topic: `${base}t:${part}`,
        channels: p.channels,
        emptyEpoch: p.emptyEpoch,
        idempotency: (key) => `${base}idem:${quoted}${keyPart(key)}`,
        idempotencyHead: `${base}idem:${quoted}`,
        idempotencyScope: (scope) => `${base}idemscope:${quoted}${keyPart(scope)}`,
        publishedIds: (scope) => `${base}pubid:${quoted}${keyPart(scope)}`,
        key: (kind) => `${base}${kind}:${part}`,
      };
    },
    partition,
    keyOwner: (key) => `${prefix}{k:${tagPart(key)}}own`,
    session: (id) => `${session(id)}sess`,
    sessionChannels: (id) => `${session(id)}chans`,
    claim: (scope, messageId) => `${session(scope)}claim:${messageId}`,
    claims: (scope) => `${session(scope)}claims`,
    claimHead: (scope) => `${session(scope)}claim:`,
    layout: `${prefix}layout`,
    legacy: [`${prefix}channels`, `${prefix}empty-epoch`],
    sweepLock: `${prefix}sweep-lock`,
    broadcast: `${prefix}fanout`,
  };
}

/** Every partition, in order (for sweeps and initialisation). */
export function allPartitions(): number[] {
  return Array.from({ length: PARTITIONS }, (_, k) => k);
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
