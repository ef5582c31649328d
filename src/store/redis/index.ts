/**
 * The Redis engine (ioredis), `lifeline/store/redis`: for several processes and nodes sharing one
 * history. Channel history in Redis Streams, sessions and dedupe records as keys with expiry, and every
 * append published on one pub/sub channel so each process can deliver it to its own subscribers
 * (`RedisStore.watch`). A separate entry point, so users of the other engines never load ioredis.
 *
 * The folder, one concern a file: `keys.ts` (the key layout and expiry), `scripts.ts` (the Lua),
 * `connection.ts` (the command connection, timeouts, availability), `fanout.ts` (the subscriber and
 * its liveness check), `history.ts`, `sessions.ts`, `claims.ts` (the operations), `core.ts` (the engine
 * behind the guard), `options.ts` and `store.ts` (what users pass and get).
 * @packageDocumentation
 */
export { EXPIRY_GRACE_MS } from './keys.js';
export { DEFAULT_COMMAND_TIMEOUT_MS, DEFAULT_LIVENESS_INTERVAL_MS, DEFAULT_REDIS_PREFIX, type RedisStoreEvent, type RedisStoreOptions } from './options.js';
export { RedisStore, createRedisStore } from './store.js';
