/**
 * One subscriber connection of the fan-out: to the one Redis, or to one master of a Redis Cluster. It
 * holds a set of topics (pub/sub channels, or shard channels on a cluster), subscribes them in batches,
 * subscribes them all again on every reconnect and says so, and proves on a timer that it still
 * receives: a ping published through the command connection must come back within one interval, else
 * the connection is replaced. Internal to the Redis engine.
 * @packageDocumentation
 */
import type { Redis } from 'ioredis';
import { randomEpoch } from '../rules.js';
import { closeConnection } from './connection.js';
import { keySlot } from './partitions.js';

/** What a shard subscriber needs from the fan-out that owns it. */
export interface ShardOptions {
  /** The connection, created for this subscriber (it owns and closes it). */
  readonly connection: Redis;
  /** `node` of events: the cluster master (`host:port`), or undefined on one Redis. */
  readonly node: string | undefined;
  /** Shard channels (`SSUBSCRIBE`, one slot per command) rather than pub/sub channels. */
  readonly sharded: boolean;
  /** Publish a liveness ping on `topic` through the command connection; rejects when Redis cannot be reached. */
  readonly publishPing: (topic: string, payload: string) => Promise<unknown>;
  /** Whether the command connection is up (a ping that cannot be sent proves nothing). */
  readonly commandReady: () => boolean;
  /** A message on one of the topics (pings excluded). */
  readonly onMessage: (topic: string, payload: string) => void;
  /** Topics confirmed again after the connection broke: what was published meanwhile may have been missed. */
  readonly onResubscribed: (topics: readonly string[]) => void;
  /** Topics confirmed for the first time on this subscriber. */
  readonly onConfirmed: (topics: readonly string[]) => void;
  /** Something suggests the cluster's slot map changed (Redis unsubscribed us, a subscribe was redirected). */
  readonly onTopologyDoubt: () => void;
  /** Told about subscriptions, stalls and connection errors. */
  readonly onEvent: (event: ShardEvent) => void;
}

/** What a shard subscriber reports (the store's `onEvent`). */
export type ShardEvent =
  | { readonly type: 'fanout-subscribed'; readonly resubscribed: boolean; readonly node?: string; readonly topics: number }
  | { readonly type: 'fanout-stalled'; readonly silentMs: number; readonly node?: string }
  | { readonly type: 'connection-error'; readonly connection: 'subscriber'; readonly error: Error; readonly node?: string };

/** A liveness ping, as published: recognised by its shape, never delivered as an append. */
export function pingPayload(nonce: string): string {
  return JSON.stringify({ type: 'ping', nonce });
}

function nonceOf(payload: string): string | undefined {
  // Pings are tiny; appends start with {"type":"append": a cheap test before parsing.
  if (!payload.startsWith('{"type":"ping"')) return undefined;
  try {
    return String((JSON.parse(payload) as { nonce?: unknown }).nonce);
  } catch {
    return undefined;
  }
}

/** Group topics by slot: one `SSUBSCRIBE` names channels of one slot only. */
function bySlot(topics: Iterable<string>, sharded: boolean): string[][] {
  if (!sharded) {
    const all = [...topics];
    return all.length === 0 ? [] : [all];
  }
  const groups = new Map<number, string[]>();
  for (const topic of topics) {
    const slot = keySlot(topic);
    let group = groups.get(slot);
    if (!group) groups.set(slot, (group = []));
    group.push(topic);
  }
  return [...groups.values()];
}

/** Most topics one SUBSCRIBE names (a long line is fine for Redis; this bounds one reply burst). */
const BATCH = 500;

/** One subscriber connection and the topics it holds. */
export class ShardSubscriber {
  readonly #o: ShardOptions;
  /** Topics wanted on this connection. */
  readonly #wanted = new Set<string>();
  /** Topics confirmed on the current connection. */
  readonly #confirmed = new Set<string>();
  /** Topics confirmed on some earlier connection: confirming them again is a resubscription. */
  readonly #held = new Set<string>();
  /** Waiters for a topic's confirmation. */
  readonly #waiters = new Map<string, (() => void)[]>();
  /** The topic liveness pings go through (kept subscribed), and the ping awaited. */
  #pingTopic: string | undefined;
  #pending: { nonce: string; sentAt: number; published: boolean } | undefined;
  #ready = false;
  #connections = 0;
  #closed = false;
  /** Topics to (un)subscribe at the next flush. */
  readonly #toAdd = new Set<string>();
  readonly #toRemove = new Set<string>();
  #flushQueued = false;

  constructor(options: ShardOptions) {
    this.#o = options;
    const c = options.connection;
    c.on('ready', () => {
      this.#ready = true;
      this.#connections++;
      // Everything wanted, again: one code path for the first subscription and every later one.
      this.#toRemove.clear();
      for (const topic of this.#wanted) this.#toAdd.add(topic);
      this.#flush();
    });
    c.on('close', () => {
      this.#ready = false;
      this.#confirmed.clear();
      this.#pending = undefined;
    });
    c.on('error', (error: Error) => {
      this.#o.onEvent({ type: 'connection-error', connection: 'subscriber', error, ...(options.node ? { node: options.node } : {}) });
      // Redis unsubscribed us on its own (a slot moved away): ioredis takes the push for a reply it
      // did not expect. Its view of this connection can no longer be trusted: start afresh, and re-read
      // where the slots are.
      if (/Command queue state error/.test(error.message)) {
        this.#o.onTopologyDoubt();
        if (c.status === 'ready') c.disconnect(true);
      }
    });
    const receive = (topic: string, payload: string): void => {
      const nonce = nonceOf(payload);
      if (nonce !== undefined) {
        if (this.#pending !== undefined && nonce === this.#pending.nonce) this.#pending = undefined;
        return;
      }
      this.#o.onMessage(topic, payload);
    };
    c.on(options.sharded ? 'smessage' : 'message', receive);
  }

  /** The cluster master this subscriber is connected to (undefined on one Redis). */
  get node(): string | undefined {
    return this.#o.node;
  }

  /** Topics wanted here (the ping topic excluded). */
  get size(): number {
    return this.#wanted.size - (this.#pingTopic !== undefined && this.#wanted.has(this.#pingTopic) ? 1 : 0);
  }

  /** Whether `topic` is wanted here. */
  has(topic: string): boolean {
    return this.#wanted.has(topic);
  }

  /** Every topic wanted here (the ping topic included). */
  topics(): IterableIterator<string> {
    return this.#wanted.values();
  }

  /** Whether `topic` is subscribed on the current connection. */
  confirmed(topic: string): boolean {
    return this.#confirmed.has(topic);
  }

  /**
   * Want `topics`; resolves when each is confirmed on a connection (on the next one, if this one is down).
   * @param moved - the topics were held by another subscriber (a slot moved): their confirmation here
   *   is a resubscription, and is reported as one
   */
  add(topics: readonly string[], moved = false): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const topic of topics) {
      this.#wanted.add(topic);
      if (moved) this.#held.add(topic);
      this.#toRemove.delete(topic);
      if (this.#confirmed.has(topic)) {
        // Given up and wanted again before the unsubscribe went out: still subscribed, and held (a later
        // reconnect reports it like any other).
        this.#held.add(topic);
        continue;
      }
      this.#toAdd.add(topic);
      waits.push(new Promise<void>((resolve) => {
        let list = this.#waiters.get(topic);
        if (!list) this.#waiters.set(topic, (list = []));
        list.push(resolve);
      }));
    }
    this.#queueFlush();
    return Promise.all(waits).then(() => undefined);
  }

  /** Stop wanting `topics` (unsubscribed at the next flush). */
  remove(topics: readonly string[]): void {
    for (const topic of topics) {
      if (topic === this.#pingTopic) continue;
      this.#wanted.delete(topic);
      this.#held.delete(topic);
      this.#toAdd.delete(topic);
      // Whoever waited for it here waits for its new placement instead (or times out).
      this.#waiters.delete(topic);
      if (this.#confirmed.has(topic)) this.#toRemove.add(topic);
    }
    this.#queueFlush();
  }

  /**
   * Use `topic` (a topic of a slot this master serves) for liveness pings, subscribing it; the previous
   * one is given up. Undefined: no pings (nothing to watch).
   */
  setPingTopic(topic: string | undefined): void {
    if (topic === this.#pingTopic) return;
    const previous = this.#pingTopic;
    this.#pingTopic = topic;
    this.#pending = undefined;
    if (previous !== undefined) this.remove([previous]);
    if (topic !== undefined) void this.add([topic]);
  }

  /** The topic pings go through, if any. */
  get pingTopic(): string | undefined {
    return this.#pingTopic;
  }

  /**
   * One liveness check (the fan-out calls it every interval): a ping sent at the previous check that
   * Redis accepted but that never came back means the connection no longer receives: replace it.
   */
  check(): void {
    if (this.#closed) return;
    const pending = this.#pending;
    this.#pending = undefined;
    const topic = this.#pingTopic;
    // Only a ping Redis accepted proves anything: one stuck on the command connection says nothing here.
    if (pending !== undefined && pending.published && this.#ready) {
      this.#o.onEvent({ type: 'fanout-stalled', silentMs: Date.now() - pending.sentAt, ...(this.#o.node ? { node: this.#o.node } : {}) });
      this.#o.onTopologyDoubt();
      // A fresh connection, and with it a fresh subscription of everything on 'ready'.
      this.#o.connection.disconnect(true);
      return;
    }
    if (topic === undefined || !this.#ready || !this.#confirmed.has(topic) || !this.#o.commandReady()) return;
    const ping = { nonce: randomEpoch(), sentAt: Date.now(), published: false };
    this.#pending = ping;
    this.#o.publishPing(topic, pingPayload(ping.nonce)).then(
      () => {
        ping.published = true;
      },
      () => {
        // Not sent: says nothing about the subscription.
        if (this.#pending === ping) this.#pending = undefined;
      },
    );
  }

  /** Drop the current connection (it reconnects and subscribes everything again). */
  reconnect(): void {
    if (!this.#closed && this.#o.connection.status !== 'end') this.#o.connection.disconnect(true);
  }

  /** Close the connection. Idempotent. Waiters are left unresolved: their followers time out. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#waiters.clear();
    await closeConnection(this.#o.connection);
  }

  #queueFlush(): void {
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    // Batched: every follow and release of this turn of the event loop in one command per slot.
    setImmediate(() => {
      this.#flushQueued = false;
      this.#flush();
    });
  }

  #flush(): void {
    if (this.#closed || !this.#ready) return;
    const c = this.#o.connection;
    const connection = this.#connections;
    const removing = [...this.#toRemove];
    this.#toRemove.clear();
    for (const group of bySlot(removing, this.#o.sharded)) {
      for (const topic of group) this.#confirmed.delete(topic);
      for (let i = 0; i < group.length; i += BATCH) {
        const batch = group.slice(i, i + BATCH);
        (this.#o.sharded ? c.sunsubscribe(...batch) : c.unsubscribe(...batch)).catch(() => undefined);
      }
    }
    const adding = [...this.#toAdd];
    this.#toAdd.clear();
    for (const group of bySlot(adding, this.#o.sharded)) {
      for (let i = 0; i < group.length; i += BATCH) {
        const batch = group.slice(i, i + BATCH);
        (this.#o.sharded ? c.ssubscribe(...batch) : c.subscribe(...batch)).then(
          () => this.#subscribed(batch, connection),
          (error: unknown) => {
            // MOVED: this master no longer serves the slot; the fan-out re-reads the slot map and moves
            // the topic. Anything else: the connection dropped, and its next 'ready' subscribes again.
            if (/^(MOVED|ASK|CLUSTERDOWN)\b/.test(String((error as Error)?.message))) this.#o.onTopologyDoubt();
          },
        );
      }
    }
  }

  #subscribed(batch: readonly string[], connection: number): void {
    if (this.#closed || connection !== this.#connections || !this.#ready) return;
    const again: string[] = [];
    const first: string[] = [];
    for (const topic of batch) {
      if (!this.#wanted.has(topic)) continue;
      this.#confirmed.add(topic);
      if (this.#held.has(topic)) again.push(topic);
      else {
        this.#held.add(topic);
        first.push(topic);
      }
      const waiters = this.#waiters.get(topic);
      this.#waiters.delete(topic);
      for (const resolve of waiters ?? []) resolve();
    }
    const node = this.#o.node ? { node: this.#o.node } : {};
    if (first.length > 0) {
      this.#o.onConfirmed(first);
      this.#o.onEvent({ type: 'fanout-subscribed', resubscribed: false, topics: first.length, ...node });
    }
    if (again.length > 0) {
      this.#o.onResubscribed(again);
      this.#o.onEvent({ type: 'fanout-subscribed', resubscribed: true, topics: again.length, ...node });
    }
  }
}
