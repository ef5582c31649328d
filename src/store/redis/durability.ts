/**
 * Durability `replicas` and `replicas-aof` (issue 16): appends stored on a connection of their own, each
 * batch followed by one `WAIT` (or `WAITAOF`) on that connection, and the check that `WAITAOF` exists.
 *
 * Why a connection of its own: Redis blocks the connection that sent `WAIT` until the replicas answer
 * or the timeout passes, and runs nothing else of that connection meanwhile. On the command connection,
 * every read, head, session and presence call of the process would wait behind it, for up to
 * `replicationTimeoutMs` whenever a replica is slow or down. On its own connection only appends wait.
 * And `WAIT` covers the writes of the connection that sends it, so the appends must be sent on that
 * same connection: on a cluster, the writer's connection to the master of the appends' slot (a
 * pipeline whose keyed commands fix the node, with the keyless `WAIT` at its end).
 *
 * Batching: per node, one pipeline is in flight at a time; the appends that arrive meanwhile go in the
 * next one, behind a single `WAIT`. Under load a `WAIT` then covers many appends; alone, an append pays
 * one replication round trip.
 * @packageDocumentation
 */
import type { Cluster, Redis } from 'ioredis';
import { StoreError, StoreUnavailableError } from '../errors.js';
import { redisStoreError, replyCode, type CommandClient, type RedisConnection } from './connection.js';
import type { RedisDurability, RedisStoreEvent } from './options.js';

/** The append script's reply, and how many replicas acknowledged the batch it was in. */
export interface Acknowledged {
  readonly reply: string[];
  readonly acknowledged: number;
}

interface Pending {
  readonly args: string[];
  readonly resolve: (value: Acknowledged) => void;
  readonly reject: (error: unknown) => void;
}

interface Group {
  queue: Pending[];
  inFlight: boolean;
}

/** Appends sent on the writer connection and acknowledged by replicas, a batch per `WAIT`. */
export class Replication {
  readonly #writer: RedisConnection;
  readonly #replicas: number;
  readonly #timeoutMs: number;
  readonly #aof: boolean;
  readonly #emit: (event: RedisStoreEvent) => void;
  readonly #groups = new Map<string, Group>();
  /** The commits of acknowledged appends, one per channel at a time (see {@link Commits}). */
  readonly commits = new Commits();
  #short = 0;

  /**
   * @param writer - the connection appends and their `WAIT` share (not the command connection)
   * @param durability - `replicas` (`WAIT`) or `replicas-aof` (`WAITAOF`)
   * @param replicas - how many replicas must acknowledge
   * @param timeoutMs - how long one `WAIT` may take
   * @param emit - where `replication-short` events go
   */
  constructor(writer: RedisConnection, durability: Exclude<RedisDurability, 'primary'>, replicas: number, timeoutMs: number, emit: (event: RedisStoreEvent) => void) {
    this.#writer = writer;
    this.#aof = durability === 'replicas-aof';
    this.#replicas = replicas;
    this.#timeoutMs = timeoutMs;
    this.#emit = emit;
  }

  /** How many replicas must acknowledge an append. */
  get replicas(): number {
    return this.#replicas;
  }

  /** Appends that replicas did not acknowledge in time (each answered "outcome unknown"). */
  get short(): number {
    return this.#short;
  }

  /** Count appends answered "outcome unknown" because their batch was short of replicas. */
  countShort(appends: number, acknowledged: number): void {
    this.#short += appends;
    this.#emit({ type: 'replication-short', appends, acknowledged, replicas: this.#replicas });
  }

  /**
   * Run the append script with `args` (its key count, keys, arguments) on the writer connection, in
   * the next batch to the node that serves `slot`; resolves with its reply and the batch's
   * acknowledgement count once the batch's `WAIT` answered.
   */
  append(slot: number, args: string[]): Promise<Acknowledged> {
    return new Promise<Acknowledged>((resolve, reject) => {
      const node = this.#writer.ownerOf(slot) ?? '';
      let group = this.#groups.get(node);
      if (group === undefined) this.#groups.set(node, (group = { queue: [], inFlight: false }));
      group.queue.push({ args, resolve, reject });
      if (!group.inFlight) {
        group.inFlight = true;
        // The appends of this turn of the event loop share the batch.
        setImmediate(() => void this.#send(node, group));
      }
    });
  }

  async #send(node: string, group: Group): Promise<void> {
    const batch = group.queue;
    group.queue = [];
    if (batch.length === 0) {
      group.inFlight = false;
      if (this.#groups.get(node) === group) this.#groups.delete(node);
      return;
    }
    try {
      const results = await this.#writer.exec('append', () => {
        const pipeline = (this.#writer.client as Redis).pipeline() as unknown as Record<string, (...args: string[]) => unknown> & { exec(): Promise<[Error | null, unknown][] | null> };
        for (const pending of batch) pipeline.lifelineAppend!(...pending.args);
        if (this.#aof) pipeline.call!('WAITAOF', '0', String(this.#replicas), String(this.#timeoutMs));
        else pipeline.call!('WAIT', String(this.#replicas), String(this.#timeoutMs));
        return pipeline.exec();
      });
      if (results === null || results.length !== batch.length + 1) throw new StoreUnavailableError(`redis store: append failed: the pipeline to Redis at ${this.#writer.where} was not run`);
      const [waitError, waited] = results[batch.length]!;
      // A WAIT that failed acknowledged nothing: the appends are answered "outcome unknown" by the caller.
      const acknowledged = waitError !== null ? 0 : this.#aof ? Number((waited as [number, number])[1]) : Number(waited);
      batch.forEach((pending, i) => {
        const [error, reply] = results[i]!;
        if (error !== null) pending.reject(appendError(error, this.#writer.where));
        else pending.resolve({ reply: reply as string[], acknowledged });
      });
    } catch (error) {
      for (const pending of batch) pending.reject(error);
    } finally {
      if (group.queue.length > 0) void this.#send(node, group);
      else {
        group.inFlight = false;
        if (this.#groups.get(node) === group) this.#groups.delete(node);
      }
    }
  }
}

/**
 * One commit per channel for the appends acknowledged together: a batch's appends resolve at once, and
 * those of one channel share one commit script, run with the highest of their offsets (the script moves
 * the committed offset to it and publishes everything it passes, in order).
 */
export class Commits {
  readonly #pending = new Map<string, { offset: number; waiters: { resolve: (reply: string[]) => void; reject: (error: unknown) => void }[]; run: (offset: number) => Promise<string[]> }>();

  /**
   * Commit `offset` of the channel (and epoch) named by `key`, with the others of the moment: `run`
   * runs the commit script for an offset, and resolves with its reply (shared by every waiter).
   */
  commit(key: string, offset: number, run: (offset: number) => Promise<string[]>): Promise<string[]> {
    return new Promise<string[]>((resolve, reject) => {
      let entry = this.#pending.get(key);
      if (entry === undefined) {
        this.#pending.set(key, (entry = { offset, waiters: [], run }));
        const taken = entry;
        // The rest of the batch's appends resume before this runs, and join it.
        setImmediate(() => {
          this.#pending.delete(key);
          taken.run(taken.offset).then(
            (reply) => taken.waiters.forEach((w) => w.resolve(reply)),
            (error: unknown) => taken.waiters.forEach((w) => w.reject(error)),
          );
        });
      }
      entry.offset = Math.max(entry.offset, offset);
      entry.waiters.push({ resolve, reject });
    });
  }
}

/**
 * A failed append of a batch as a store error. A redirection (the slot moved since the batch was
 * grouped) means the script did not run: unavailable, the publisher retries.
 */
function appendError(error: Error, where: string): Error {
  const code = replyCode(error);
  if (code === 'MOVED' || code === 'ASK') return new StoreUnavailableError(`redis store: append failed: its slot moved (${error.message}); retry`, { cause: error });
  return redisStoreError(error, 'append', where);
}

/** The Redis version that brought `WAITAOF`. */
const WAITAOF_SINCE: readonly [number, number] = [7, 2];

/** Redis's version (`INFO server`'s `redis_version`), as text ('unknown' when absent). */
function versionOf(info: string): string {
  return /redis_version:([0-9.]+)/.exec(info)?.[1] ?? 'unknown';
}

/**
 * Refuse `durability: 'replicas-aof'` on a Redis older than 7.2 (every master of a cluster), where
 * `WAITAOF` does not exist: with a `StoreError` that says what to do, rather than failing every append.
 */
export async function checkDurability(client: CommandClient, durability: RedisDurability, where: string): Promise<void> {
  if (durability !== 'replicas-aof') return;
  const nodes: Redis[] = 'nodes' in client && typeof (client as Cluster).nodes === 'function' && (client as Cluster).isCluster ? (client as Cluster).nodes('master') : [client as Redis];
  for (const node of nodes) {
    const version = versionOf(await node.info('server'));
    const [major = 0, minor = 0] = version.split('.').map((part) => Number(part) || 0);
    if (major < WAITAOF_SINCE[0] || (major === WAITAOF_SINCE[0] && minor < WAITAOF_SINCE[1])) {
      throw new StoreError(
        `redis store: durability 'replicas-aof' needs WAITAOF, which Redis ${WAITAOF_SINCE.join('.')} brought; Redis at ${where} is ${version}. ` +
          `Upgrade Redis, or use durability 'replicas' (acknowledged once replicas hold the append in memory).`,
      );
    }
  }
}
