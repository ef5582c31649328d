/**
 * What every part of the Redis engine works on: the command connection, the key layout under the
 * store's prefix, and the store's options.
 * @packageDocumentation
 */
import type { ResolvedStoreOptions } from '../options.js';
import type { RedisConnection } from './connection.js';
import type { RedisKeys } from './keys.js';

/** The engine's shared state. */
export interface RedisContext {
  readonly connection: RedisConnection;
  readonly keys: RedisKeys;
  readonly options: ResolvedStoreOptions;
}
