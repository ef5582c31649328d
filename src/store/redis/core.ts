/**
 * The Redis engine's core: the operations (in `history.ts`, `sessions.ts`, `claims.ts`) over one command
 * connection, the periodic sweep that one process per interval does, and the fan-out behind `watch`,
 * `follow` and `onResubscribe`.
 * @packageDocumentation
 */
import type { Availability } from '../availability.js';
import type { StoreCore } from '../core.js';
import { AUTO_SWEEP_INTERVAL_MS, type ResolvedStoreOptions } from '../options.js';
import type { AppendOptions, AppendResult, ChannelFollow, ChannelPosition, ClaimOptions, ClaimResult, JsonValue, MessageOutcome, ReadResult, SessionPatch, SessionRecord, StoredMessage, StoreRollback } from '../types.js';
import { claimMessage, finishMessage } from './claims.js';
import { describeCluster, describeUrl, RedisConnection, type CommandClient } from './connection.js';
import type { PublishTarget, RedisContext } from './context.js';
import { checkDurability, Replication } from './durability.js';
import { Fanout, type FanoutStats } from './fanout.js';
import { RollbackFence } from './fence.js';
import { append, head, read, sweepHistory } from './history.js';
import { redisKeys } from './keys.js';
import { ensureLayout } from './layout.js';
import { FENCE_CAPACITY, type RedisSettings, type RedisStoreEvent } from './options.js';
import { RedisPresence } from './presence.js';
import { deleteSession, loadSession, saveSession, updateSession } from './sessions.js';

/** The Redis engine behind the guard. */
export class RedisCore implements StoreCore {
  readonly label: string;
  readonly #ctx: RedisContext;
  readonly #settings: RedisSettings;
  #fanout: Fanout | undefined;
  /** The connection of appends and their WAIT (durability `replicas`, `replicas-aof`). */
  readonly #writer: RedisConnection | undefined;
  #closed = false;
  /** Presence records (`presence.ts`), shared by every process on the prefix. */
  readonly presence: RedisPresence;

  /** Connect (in the background: nothing here waits for Redis). */
  constructor(settings: RedisSettings, options: ResolvedStoreOptions) {
    this.#settings = settings;
    const where = settings.cluster !== undefined ? describeCluster(settings.cluster) : describeUrl(settings.url);
    this.label = `the redis store (${where}, prefix ${settings.prefix})`;
    const keys = redisKeys(settings.prefix);
    const emit = (event: RedisStoreEvent): void => this.#emit(event);
    // A Redis that cannot keep the durability asked for is refused like a foreign layout: before serving.
    const check = async (client: CommandClient, at: string): Promise<void> => {
      await ensureLayout(client, keys, settings.prefix, at);
      await checkDurability(client, settings.durability, at);
    };
    const connection = new RedisConnection(settings, this.label, emit, check);
    const fanout: PublishTarget =
      settings.fanout === 'broadcast'
        ? { command: 'PUBLISH', topic: () => keys.broadcast }
        : { command: connection.cluster ? 'SPUBLISH' : 'PUBLISH', topic: (channel) => channel.topic };
    let replication: Replication | undefined;
    if (settings.durability !== 'primary') {
      // Appends and their WAIT on a connection of their own: see durability.ts for why.
      this.#writer = new RedisConnection(settings, `${this.label} (appends)`, emit, check);
      replication = new Replication(this.#writer, settings.durability, settings.replicas, settings.replicationTimeoutMs, emit);
    }
    const fence = new RollbackFence(FENCE_CAPACITY, (channel) => emit({ type: 'fence-evicted', channel }));
    this.#ctx = { connection, keys, options, fanout, replication, fence };
    this.presence = new RedisPresence(this.#ctx, {
      watchPayloads: (listener) => this.#fanoutOf().watchPresence(listener),
      onResubscribe: (listener) => this.#fanoutOf().onResubscribe(listener),
      invalid: (payload) => this.#emit({ type: 'fanout-invalid', payload: payload.slice(0, 200) }),
      closed: () => this.#closed,
    });
  }

  /** Whether Redis can be reached right now: the command connection is ready. */
  get availability(): Availability {
    return this.#ctx.connection.availability;
  }

  append(channel: string, data: JsonValue, json: string, options: AppendOptions | undefined, now: number): Promise<AppendResult> {
    return append(this.#ctx, channel, data, json, options, now);
  }

  read(channel: string, from: ChannelPosition, limit: number, maxBytes: number, now: number): Promise<ReadResult> {
    return read(this.#ctx, channel, from, limit, maxBytes, now);
  }

  head(channel: string): Promise<ChannelPosition> {
    return head(this.#ctx, channel);
  }

  saveSession(session: SessionRecord, now: number): Promise<void> {
    return saveSession(this.#ctx, session, now);
  }

  updateSession(id: string, patch: SessionPatch, now: number): Promise<boolean> {
    return updateSession(this.#ctx, id, patch, now);
  }

  loadSession(id: string, now: number): Promise<SessionRecord | undefined> {
    return loadSession(this.#ctx, id, now);
  }

  deleteSession(id: string): Promise<void> {
    return deleteSession(this.#ctx, id);
  }

  claimMessage(scope: string, messageId: number, options: ClaimOptions | undefined, now: number): Promise<ClaimResult> {
    return claimMessage(this.#ctx, scope, messageId, options, now);
  }

  finishMessage(scope: string, messageId: number, outcome: MessageOutcome, now: number): Promise<void> {
    return finishMessage(this.#ctx, scope, messageId, outcome, now);
  }

  sweep(now: number): Promise<void> {
    return sweepHistory(this.#ctx, now, () => this.#closed);
  }

  /** The periodic sweep, in the background: one process per interval does it (a lock key with Redis's own expiry). */
  autoSweep(now: number): Promise<void> | undefined {
    if (this.#ctx.options.maxAgeMs === Infinity) return undefined;
    const { connection, keys } = this.#ctx;
    return (async () => {
      try {
        const got = await connection.exec('sweep', () => connection.client.set(keys.sweepLock, '1', 'PX', AUTO_SWEEP_INTERVAL_MS, 'NX'));
        if (got === 'OK') await this.sweep(now);
      } catch (error) {
        if (!this.#closed) this.#emit({ type: 'sweep-failed', error });
      }
    })();
  }

  /** The fan-out, made on first use. */
  #fanoutOf(): Fanout {
    const { connection, keys } = this.#ctx;
    return (this.#fanout ??= new Fanout({
      connection,
      keys,
      mode: this.#settings.fanout,
      lingerMs: this.#settings.lingerMs,
      livenessIntervalMs: this.#settings.livenessIntervalMs,
      commandTimeoutMs: this.#settings.commandTimeoutMs,
      onEvent: (event) => this.#emit(event),
      // Every append delivered was committed: the fence learns how far each channel got.
      observe: (channel, epoch, offset) => this.#ctx.fence.observe(channel, epoch, offset),
    }));
  }

  /** Add a listener of appends delivered to this process (see `RedisStore.watch`). */
  watch(listener: (message: StoredMessage) => void): () => void {
    return this.#fanoutOf().watch(listener);
  }

  /** Follow a channel (see `RedisStore.follow`). */
  follow(channel: string): ChannelFollow {
    return this.#fanoutOf().follow(channel);
  }

  /** Add a listener of resubscriptions (see `RedisStore.onResubscribe`). */
  onResubscribe(listener: (channels: readonly string[]) => void): () => void {
    return this.#fanoutOf().onResubscribe(listener);
  }

  /** Add a listener of the fence's rotations (see `RedisStore.onRollback`). */
  onRollback(listener: (rollback: StoreRollback) => void): () => void {
    return this.#ctx.fence.onRollback(listener);
  }

  /** The durability's counts: appends short of replicas, rotations, the fence's channels. */
  durabilityStats(): { replicationShort: number; rollbacks: number; fenceEvicted: number; fenceChannels: number } {
    const fence = this.#ctx.fence.stats();
    return { replicationShort: this.#ctx.replication?.short ?? 0, rollbacks: fence.rollbacks, fenceEvicted: fence.evicted, fenceChannels: fence.channels };
  }

  /** The fan-out's counts (zeros before it is used). */
  fanoutStats(): FanoutStats {
    return this.#fanout?.stats() ?? { received: 0, followed: 0, connections: 0, resubscribed: 0 };
  }

  /** Stop the fan-out and close the connections (waiting for replies already due). */
  async close(): Promise<void> {
    this.#closed = true;
    const fanout = this.#fanout;
    this.#fanout = undefined;
    await Promise.all([fanout?.close(), this.#ctx.connection.close(), this.#writer?.close()]);
  }

  #emit(event: RedisStoreEvent): void {
    try {
      this.#settings.onEvent?.(event);
    } catch {
      // A logging callback must not break the store.
    }
  }
}
