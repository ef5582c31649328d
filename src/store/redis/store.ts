/**
 * The Redis store as users see it: its class and its factory.
 * @packageDocumentation
 */
import { checkListener } from '../checks.js';
import type { AvailabilityListener } from '../availability.js';
import { GuardedStore } from '../guarded.js';
import { resolveStoreOptions } from '../options.js';
import type { StoredMessage } from '../types.js';
import { RedisCore } from './core.js';
import { resolveRedisSettings, type RedisStoreOptions } from './options.js';

/**
 * A store in Redis, shared by every process that uses the same Redis and prefix.
 *
 * `durable: true`, meaning as durable as Redis's persistence settings make it: with
 * `appendonly yes` and `appendfsync always`, an acknowledged append survives a Redis crash; with
 * `appendfsync everysec` (Redis's default) the last second or so may be lost; without persistence a
 * Redis restart loses everything. When channel data is lost, the channel gets a new random epoch, so
 * readers holding older offsets are told their history is incomplete, never handed wrong messages.
 * Use `maxmemory-policy noeviction`: an evicted key is lost data.
 *
 * - Each channel: a hash `ch:<channel>` (epoch, newest offset, newest time) and a stream
 *   `hist:<channel>` whose entry ids are `<offset>-0`, so reads by offset are XRANGE.
 * - `append` is one Lua script: idempotency check, offset, XADD, trimming, the idempotency record and
 *   the PUBLISH on `<prefix>fanout` are atomic.
 * - Sessions, idempotency keys and message claims are keys that Redis expires; whether they are live is
 *   decided from this store's clock (`now`), see `EXPIRY_GRACE_MS`.
 * - Outages: while Redis cannot be reached every method rejects promptly with
 *   `StoreUnavailableError` (nothing is queued, nothing acknowledged unstored), `available` is
 *   false, and the store reconnects on its own with backoff. An operation that rejected that way may
 *   or may not have happened: retry appends with an idempotency key.
 * - Reads create nothing (unwritten channels share the empty epoch); the records a client causes are
 *   bounded per scope (claims by id window, scoped idempotency keys by count).
 * - A call that was sent but got no answer (timeout, connection lost) rejects with
 *   `StoreOutcomeUnknownError`: it may have taken effect.
 * - Not for Redis Cluster: scripts touch keys of several channels and sessions.
 */
export class RedisStore extends GuardedStore {
  /** Always `redis`. */
  readonly kind = 'redis';
  /** `true`: as durable as the Redis persistence settings make it (see {@link RedisStore}). */
  readonly durable = true;
  /** The key prefix. */
  readonly prefix: string;

  readonly #core: RedisCore;

  /**
   * Connect (in the background: the constructor does not wait for Redis).
   * @throws TypeError or RangeError for an invalid option
   */
  constructor(options: RedisStoreOptions) {
    if (typeof options !== 'object' || options === null) throw new TypeError('redis store options must be an object');
    const resolved = resolveStoreOptions(options);
    const settings = resolveRedisSettings(options);
    const core = new RedisCore(settings, resolved);
    super(core, resolved);
    this.#core = core;
    this.prefix = settings.prefix;
  }

  /**
   * Whether Redis can be reached right now: the command connection is ready. False until the first
   * connection is made, while reconnecting, and after {@link RedisStore.close}.
   */
  get available(): boolean {
    return this.#core.availability.up && !this.closed;
  }

  /** Be told when {@link RedisStore.available} changes, with a reason for people. Returns the unsubscribe function. */
  onAvailability(listener: AvailabilityListener): () => void {
    return this.#core.availability.subscribe(listener);
  }

  /**
   * Call `listener` for every message appended to any channel under this prefix, by any process
   * (this one included), in the order Redis published them. The first listener opens a subscriber
   * connection; the last unsubscribe closes it. Messages published while the subscription was down
   * are not replayed here: readers catch up by offset ({@link RedisStore.read}).
   * @throws `StoreUnavailableError` when the store is closed
   */
  watch(listener: (message: StoredMessage) => void): () => void {
    this.assertOpen();
    checkListener(listener);
    return this.#core.watch(listener);
  }
}

/**
 * Create a Redis store (see {@link RedisStore}). Returns at once; the connection is made in the
 * background, and the first operations wait for that first attempt (bounded by `commandTimeoutMs`).
 * @param options - `url` and engine settings, plus history bounds, dedupe TTL and clock
 * @throws TypeError or RangeError for an invalid option
 * @example
 * ```ts
 * import { createRedisStore } from 'lifeline/store/redis';
 * const store = createRedisStore({ url: 'redis://127.0.0.1:6379', prefix: 'chat:' });
 * store.onAvailability((up, reason) => console.log(up ? 'redis up' : 'redis down', reason));
 * const { message } = await store.append('news', { title: 'hello' }, { idempotencyKey: 'post-17' });
 * await store.close();
 * ```
 */
export function createRedisStore(options: RedisStoreOptions): RedisStore {
  return new RedisStore(options);
}
