/**
 * The Redis engine's fan-out: one subscriber connection on the `${prefix}fanout` pub/sub channel that
 * hands every append (from any process) to the local listeners, and a liveness check that notices a
 * subscription that went silently dead and re-establishes it. Internal to the Redis engine.
 * @packageDocumentation
 */
import type { Redis } from 'ioredis';
import { randomEpoch } from '../rules.js';
import { closeConnection } from './connection.js';
import type { StoredMessage } from '../types.js';

/** What the fan-out reports (forwarded to the store's `onEvent`). */
export type FanoutEvent =
  | { readonly type: 'fanout-subscribed'; readonly resubscribed: boolean }
  | { readonly type: 'fanout-stalled'; readonly silentMs: number }
  | { readonly type: 'fanout-invalid'; readonly payload: string }
  | { readonly type: 'listener-error'; readonly error: unknown }
  | { readonly type: 'connection-error'; readonly connection: 'subscriber'; readonly error: Error };

/** What the fan-out needs from its store. */
export interface FanoutOptions {
  /** The subscriber connection, created for this fan-out (it owns and closes it). */
  readonly subscriber: Redis;
  /** The pub/sub channel. */
  readonly channel: string;
  /** Publish a liveness ping through the command connection; rejects when Redis cannot be reached. */
  readonly publish: (payload: string) => Promise<unknown>;
  /** Whether the command connection is up (a ping that cannot be sent proves nothing). */
  readonly commandReady: () => boolean;
  /** How often to check, in ms; a ping must come back within one interval. */
  readonly livenessIntervalMs: number;
  /** Told about subscriptions, stalls, bad payloads, listener errors and subscriber connection errors. */
  readonly onEvent: (event: FanoutEvent) => void;
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

/** Parse a fan-out payload: an append, a liveness ping, or undefined when it is neither. */
function parsePayload(payload: string): StoredMessage | { ping: unknown } | undefined {
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const m = value as Partial<AppendPayload> & { nonce?: unknown };
  if ((m.type as string) === 'ping') return { ping: m.nonce };
  if (
    m.type !== 'append' || typeof m.channel !== 'string' || typeof m.epoch !== 'string' ||
    typeof m.offset !== 'number' || typeof m.time !== 'number' || !('data' in m)
  ) return undefined;
  return { channel: m.channel, epoch: m.epoch, offset: m.offset, time: m.time, data: m.data as StoredMessage['data'] };
}

/**
 * One subscription shared by every `watch` listener of a store.
 *
 * Liveness: each interval, when both connections are up and the subscription is confirmed, a ping
 * with a fresh nonce is published on the fan-out channel through the command connection. If the
 * previous ping has not come back by the next check, the subscription is silently dead (e.g. a
 * failover left it on a server that no longer receives publishes): report `fanout-stalled` and
 * reconnect the subscriber, which subscribes again once ready. Messages published meanwhile were
 * missed; the server's catch-up reads by offset recover them.
 */
export class Fanout {
  readonly #options: FanoutOptions;
  readonly #listeners = new Set<(message: StoredMessage) => void>();
  readonly #timer: ReturnType<typeof setInterval>;
  /** The ping awaited, if any: its nonce, when it was sent, and whether Redis accepted the PUBLISH. */
  #pending: { nonce: string; sentAt: number; published: boolean } | undefined;
  /** Whether SUBSCRIBE was acknowledged on the current subscriber connection. */
  #subscribed = false;
  #everSubscribed = false;
  #closed = false;

  /** Start watching the subscriber connection (it subscribes on each 'ready') and the liveness timer. */
  constructor(options: FanoutOptions) {
    this.#options = options;
    const sub = options.subscriber;
    // Subscribing on every 'ready' (rather than ioredis's autoResubscribe) gives one code path for the
    // first subscription and every later one, and an event when each is confirmed.
    sub.on('ready', () => this.#subscribe());
    sub.on('close', () => {
      this.#subscribed = false;
      this.#pending = undefined;
    });
    sub.on('error', (error: Error) => this.#emit({ type: 'connection-error', connection: 'subscriber', error }));
    sub.on('message', (channel: string, payload: string) => {
      if (channel === options.channel) this.#receive(payload);
    });
    this.#timer = setInterval(() => this.#check(), options.livenessIntervalMs);
    this.#timer.unref();
  }

  /** Number of listeners. */
  get size(): number {
    return this.#listeners.size;
  }

  /** Add a listener; returns the function that removes it. */
  add(listener: (message: StoredMessage) => void): () => void {
    // A wrapper per call, so adding the same function twice gives two independent subscriptions.
    const entry = (message: StoredMessage): void => listener(message);
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  /** Stop checking and close the subscriber connection. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#listeners.clear();
    await closeConnection(this.#options.subscriber);
  }

  #subscribe(): void {
    const resubscribed = this.#everSubscribed;
    this.#options.subscriber.subscribe(this.#options.channel).then(
      () => {
        if (this.#closed) return;
        this.#subscribed = true;
        this.#everSubscribed = true;
        this.#emit({ type: 'fanout-subscribed', resubscribed });
      },
      // A failed SUBSCRIBE means the connection dropped again; the next 'ready' retries.
      () => undefined,
    );
  }

  #receive(payload: string): void {
    let parsed = parsePayload(payload);
    if (parsed === undefined) {
      this.#emit({ type: 'fanout-invalid', payload: payload.slice(0, 200) });
      return;
    }
    if ('ping' in parsed) {
      // Other processes' pings arrive too; only our own answers our check.
      if (this.#pending !== undefined && parsed.ping === this.#pending.nonce) this.#pending = undefined;
      return;
    }
    for (const listener of [...this.#listeners]) {
      // Parsed again for each further listener: listeners share no objects, like every store method's results.
      const message = (parsed ?? parsePayload(payload)) as StoredMessage;
      parsed = undefined;
      try {
        listener(message);
      } catch (error) {
        this.#emit({ type: 'listener-error', error });
      }
    }
  }

  #check(): void {
    if (this.#closed) return;
    const pending = this.#pending;
    this.#pending = undefined;
    // Only a ping Redis accepted proves anything: one stuck on the command connection says nothing here.
    if (pending !== undefined && pending.published && this.#subscribed) {
      this.#subscribed = false;
      this.#emit({ type: 'fanout-stalled', silentMs: Date.now() - pending.sentAt });
      // A fresh connection (and with it a fresh SUBSCRIBE on 'ready'); the next check pings again.
      this.#options.subscriber.disconnect(true);
      return;
    }
    if (!this.#subscribed || !this.#options.commandReady()) return;
    const ping = { nonce: randomEpoch(), sentAt: Date.now(), published: false };
    this.#pending = ping;
    this.#options.publish(JSON.stringify({ type: 'ping', nonce: ping.nonce })).then(
      () => {
        ping.published = true;
      },
      () => {
        // Not sent: says nothing about the subscription.
        if (this.#pending === ping) this.#pending = undefined;
      },
    );
  }

  #emit(event: FanoutEvent): void {
    this.#options.onEvent(event);
  }
}
