/**
 * The Redis engine's core: the operations (in `history.ts`, `sessions.ts`, `claims.ts`) over one command
 * connection, the periodic sweep that one process per interval does, and the fan-out behind `watch`,
 * `follow` and `onResubscribe`.
 * @packageDocumentation
 */
import type { Availability } from '../availability.js';
import type { StoreCore } from '../core.js';
import { AUTO_SWEEP_INTERVAL_MS, type ResolvedStoreOptions } from '../options.js';
import type { AppendOptions, AppendResult, ChannelFollow, ChannelPosition, ClaimOptions, ClaimResult, JsonValue, MessageOutcome, ReadResult, SessionPatch, SessionRecord, StoredMessage } from '../types.js';
import { claimMessage, finishMessage } from './claims.js';
import { describeCluster, describeUrl, RedisConnection } from './connection.js';
import type { PublishTarget, RedisContext } from './context.js';
import { Fanout, type FanoutStats } from './fanout.js';
import { append, head, read, sweepHistory } from './history.js';
import { redisKeys } from './keys.js';
import { ensureLayout } from './layout.js';
import type { RedisSettings, RedisStoreEvent } from './options.js';
import { RedisPresence } from './presence.js';
import { deleteSession, loadSession, saveSession, updateSession } from './sessions.js';

/** The Redis engine behind the guard. */
export class RedisCore implements StoreCore {
  readonly label: string;
  readonly #ctx: RedisContext;
  readonly #settings: RedisSettings;
  #fanout: Fanout | undefined;
  #closed = false;
  /** Presence records (`presence.ts`), shared by every process on the prefix. */
  readonly presence: RedisPresence;

  /** Connect (in the background: nothing here waits for Redis). */
  constructor(settings: RedisSettings, options: ResolvedStoreOptions) {
    this.#settings = settings;
    const where = settings.cluster !== undefined ? describeCluster(settings.cluster) : describeUrl(settings.url);
    this.label = `the redis store (${where}, prefix ${settings.prefix})`;
    const keys = redisKeys(settings.prefix);
    const connection = new RedisConnection(settings, this.label, (event) => this.#emit(event), (client, at) => ensureLayout(client, keys, settings.prefix, at));
    const fanout: PublishTarget =
      settings.fanout === 'broadcast'
        ? { command: 'PUBLISH', topic: () => keys.broadcast }
        : { command: connection.cluster ? 'SPUBLISH' : 'PUBLISH', topic: (channel) => channel.topic };
    this.#ctx = { connection, keys, options, fanout };
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

  /** The fan-out's counts (zeros before it is used). */
  fanoutStats(): FanoutStats {
    return this.#fanout?.stats() ?? { received: 0, followed: 0, connections: 0, resubscribed: 0 };
  }

  /** Stop the fan-out and close both connections (waiting for replies already due). */
  async close(): Promise<void> {
    this.#closed = true;
    const fanout = this.#fanout;
    this.#fanout = undefined;
    await Promise.all([fanout?.close(), this.#ctx.connection.close()]);
  }

  #emit(event: RedisStoreEvent): void {
    try {
      this.#settings.onEvent?.(event);
    } catch {
      // A logging callback must not break the store.
    }
  }
}
