/**
 * The Redis engine's options and events: what users pass to `createRedisStore`, the defaults, the
 * checks, and what the store reports through `onEvent`.
 * @packageDocumentation
 */
import type { RedisOptions } from 'ioredis';
import type { StoreOptions } from '../types.js';
import type { FanoutEvent } from './fanout.js';

/** Default key prefix. */
export const DEFAULT_REDIS_PREFIX = 'lifeline:';
/** Default interval of the fan-out liveness check, in ms. */
export const DEFAULT_LIVENESS_INTERVAL_MS = 5000;
/** Default bound on one Redis operation, in ms. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 5000;
/** Default time a channel's topic stays subscribed after its last local follower left, in ms. */
export const DEFAULT_LINGER_MS = 30_000;
/** Default longest wait for replicas to acknowledge a batch of appends (`durability: 'replicas'`), in ms. */
export const DEFAULT_REPLICATION_TIMEOUT_MS = 1000;
/** Channels whose highest committed offset a store remembers for its rollback fence (see `fence.ts`). */
export const FENCE_CAPACITY = 100_000;

/**
 * When an append counts as done (acknowledged, fanned out, readable):
 * - `primary` (the default): when the Redis primary has it. Nothing more is asked of Redis, so it costs
 *   nothing and works without replicas; a failover to a replica that was behind can lose the last
 *   acknowledged appends (the rollback fence then rotates the channel's epoch: readers are told).
 * - `replicas`: when `replicas` replicas have it too (`WAIT`). An acknowledged append survives the
 *   failover to any of them.
 * - `replicas-aof`: when `replicas` replicas have written it to their append-only file (`WAITAOF`,
 *   Redis 7.2+; refused at start on older Redis).
 */
export type RedisDurability = 'primary' | 'replicas' | 'replicas-aof';

/**
 * How appends reach other processes.
 * - `interest` (the default): each channel has its own pub/sub topic (a shard channel on Redis Cluster),
 *   and a process subscribes to the topics of the channels it follows ({@link RedisStore.follow}) only:
 *   a process receives the appends its own subscribers need, and no others.
 * - `broadcast`: every append goes to one pub/sub channel that every process subscribes to. Fewer
 *   subscriptions; every process receives and decodes every append of every channel.
 */
export type RedisFanoutMode = 'interest' | 'broadcast';

/** What a `RedisStore` reports through {@link RedisStoreOptions.onEvent}: for logs and metrics. */
export type RedisStoreEvent =
  | FanoutEvent
  | { readonly type: 'connection-error'; readonly connection: 'command'; readonly error: Error }
  | { readonly type: 'command-timeout'; readonly operation: string; readonly timeoutMs: number }
  | { readonly type: 'sweep-failed'; readonly error: unknown }
  /** A batch of appends that fewer than `replicas` replicas acknowledged in time: each was answered "outcome unknown". */
  | { readonly type: 'replication-short'; readonly appends: number; readonly acknowledged: number; readonly replicas: number }
  /** The rollback fence forgot the channel it saw least recently, to stay within its bound. */
  | { readonly type: 'fence-evicted'; readonly channel: string };

/** Options of `createRedisStore`: `url` (one Redis) or `cluster` (a Redis Cluster). */
export interface RedisStoreOptions extends StoreOptions {
  /** Redis URL, e.g. `redis://user:pass@host:6379/0` or `rediss://…` for TLS. Required unless `cluster` is given. */
  url?: string;
  /**
   * A Redis Cluster: URLs of some of its nodes (`redis://host:port`; the rest are discovered), e.g.
   * `['redis://10.0.0.1:7000', 'redis://10.0.0.2:7000']`. Credentials and TLS (`rediss://`) of the first
   * apply to every node. Topics are shard channels (`SSUBSCRIBE`/`SPUBLISH`, Redis 7+).
   */
  cluster?: readonly string[];
  /**
   * Prefix of every key and of the fan-out channel, so several deployments (or tests) share one Redis.
   * Processes that share history must use the same prefix. @default 'lifeline:'
   */
  prefix?: string;
  /**
   * Where the fan-out subscriber connects (one Redis only). Redis forwards publishes to its replicas'
   * subscribers, so this may name a replica to take pub/sub load off the primary. @default url
   */
  subscriberUrl?: string;
  /** How appends reach other processes: per-channel topics a process follows, or one broadcast channel. @default 'interest' */
  fanout?: RedisFanoutMode;
  /**
   * How long a channel's topic stays subscribed after its last local follower left, in ms: a client
   * that reconnects within it (to this process) finds the topic still subscribed. At most 10,000 released
   * channels linger at once (the one released longest ago goes first). @default 30000
   */
  lingerMs?: number;
  /**
   * How often each subscriber connection (one per cluster master with followed channels) proves it is
   * alive, in ms: a ping published through the command connection must arrive on it within one
   * interval, else it reconnects, subscribes again, and its channels catch up from history. @default 5000
   */
  livenessIntervalMs?: number;
  /**
   * Longest wait for one Redis operation, in ms. Past it the operation rejects with
   * `StoreUnavailableError` and the connection is re-established (a peer that stopped answering
   * without closing the connection looks exactly like this). @default 5000
   */
  commandTimeoutMs?: number;
  /**
   * When an append is acknowledged: by the primary (`'primary'`), or once `replicas` replicas have it
   * (`'replicas'`, `WAIT`) or have written it to disk (`'replicas-aof'`, `WAITAOF`, Redis 7.2+). Until then
   * it is neither readable nor fanned out. When the replicas do not confirm within
   * `replicationTimeoutMs`, the append rejects with `StoreOutcomeUnknownError` (resend it with its
   * idempotency key). See {@link RedisDurability}. @default 'primary'
   */
  durability?: RedisDurability;
  /** How many replicas must acknowledge an append (`durability` `'replicas'` or `'replicas-aof'`); an integer >= 1. @default 1 */
  replicas?: number;
  /**
   * Longest wait for the replicas' acknowledgement of a batch of appends, in ms; less than
   * `commandTimeoutMs`. @default 1000 (half of `commandTimeoutMs` when that is less than 2000)
   */
  replicationTimeoutMs?: number;
  /** Told about connection errors, timeouts, fan-out stalls and failed sweeps. Must not throw. */
  onEvent?: (event: RedisStoreEvent) => void;
  /**
   * Further ioredis options (TLS settings, Sentinel, credentials…). The options that make outages
   * fail fast (`enableOfflineQueue`, `maxRetriesPerRequest`, `retryStrategy`, …) and `keyPrefix` are
   * set by the store and cannot be overridden.
   */
  redisOptions?: RedisOptions;
}

/** {@link RedisStoreOptions}' engine settings with their defaults, checked. */
export interface RedisSettings {
  /** One Redis's URL (the first cluster node's, on a cluster: for messages only). */
  readonly url: string;
  readonly cluster: readonly string[] | undefined;
  readonly prefix: string;
  readonly subscriberUrl: string;
  readonly fanout: RedisFanoutMode;
  readonly lingerMs: number;
  readonly livenessIntervalMs: number;
  readonly commandTimeoutMs: number;
  readonly durability: RedisDurability;
  readonly replicas: number;
  readonly replicationTimeoutMs: number;
  readonly onEvent: ((event: RedisStoreEvent) => void) | undefined;
  readonly redisOptions: RedisOptions;
}

function positive(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new RangeError(`${name} must be a finite number of ms > 0, got ${String(value)}`);
  }
  return value;
}

function nonNegative(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new RangeError(`${name} must be a finite number of ms >= 0, got ${String(value)}`);
  }
  return value;
}

function redisUrl(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new TypeError(`${name} must be a non-empty Redis URL`);
  return value;
}

/**
 * Apply the defaults of the engine's settings and check them (the options every engine accepts are
 * checked by `resolveStoreOptions`). Throws `TypeError`/`RangeError` synchronously on a bad option.
 */
export function resolveRedisSettings(options: RedisStoreOptions): RedisSettings {
  const {
    cluster,
    prefix = DEFAULT_REDIS_PREFIX,
    fanout = 'interest',
    lingerMs = DEFAULT_LINGER_MS,
    livenessIntervalMs = DEFAULT_LIVENESS_INTERVAL_MS,
    commandTimeoutMs = DEFAULT_COMMAND_TIMEOUT_MS,
    durability = 'primary',
    replicas = 1,
    onEvent,
    redisOptions = {},
  } = options;
  let nodes: string[] | undefined;
  if (cluster !== undefined) {
    if (!Array.isArray(cluster) || cluster.length === 0) throw new TypeError('cluster must be a non-empty array of node URLs');
    nodes = cluster.map((node: unknown, i) => redisUrl(node, `cluster[${i}]`));
    if (options.url !== undefined) throw new TypeError('give url (one Redis) or cluster (a Redis Cluster), not both');
    if (options.subscriberUrl !== undefined) throw new TypeError('subscriberUrl is for one Redis; on a cluster each master\'s subscriber connects to it');
  }
  const url = nodes !== undefined ? nodes[0]! : redisUrl(options.url, 'url');
  const subscriberUrl = nodes !== undefined ? url : redisUrl(options.subscriberUrl ?? url, 'subscriberUrl');
  if (typeof prefix !== 'string' || prefix.length === 0) throw new TypeError('prefix must be a non-empty string');
  // The first hash tag of every key must be the layout's own (see keys.ts).
  if (/[{}]/.test(prefix)) throw new RangeError(`prefix must not contain { or }, got ${JSON.stringify(prefix)}`);
  if (fanout !== 'interest' && fanout !== 'broadcast') throw new RangeError(`fanout must be 'interest' or 'broadcast', got ${String(fanout)}`);
  if (durability !== 'primary' && durability !== 'replicas' && durability !== 'replicas-aof') {
    throw new RangeError(`durability must be 'primary', 'replicas' or 'replicas-aof', got ${String(durability)}`);
  }
  if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 1) throw new RangeError(`replicas must be an integer >= 1, got ${String(replicas)}`);
  positive(commandTimeoutMs, 'commandTimeoutMs');
  // The replicas' wait runs inside one operation, which commandTimeoutMs bounds: it must fit (the
  // default shrinks to half a short commandTimeoutMs; one given must be less).
  const replicationTimeoutMs = positive(options.replicationTimeoutMs ?? Math.min(DEFAULT_REPLICATION_TIMEOUT_MS, commandTimeoutMs / 2), 'replicationTimeoutMs');
  if (durability !== 'primary' && replicationTimeoutMs >= commandTimeoutMs) {
    throw new RangeError(`replicationTimeoutMs (${replicationTimeoutMs}) must be less than commandTimeoutMs (${commandTimeoutMs})`);
  }
  if (onEvent !== undefined && typeof onEvent !== 'function') throw new TypeError('onEvent must be a function');
  if (typeof redisOptions !== 'object' || redisOptions === null) throw new TypeError('redisOptions must be an object');
  return {
    url,
    cluster: nodes,
    prefix,
    subscriberUrl,
    fanout,
    lingerMs: nonNegative(lingerMs, 'lingerMs'),
    livenessIntervalMs: positive(livenessIntervalMs, 'livenessIntervalMs'),
    commandTimeoutMs: positive(commandTimeoutMs, 'commandTimeoutMs'),
    durability,
    replicas,
    // WAIT takes whole ms; 0 would mean "forever".
    replicationTimeoutMs: Math.max(1, Math.ceil(replicationTimeoutMs)),
    onEvent,
    redisOptions,
  };
}
