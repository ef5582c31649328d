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

/** What a `RedisStore` reports through {@link RedisStoreOptions.onEvent}: for logs and metrics. */
export type RedisStoreEvent =
  | FanoutEvent
  | { readonly type: 'connection-error'; readonly connection: 'command'; readonly error: Error }
  | { readonly type: 'command-timeout'; readonly operation: string; readonly timeoutMs: number }
  | { readonly type: 'sweep-failed'; readonly error: unknown };

/** Options of `createRedisStore`. */
export interface RedisStoreOptions extends StoreOptions {
  /** Redis URL, e.g. `redis://user:pass@host:6379/0` or `rediss://…` for TLS. */
  url: string;
  /**
   * Prefix of every key and of the fan-out channel, so several deployments (or tests) share one Redis.
   * Processes that share history must use the same prefix. @default 'lifeline:'
   */
  prefix?: string;
  /**
   * Where the fan-out subscriber connects. Redis forwards publishes to its replicas' subscribers, so
   * this may name a replica to take pub/sub load off the primary. @default url
   */
  subscriberUrl?: string;
  /**
   * How often the fan-out subscription proves it is alive, in ms: a ping published through the command
   * connection must arrive on the subscriber within one interval, else the subscriber reconnects.
   * @default 5000
   */
  livenessIntervalMs?: number;
  /**
   * Longest wait for one Redis operation, in ms. Past it the operation rejects with
   * `StoreUnavailableError` and the connection is re-established (a peer that stopped answering
   * without closing the connection looks exactly like this). @default 5000
   */
  commandTimeoutMs?: number;
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
  readonly url: string;
  readonly prefix: string;
  readonly subscriberUrl: string;
  readonly livenessIntervalMs: number;
  readonly commandTimeoutMs: number;
  readonly onEvent: ((event: RedisStoreEvent) => void) | undefined;
  readonly redisOptions: RedisOptions;
}

function positive(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new RangeError(`${name} must be a finite number of ms > 0, got ${String(value)}`);
  }
  return value;
}

/**
 * Apply the defaults of the engine's settings and check them (the options every engine accepts are
 * checked by `resolveStoreOptions`). Throws `TypeError`/`RangeError` synchronously on a bad option.
 */
export function resolveRedisSettings(options: RedisStoreOptions): RedisSettings {
  const {
    url,
    prefix = DEFAULT_REDIS_PREFIX,
    subscriberUrl = url,
    livenessIntervalMs = DEFAULT_LIVENESS_INTERVAL_MS,
    commandTimeoutMs = DEFAULT_COMMAND_TIMEOUT_MS,
    onEvent,
    redisOptions = {},
  } = options;
  if (typeof url !== 'string' || url.length === 0) throw new TypeError('url must be a non-empty Redis URL');
  if (typeof subscriberUrl !== 'string' || subscriberUrl.length === 0) throw new TypeError('subscriberUrl must be a non-empty Redis URL');
  if (typeof prefix !== 'string' || prefix.length === 0) throw new TypeError('prefix must be a non-empty string');
  if (onEvent !== undefined && typeof onEvent !== 'function') throw new TypeError('onEvent must be a function');
  if (typeof redisOptions !== 'object' || redisOptions === null) throw new TypeError('redisOptions must be an object');
  return {
    url,
    prefix,
    subscriberUrl,
    livenessIntervalMs: positive(livenessIntervalMs, 'livenessIntervalMs'),
    commandTimeoutMs: positive(commandTimeoutMs, 'commandTimeoutMs'),
    onEvent,
    redisOptions,
  };
}
