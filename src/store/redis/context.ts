/**
 * What every part of the Redis engine works on: the command connection, the key layout under the
 * store's prefix, the store's options, the replicas' acknowledgement and the rollback fence.
 * @packageDocumentation
 */
import type { ResolvedStoreOptions } from '../options.js';
import type { RedisConnection } from './connection.js';
import type { Replication } from './durability.js';
import type { RollbackFence } from './fence.js';
import type { ChannelKeys, RedisKeys } from './keys.js';

/** How the append script publishes a message for other processes (see `fanout.ts`). */
export interface PublishTarget {
  /** `PUBLISH` (one Redis, or the broadcast channel), `SPUBLISH` (a shard channel on a cluster). */
  readonly command: 'PUBLISH' | 'SPUBLISH';
  /** The pub/sub channel of an append to the channel of `keys`. */
  topic(keys: ChannelKeys): string;
}

/** The engine's shared state. */
export interface RedisContext {
  readonly connection: RedisConnection;
  readonly keys: RedisKeys;
  readonly options: ResolvedStoreOptions;
  readonly fanout: PublishTarget;
  /** With durability `replicas` or `replicas-aof`: appends go through it (their own connection and `WAIT`). */
  readonly replication: Replication | undefined;
  /** The rollback fence's memory of what this store has seen (every durability). */
  readonly fence: RollbackFence;
}
