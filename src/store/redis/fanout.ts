/**
 * The Redis engine's fan-out: how appends made by any process reach this process's `watch` listeners.
 *
 * - `interest` (the default): every channel has its own topic (`<prefix>{<tag>}t:<channel>`, in the
 *   slot of the channel's keys, so the append script publishes it with `SPUBLISH` on a cluster). A
 *   channel is followed ({@link Fanout.follow}) while this process has a subscriber of it; its topic is
 *   subscribed on the first follow and unsubscribed a linger after the last release, in batches. On a
 *   cluster each topic is subscribed on a connection to the master that serves its slot: one
 *   {@link ShardSubscriber} per master with followed channels, moved when the slot map changes.
 * - `broadcast`: one pub/sub channel carries every append to every process.
 *
 * Whenever a topic is subscribed again after a break (a reconnect, a failover, a slot that moved, Redis
 * unsubscribing us), the channels it carries are reported to `onResubscribe` listeners, once the new
 * subscription is confirmed: what was published during the break is then read from history.
 * Internal to the Redis engine.
 * @packageDocumentation
 */
import type { Cluster } from 'ioredis';
import { StoreUnavailableError } from '../errors.js';
import type { ChannelFollow, StoredMessage } from '../types.js';
import type { RedisConnection } from './connection.js';
import type { RedisKeys } from './keys.js';
import type { RedisFanoutMode } from './options.js';
import { keySlot } from './partitions.js';
import { ShardSubscriber, type ShardEvent } from './shard.js';

/** What the fan-out reports (forwarded to the store's `onEvent`). */
export type FanoutEvent =
  | ShardEvent
  | { readonly type: 'fanout-invalid'; readonly payload: string }
  | { readonly type: 'fanout-moved'; readonly topics: number; readonly to: string }
  | { readonly type: 'listener-error'; readonly error: unknown };

/** Counts of the fan-out, for tests, benchmarks and operators. */
export interface FanoutStats {
  /** Appends received from Redis (pings excluded). */
  readonly received: number;
  /** Channels followed now (lingering ones included). */
  readonly followed: number;
  /** Subscriber connections open. */
  readonly connections: number;
  /** Topics subscribed again after a break (each reported to `onResubscribe`). */
  readonly resubscribed: number;
}

/** What the fan-out needs from its store. */
export interface FanoutOptions {
  readonly connection: RedisConnection;
  readonly keys: RedisKeys;
  readonly mode: RedisFanoutMode;
  readonly lingerMs: number;
  readonly livenessIntervalMs: number;
  /** How long a follow waits for its topic's confirmation before rejecting (the store is not serving). */
  readonly commandTimeoutMs: number;
  readonly onEvent: (event: FanoutEvent) => void;
  /** Told the channel, epoch and offset of every append received, before the listeners (the rollback fence). */
  readonly observe?: (channel: string, epoch: string, offset: number) => void;
}

/** A message as published by the append script. */
interface AppendPayload {
  type: 'append';
  channel: string;
  epoch: string;
  offset: number;
  time: number;
  data: StoredMessage['data'];
}

/** Parse an append payload; undefined when it is not one. */
function parseAppend(payload: string): StoredMessage | undefined {
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const m = value as Partial<AppendPayload>;
  if (
    m.type !== 'append' || typeof m.channel !== 'string' || typeof m.epoch !== 'string' ||
    typeof m.offset !== 'number' || typeof m.time !== 'number' || !('data' in m)
  ) return undefined;
  return { channel: m.channel, epoch: m.epoch, offset: m.offset, time: m.time, data: m.data as StoredMessage['data'] };
}

/** How a presence change's payload starts (see `presence-scripts.ts`): told apart from appends cheaply. */
export const PRESENCE_PAYLOAD_START = '{"type":"presence"';

/** One followed channel. */
interface Followed {
  readonly channel: string;
  readonly topic: string;
  readonly partition: number;
  refs: number;
  /** The subscriber holding the topic (interest mode), once placed. */
  shard: ShardSubscriber | undefined;
  /** Settles when the topic was first confirmed; undefined once it was. */
  firstConfirmation: Promise<void> | undefined;
  /** Settles `firstConfirmation`: called once the topic was placed (cluster: when its slot's master is known) and confirmed. */
  confirmFirst: (() => void) | undefined;
  /** When a released channel's topic is given up (refs 0). */
  lingerUntil: number | undefined;
}

/** Most released channels kept subscribed for their linger at once. */
export const MAX_LINGERING = 10_000;

/** The key of the one subscriber on one Redis (and of the broadcast subscriber). */
const SINGLE = '';

/** The fan-out of one store. */
export class Fanout {
  readonly #o: FanoutOptions;
  readonly #listeners = new Set<(message: StoredMessage) => void>();
  /** Listeners of the presence changes published on the same topics (see `presence.ts`), as raw payloads. */
  readonly #presenceListeners = new Set<(payload: string) => void>();
  readonly #resubscribeListeners = new Set<(channels: readonly string[]) => void>();
  readonly #shards = new Map<string, ShardSubscriber>();
  readonly #followed = new Map<string, Followed>();
  /** Followed channels released by all, waiting out their linger. */
  readonly #lingering = new Set<Followed>();
  readonly #byTopic = new Map<string, Followed>();
  /** Followed channels waiting for the cluster's slot map (interest mode, cluster). */
  readonly #unplaced = new Set<Followed>();
  readonly #timer: ReturnType<typeof setInterval>;
  #lingerTimer: ReturnType<typeof setInterval> | undefined;
  #received = 0;
  #resubscribed = 0;
  #refreshing = false;
  #closed = false;

  constructor(options: FanoutOptions) {
    this.#o = options;
    this.#timer = setInterval(() => this.#check(), options.livenessIntervalMs);
    this.#timer.unref();
    if (options.connection.cluster) {
      // A new slot map (ioredis re-reads it on MOVED and every few seconds): topics follow their slots.
      (options.connection.client as Cluster).on('refresh', () => this.#place());
      (options.connection.client as Cluster).on('ready', () => this.#place());
    }
  }

  /** Counts, for tests and benchmarks. */
  stats(): FanoutStats {
    return { received: this.#received, followed: this.#followed.size, connections: this.#shards.size, resubscribed: this.#resubscribed };
  }

  /** Add a listener of appends; returns the function that removes it. */
  watch(listener: (message: StoredMessage) => void): () => void {
    // A wrapper per call, so adding the same function twice gives two independent subscriptions.
    const entry = (message: StoredMessage): void => listener(message);
    this.#listeners.add(entry);
    if (this.#o.mode === 'broadcast') this.#broadcastShard();
    return () => {
      this.#listeners.delete(entry);
      this.#dropBroadcastIfIdle();
    };
  }

  /**
   * Add a listener of the presence changes published on the followed channels' topics (their payloads,
   * which `presence.ts` reads); returns the function that removes it.
   */
  watchPresence(listener: (payload: string) => void): () => void {
    const entry = (payload: string): void => listener(payload);
    this.#presenceListeners.add(entry);
    if (this.#o.mode === 'broadcast') this.#broadcastShard();
    return () => {
      this.#presenceListeners.delete(entry);
      this.#dropBroadcastIfIdle();
    };
  }

  /** Add a listener of resubscriptions; returns the function that removes it. */
  onResubscribe(listener: (channels: readonly string[]) => void): () => void {
    const entry = (channels: readonly string[]): void => listener(channels);
    this.#resubscribeListeners.add(entry);
    return () => {
      this.#resubscribeListeners.delete(entry);
    };
  }

  /** Follow a channel (see `Store.follow`). */
  follow(channel: string): ChannelFollow {
    let state = this.#followed.get(channel);
    if (state === undefined) {
      const keys = this.#o.keys.channel(channel);
      state = { channel, topic: keys.topic, partition: keys.partition, refs: 0, shard: undefined, firstConfirmation: undefined, confirmFirst: undefined, lingerUntil: undefined };
      this.#followed.set(channel, state);
      this.#byTopic.set(state.topic, state);
      state.firstConfirmation = this.#subscribe(state);
    }
    state.refs++;
    state.lingerUntil = undefined;
    this.#lingering.delete(state);
    const followed = state;
    let released = false;
    return {
      ready: this.#readiness(followed),
      release: () => {
        if (released) return;
        released = true;
        this.#release(followed);
      },
    };
  }

  /** Stop everything and close every connection. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    if (this.#lingerTimer) clearInterval(this.#lingerTimer);
    this.#listeners.clear();
    this.#presenceListeners.clear();
    this.#resubscribeListeners.clear();
    const shards = [...this.#shards.values()];
    this.#shards.clear();
    await Promise.all(shards.map((shard) => shard.close()));
  }

  /** What a follower waits for: the topic's first confirmation, bounded; at once when it came already. */
  #readiness(state: Followed): Promise<void> {
    const pending = state.firstConfirmation;
    if (pending === undefined) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new StoreUnavailableError(`redis store: the subscription to channel ${JSON.stringify(state.channel)}'s topic was not confirmed within ${this.#o.commandTimeoutMs} ms`));
      }, this.#o.commandTimeoutMs);
      timer.unref();
      void pending.then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Start delivering a newly followed channel; resolves once appends to it reach this process. */
  #subscribe(state: Followed): Promise<void> {
    const confirmed = new Promise<void>((resolve) => (state.confirmFirst = resolve)).then(() => {
      state.firstConfirmation = undefined;
      state.confirmFirst = undefined;
    });
    if (this.#o.mode === 'broadcast') void this.#broadcastShard().add([this.#o.keys.broadcast]).then(state.confirmFirst);
    // Not placed: the slot map is not known yet; `#place` places it, and the placement confirms it.
    else if (!this.#placeOne(state, false)) this.#unplaced.add(state);
    return confirmed;
  }

  #release(state: Followed): void {
    state.refs--;
    if (state.refs > 0) return;
    if (this.#o.lingerMs === 0) {
      this.#forget(state);
      return;
    }
    state.lingerUntil = Date.now() + this.#o.lingerMs;
    this.#lingering.add(state);
    // Bounded whatever clients do (subscribe and leave fresh channels as fast as allowed): past the bound
    // the channel released longest ago goes at once.
    if (this.#lingering.size > MAX_LINGERING) this.#forget(this.#lingering.values().next().value!);
    if (!this.#lingerTimer) {
      this.#lingerTimer = setInterval(() => this.#expireLingering(), Math.max(10, Math.min(1000, this.#o.lingerMs / 4)));
      this.#lingerTimer.unref();
    }
  }

  /** Give up the channels whose linger ran out (their unsubscribes go out together). */
  #expireLingering(): void {
    const now = Date.now();
    for (const state of [...this.#lingering]) {
      if (state.lingerUntil !== undefined && state.lingerUntil <= now) this.#forget(state);
    }
    if (this.#lingering.size === 0 && this.#lingerTimer) {
      clearInterval(this.#lingerTimer);
      this.#lingerTimer = undefined;
    }
  }

  /** Give a channel up: its topic is unsubscribed (batched with the others of this turn). */
  #forget(state: Followed): void {
    this.#followed.delete(state.channel);
    this.#byTopic.delete(state.topic);
    this.#unplaced.delete(state);
    this.#lingering.delete(state);
    if (this.#o.mode === 'broadcast') {
      this.#dropBroadcastIfIdle();
      return;
    }
    const shard = state.shard;
    state.shard = undefined;
    if (shard === undefined) return;
    shard.remove([state.topic]);
    this.#retire(shard);
  }

  /**
   * Put a followed channel's topic on the subscriber of the master serving its slot (one Redis: the one
   * subscriber). Returns the confirmation, or undefined when the slot's master is not known yet.
   */
  #placeOne(state: Followed, moved: boolean): Promise<void> | undefined {
    const { connection } = this.#o;
    let node = SINGLE;
    if (connection.cluster) {
      const owner = connection.ownerOf(keySlot(state.topic));
      if (owner === undefined) return undefined;
      node = owner;
    }
    const shard = this.#shardFor(node, node === SINGLE ? undefined : node);
    if (state.shard === shard) return undefined;
    const previous = state.shard;
    state.shard = shard;
    previous?.remove([state.topic]);
    if (previous) this.#retire(previous);
    if (shard.pingTopic === undefined) shard.setPingTopic(this.#o.keys.partition(state.partition).ping);
    const confirmation = shard.add([state.topic], moved);
    // A channel not confirmed yet (placed on a master that went away before it answered, say) is
    // confirmed by its new placement.
    const confirmFirst = state.confirmFirst;
    if (confirmFirst) void confirmation.then(confirmFirst);
    return confirmation;
  }

  /** Re-read where every followed topic belongs, and move those whose slot moved (cluster). */
  #place(): void {
    if (this.#closed || this.#o.mode === 'broadcast' || !this.#o.connection.cluster) return;
    const { connection } = this.#o;
    let moved = 0;
    const movedTo = new Map<string, number>();
    for (const state of this.#followed.values()) {
      const owner = connection.ownerOf(keySlot(state.topic));
      if (owner === undefined) continue;
      if (state.shard?.node === owner) continue;
      const wasPlaced = state.shard !== undefined;
      this.#placeOne(state, wasPlaced);
      this.#unplaced.delete(state);
      if (wasPlaced) {
        moved++;
        movedTo.set(owner, (movedTo.get(owner) ?? 0) + 1);
      }
    }
    // Each subscriber pings through a topic of a slot it still serves.
    for (const shard of this.#shards.values()) {
      const ping = shard.pingTopic;
      if (ping !== undefined && shard.node !== undefined && connection.ownerOf(keySlot(ping)) !== shard.node) {
        const any = [...this.#followed.values()].find((s) => s.shard === shard);
        shard.setPingTopic(any ? this.#o.keys.partition(any.partition).ping : undefined);
      }
      this.#retire(shard);
    }
    if (moved > 0) for (const [to, topics] of movedTo) this.#emit({ type: 'fanout-moved', topics, to });
  }

  /**
   * The subscriber under `key` (made on first use), connected to the cluster master `node`, or to the
   * one Redis when undefined.
   */
  #shardFor(key: string, node: string | undefined): ShardSubscriber {
    let shard = this.#shards.get(key);
    if (shard) return shard;
    const { connection } = this.#o;
    const sharded = connection.cluster && this.#o.mode === 'interest';
    shard = new ShardSubscriber({
      connection: connection.subscriber(node),
      node,
      sharded,
      publishPing: (topic, payload) => (sharded ? connection.client.spublish(topic, payload) : connection.client.publish(topic, payload)),
      commandReady: () => connection.availability.up,
      onMessage: (_topic, payload) => this.#receive(payload),
      onConfirmed: () => undefined,
      onResubscribed: (topics) => this.#resubscribedTopics(topics),
      onTopologyDoubt: () => this.#doubt(),
      onEvent: (event) => this.#emit(event),
    });
    this.#shards.set(key, shard);
    return shard;
  }

  /** Close a subscriber that holds nothing any more. */
  #retire(shard: ShardSubscriber): void {
    if (shard.size > 0) return;
    if (this.#o.mode === 'broadcast') return;
    for (const [node, s] of this.#shards) {
      if (s === shard) {
        this.#shards.delete(node);
        void shard.close();
      }
    }
  }

  #broadcastShard(): ShardSubscriber {
    let shard = this.#shards.get(SINGLE);
    if (!shard) {
      // On a cluster, any node will do: a cluster forwards every PUBLISH to every node.
      const { connection } = this.#o;
      shard = this.#shardFor(SINGLE, connection.cluster ? connection.ownerOf(0) : undefined);
      shard.setPingTopic(this.#o.keys.broadcast);
    }
    return shard;
  }

  #dropBroadcastIfIdle(): void {
    if (this.#o.mode !== 'broadcast' || this.#listeners.size > 0 || this.#presenceListeners.size > 0 || this.#followed.size > 0) return;
    const shard = this.#shards.get(SINGLE);
    if (!shard) return;
    this.#shards.delete(SINGLE);
    void shard.close();
  }

  /** A subscriber saw a sign that slots moved: re-read the slot map, then move what moved. */
  #doubt(): void {
    if (!this.#o.connection.cluster || this.#refreshing || this.#closed) return;
    this.#refreshing = true;
    void this.#o.connection.refreshSlots().then(() => {
      this.#refreshing = false;
      this.#place();
    });
  }

  #resubscribedTopics(topics: readonly string[]): void {
    let channels: string[];
    if (this.#o.mode === 'broadcast') {
      // The one channel carried everything: every followed channel may have missed appends.
      channels = [...this.#followed.keys()];
    } else {
      channels = [];
      for (const topic of topics) {
        const state = this.#byTopic.get(topic);
        if (state !== undefined) channels.push(state.channel);
      }
    }
    if (channels.length === 0) return;
    this.#resubscribed += channels.length;
    for (const listener of [...this.#resubscribeListeners]) {
      try {
        listener(channels);
      } catch (error) {
        this.#emit({ type: 'listener-error', error });
      }
    }
  }

  #receive(payload: string): void {
    // Presence changes ride on the same topics, so interest and catch-up apply to them alike.
    if (payload.startsWith(PRESENCE_PAYLOAD_START)) {
      for (const listener of [...this.#presenceListeners]) {
        try {
          listener(payload);
        } catch (error) {
          this.#emit({ type: 'listener-error', error });
        }
      }
      return;
    }
    let parsed = parseAppend(payload);
    if (parsed === undefined) {
      this.#emit({ type: 'fanout-invalid', payload: payload.slice(0, 200) });
      return;
    }
    this.#received++;
    this.#o.observe?.(parsed.channel, parsed.epoch, parsed.offset);
    for (const listener of [...this.#listeners]) {
      // Parsed again for each further listener: listeners share no objects, like every store method's results.
      const message = parsed ?? parseAppend(payload)!;
      parsed = undefined;
      try {
        listener(message);
      } catch (error) {
        this.#emit({ type: 'listener-error', error });
      }
    }
  }

  /** Every interval: each subscriber's liveness check, and (cluster) topics placed where their slots are. */
  #check(): void {
    if (this.#closed) return;
    for (const shard of this.#shards.values()) shard.check();
    this.#place();
  }

  #emit(event: FanoutEvent): void {
    this.#o.onEvent(event);
  }
}
