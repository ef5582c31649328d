/**
 * The Redis store as users see it: its class and its factory.
 * @packageDocumentation
 */
import { checkListener } from '../checks.js';
import type { AvailabilityListener } from '../availability.js';
import { GuardedStore } from '../guarded.js';
import { resolveStoreOptions } from '../options.js';
import type { ChannelFollow, StoredMessage, StoreRollback } from '../types.js';
import { RedisCore } from './core.js';
import type { FanoutStats } from './fanout.js';
import { resolveRedisSettings, type RedisDurability, type RedisStoreOptions } from './options.js';

/** Counts of a {@link RedisStore}'s durability and rollback fence, for metrics. */
export interface DurabilityStats {
  /** Appends answered "outcome unknown" because fewer replicas than asked acknowledged them in time. */
  readonly replicationShort: number;
  /** Channels whose epoch this store's fence rotated (see {@link RedisStore.onRollback}). */
  readonly rollbacks: number;
  /** Channels the fence forgot to stay within its bound. */
  readonly fenceEvicted: number;
  /** Channels the fence remembers now. */
  readonly fenceChannels: number;
}

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
 * - One Redis (`url`) or a Redis Cluster (`cluster`), with the same key layout (`keys.ts`): every key
 *   carries a hash tag, and every script touches the keys of one slot.
 * - Each channel: a hash `{p<k>}ch:<channel>` (epoch, newest offset, newest time) and a stream
 *   `{p<k>}hist:<channel>` whose entry ids are `<offset>-0`, so reads by offset are XRANGE; `k` is the
 *   channel's partition, which all its keys share.
 * - `append` is one Lua script in the channel's slot: the dedupe checks, offset, XADD, trimming, the
 *   dedupe records and the publish on the channel's topic are atomic. A global idempotency key, or a
 *   client message id, adds a step in its own slot before (and, for an id, after).
 * - Fan-out by interest (`fanout: 'interest'`, the default): a process receives the appends of the
 *   channels it follows ({@link RedisStore.follow}), on one subscriber connection per Redis (per cluster
 *   master); `fanout: 'broadcast'` sends every append to every process instead.
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
 * - `durability` (see {@link RedisDurability}): with `'replicas'` an append is acknowledged, readable and
 *   fanned out only once `replicas` replicas have it (`WAIT`, one per batch, on a connection of its own);
 *   reads and heads never go past a channel's committed offset. In every mode the rollback fence
 *   ({@link RedisStore.onRollback}) rotates a channel's epoch when Redis shows less of it than this
 *   store saw committed, rather than reuse offsets.
 * - Data of the layout before partitioning (lifeline before Redis Cluster support) is refused, with
 *   a clear error, never read as empty.
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
   * Call `listener` for messages appended under this prefix by any process (this one included), in the
   * order Redis published each channel's: with `fanout: 'interest'`, those of the channels this store
   * follows ({@link RedisStore.follow}, including for a linger after their release); with `'broadcast'`,
   * every channel's. Messages published while a subscription was down are not replayed here: they are
   * reported by {@link RedisStore.onResubscribe}, and readers catch up by offset ({@link RedisStore.read}).
   * @throws `StoreUnavailableError` when the store is closed
   */
  watch(listener: (message: StoredMessage) => void): () => void {
    this.assertOpen();
    checkListener(listener);
    return this.#core.watch(listener);
  }

  /**
   * Follow a channel: its topic is subscribed (batched with the other follows of the moment) on the
   * first follow, and unsubscribed `lingerMs` after the last release. `ready` resolves once the
   * subscription is confirmed (at once when it already is), and rejects with `StoreUnavailableError`
   * when that takes longer than `commandTimeoutMs`.
   * @throws `StoreUnavailableError` when the store is closed; TypeError for an empty channel
   */
  follow(channel: string): ChannelFollow {
    this.assertOpen();
    if (typeof channel !== 'string' || channel.length === 0) throw new TypeError('channel must be a non-empty string');
    return this.#core.follow(channel);
  }

  /**
   * Be told which followed channels may have missed appends, once their subscription is restored
   * after a break: a reconnect, a liveness check that failed, a failover, a slot that moved, Redis
   * unsubscribing us. Read them from history. Returns the unsubscribe function.
   * @throws `StoreUnavailableError` when the store is closed
   */
  onResubscribe(listener: (channels: readonly string[]) => void): () => void {
    this.assertOpen();
    checkListener(listener);
    return this.#core.onResubscribe(listener);
  }

  /**
   * Be told each time the rollback fence rotated a channel's epoch: this store had seen the channel
   * committed up to `seen` in `epoch`, and Redis then held only `found` in that same epoch (a failover
   * to a replica that was behind). The channel's history went with the old epoch, so readers holding
   * its offsets are told their history is incomplete; offsets are never reused with other data in one
   * epoch. The fence remembers, per channel, the highest committed offset this store saw in the
   * current epoch (its appends, reads, heads and the fan-out's messages), for at most
   * `FENCE_CAPACITY` channels (the least recently seen is forgotten first, with a `fence-evicted`
   * event). Returns the unsubscribe function.
   * @throws `StoreUnavailableError` when the store is closed
   */
  onRollback(listener: (rollback: StoreRollback) => void): () => void {
    this.assertOpen();
    checkListener(listener);
    return this.#core.onRollback(listener);
  }

  /** Counts of the durability setting and the rollback fence (see {@link DurabilityStats}). */
  durabilityStats(): DurabilityStats {
    return this.#core.durabilityStats();
  }

  /** The fan-out's counts: appends received from Redis, channels followed, subscriber connections, resubscriptions. */
  fanoutStats(): FanoutStats {
    return this.#core.fanoutStats();
  }
}

/**
 * Create a Redis store (see {@link RedisStore}). Returns at once; the connection is made in the
 * background, and the first operations wait for that first attempt (bounded by `commandTimeoutMs`).
 * @param options - `url` (or `cluster`) and engine settings, plus history bounds, dedupe TTL and clock
 * @throws TypeError or RangeError for an invalid option
 * @example
 * ```ts
 * import { createRedisStore } from 'lifeline/store/redis';
 * const store = createRedisStore({ url: 'redis://127.0.0.1:6379', prefix: 'chat:' });
 * // or a Redis Cluster: createRedisStore({ cluster: ['redis://10.0.0.1:7000', 'redis://10.0.0.2:7000'] })
 * store.onAvailability((up, reason) => console.log(up ? 'redis up' : 'redis down', reason));
 * const { message } = await store.append('news', { title: 'hello' }, { idempotencyKey: 'post-17' });
 * await store.close();
 * ```
 */
export function createRedisStore(options: RedisStoreOptions): RedisStore {
  return new RedisStore(options);
}
