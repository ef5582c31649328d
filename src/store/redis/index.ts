/**
 * The Redis engine (ioredis), `lifeline/store/redis`: for several processes and nodes sharing one
 * history, on one Redis or a Redis Cluster. Channel history in Redis Streams, sessions and dedupe
 * records as keys with expiry, and every append published on its channel's topic so each process that
 * follows the channel can deliver it to its own subscribers (`RedisStore.follow`, `RedisStore.watch`).
 * A separate entry point, so users of the other engines never load ioredis.
 *
 * The folder, one concern a file: `partitions.ts` (slots, partitions and their hash tags), `keys.ts`
 * (the key layout and expiry), `layout.ts` (the layout version: initialise, or refuse another),
 * `scripts.ts` (the Lua), `connection.ts` (the command connection, timeouts, availability),
 * `fanout.ts` (interest, topics placed on subscribers, resubscriptions), `shard.ts` (one subscriber
 * connection and its liveness check), `history.ts`, `sessions.ts`, `claims.ts` (the operations),
 * `durability.ts` (the replicas' acknowledgement and the commit), `fence.ts` (the rollback fence),
 * `core.ts` (the engine behind the guard), `options.ts` and `store.ts` (what users pass and get).
 * @packageDocumentation
 */
export { EXPIRY_GRACE_MS } from './keys.js';
export type { FanoutStats } from './fanout.js';
export { LAYOUT_VERSION } from './layout.js';
export {
  DEFAULT_COMMAND_TIMEOUT_MS,
  DEFAULT_LINGER_MS,
  DEFAULT_LIVENESS_INTERVAL_MS,
  DEFAULT_REDIS_PREFIX,
  DEFAULT_REPLICATION_TIMEOUT_MS,
  FENCE_CAPACITY,
  type RedisDurability,
  type RedisFanoutMode,
  type RedisStoreEvent,
  type RedisStoreOptions,
} from './options.js';
export { RedisStore, createRedisStore, type DurabilityStats } from './store.js';
export type { StoreRollback } from '../types.js';
