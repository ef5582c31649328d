/**
 * The Redis engine's command connection: made to fail fast while Redis is away (nothing queued, nothing
 * resent later), reconnecting on its own with backoff, every operation bounded by `commandTimeoutMs`,
 * failures turned into store errors, and availability that follows the connection.
 * @packageDocumentation
 */
import type { Cluster, Redis, RedisOptions } from 'ioredis';
import { LifelineError } from '../../errors.js';
import { requireOptional } from '../../optional-dependency.js';
import { Availability } from '../availability.js';
import { StoreError, StoreOutcomeUnknownError, StoreUnavailableError } from '../errors.js';
import type { RedisSettings, RedisStoreEvent } from './options.js';
import { SCRIPTS, type ScriptName } from './scripts.js';

/** The ioredis package, loaded on first use: it is an optional peer dependency of lifeline. */
const ioredis = (): typeof import('ioredis') => requireOptional('ioredis', 'the redis store');

/** Redis error replies (their first word, a code of the Redis protocol) meaning "cannot serve now". */
const UNAVAILABLE_REPLIES = new Set(['LOADING', 'READONLY', 'MASTERDOWN', 'BUSY', 'OOM', 'NOREPLICAS', 'CLUSTERDOWN', 'TRYAGAIN', 'MISCONF']);

/** The first word of a Redis error reply (its code), or undefined for another failure. */
export function replyCode(error: unknown): string | undefined {
  if (!(error instanceof ioredis().ReplyError)) return undefined;
  return String((error as Error).message).split(' ', 1)[0];
}

/**
 * Turn an ioredis failure into a store error. An error reply from Redis is the server refusing this
 * operation ({@link StoreError}) unless its code says the server cannot serve at all; anything else
 * (not connected, connection closed or reset, aborted) is {@link StoreOutcomeUnknownError}: it was
 * sent, and may have taken effect.
 */
export function redisStoreError(error: unknown, what: string, where: string): Error {
  if (error instanceof LifelineError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  const code = replyCode(error);
  if (code === undefined) {
    return new StoreOutcomeUnknownError(
      `redis store: ${what} failed: the connection to Redis at ${where} was lost before it answered, so it may or may not have taken effect (${detail})`,
      { cause: error },
    );
  }
  const message = `redis store: ${what} failed: Redis at ${where} answered ${detail}`;
  return UNAVAILABLE_REPLIES.has(code) ? new StoreUnavailableError(message, { cause: error }) : new StoreError(message, { cause: error });
}

/** The URL without credentials, for messages. */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  } catch {
    return 'the configured Redis URL';
  }
}

/**
 * The least time the layout check gets, in ms, whatever `commandTimeoutMs`: initialising a fresh prefix
 * writes a key per partition, more than one operation's worth.
 */
const LAYOUT_CHECK_MIN_MS = 5000;

/** Reconnect delays: exponential from 100 ms, capped at 2 s, forever; half of each delay jittered. */
function retryDelay(attempt: number): number {
  const ceiling = Math.min(100 * 2 ** Math.min(attempt - 1, 10), 2000);
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** Close an ioredis connection: politely (QUIT, after the replies already due) when it is up, at once otherwise. */
export async function closeConnection(client: Redis | Cluster): Promise<void> {
  if (client.status === 'end') return;
  try {
    if (client.status === 'ready') await client.quit();
    else client.disconnect();
  } catch {
    client.disconnect();
  }
}

/** A script command: its arguments are its keys, then its other arguments, all strings. */
export type ScriptCall = (...args: string[]) => Promise<unknown>;

/** The ioredis client of the command connection: one Redis, or a Redis Cluster. */
export type CommandClient = Redis | Cluster;

/**
 * The command connection: one Redis (`url`) or a Redis Cluster (`cluster`). Connects in the background
 * from construction; the first operations wait for that first attempt (bounded by `commandTimeoutMs`),
 * later ones reject at once while Redis is away. Each time it becomes ready, the key layout is checked
 * (`layout.ts`) before the store serves.
 */
export class RedisConnection {
  /** Whether the store can serve: the connection is ready and the layout checked; false until then, while reconnecting, and after close. */
  readonly availability = new Availability(false);
  /** The ioredis client (the fan-out publishes its pings through it). */
  readonly client: CommandClient;
  /** Whether this is a Redis Cluster (sharded pub/sub, slot-aware subscribers). */
  readonly cluster: boolean;
  /** Where Redis is, without credentials: for messages. */
  readonly where: string;
  readonly #label: string;
  readonly #subscriberUrl: string;
  /** The options of every connection to one Redis node (command, subscriber). */
  readonly #options: RedisOptions;
  readonly #commandTimeoutMs: number;
  readonly #emit: (event: RedisStoreEvent) => void;
  /** Settles when the first connection attempt succeeds or fails, or after `commandTimeoutMs` at most. */
  readonly #firstAttempt: Promise<void>;
  #attempted = false;
  #everReady = false;
  #lastError: Error | undefined;
  /** Why the store refuses to serve this Redis (its keys are in another layout); set until a check passes. */
  #refusal: StoreError | undefined;
  #closed = false;
  /** A replacement of the current connection is under way (see {@link RedisConnection.#replace}). */
  #replacing = false;

  /**
   * @param settings - the engine's settings
   * @param label - how messages name the store
   * @param emit - where events go (never throws)
   * @param checkLayout - run on each `ready`, before the store serves; rejects with a `StoreError` to refuse
   */
  constructor(settings: RedisSettings, label: string, emit: (event: RedisStoreEvent) => void, checkLayout: (client: CommandClient, where: string) => Promise<void>) {
    this.cluster = settings.cluster !== undefined;
    this.where = settings.cluster !== undefined ? describeCluster(settings.cluster) : describeUrl(settings.url);
    this.#label = label;
    this.#subscriberUrl = settings.subscriberUrl;
    this.#commandTimeoutMs = settings.commandTimeoutMs;
    this.#emit = emit;
    const common: RedisOptions = {
      keyPrefix: '', // the store names its keys itself (scripts build some names)
      connectTimeout: settings.commandTimeoutMs,
      // Fail fast while Redis is away: nothing waits in a queue, nothing in flight is resent later.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      // After a failover a connection may land on a replica: reconnect (to the new primary).
      reconnectOnError: (error) => replyCode(error) === 'READONLY',
      lazyConnect: false,
    };
    let settle!: () => void;
    this.#firstAttempt = Promise.race([new Promise<void>((resolve) => (settle = resolve)), delay(settings.commandTimeoutMs)]);
    const attempted = (): void => {
      this.#attempted = true;
      settle();
    };
    if (settings.cluster !== undefined) {
      const first = settings.cluster[0]!;
      this.#options = { ...credentialsOf(first), ...settings.redisOptions, ...common, retryStrategy: retryDelay };
      this.client = new (ioredis().Cluster)(settings.cluster.map(hostAndPort), {
        redisOptions: clusterNodeOptions(this.#options),
        enableOfflineQueue: false,
        enableReadyCheck: true,
        lazyConnect: false,
        scaleReads: 'master',
        clusterRetryStrategy: retryDelay,
        // Redirections are safe to follow (the command did not run); a command whose connection closed may
        // have run, and one refused with CLUSTERDOWN is answered "unavailable" at once: never resent.
        maxRedirections: 16,
        retryDelayOnMoved: 0,
        retryDelayOnTryAgain: 100,
        retryDelayOnFailover: 0,
        retryDelayOnClusterDown: 0,
        slotsRefreshTimeout: settings.commandTimeoutMs,
        slotsRefreshInterval: 5000,
      });
    } else {
      this.#options = { ...settings.redisOptions, ...common, retryStrategy: retryDelay };
      this.client = new (ioredis().Redis)(settings.url, this.#options);
    }
    for (const [name, script] of Object.entries(SCRIPTS)) this.client.defineCommand(name, script);
    let checks = 0;
    this.client.on('ready', () => {
      this.#replacing = false;
      this.#lastError = undefined;
      const check = ++checks;
      // Serve only once the layout is known to be ours (a fresh prefix is initialised here).
      this.#withTimeout('layout check', this.#nodesReady().then(() => checkLayout(this.client, this.where)), Math.max(this.#commandTimeoutMs, LAYOUT_CHECK_MIN_MS)).then(
        () => {
          if (check !== checks || this.#closed || this.client.status !== 'ready') return;
          this.#refusal = undefined;
          this.availability.set(true, this.#everReady ? `reconnected to Redis at ${this.where}` : `connected to Redis at ${this.where}`);
          this.#everReady = true;
          attempted();
        },
        (error: unknown) => {
          if (check !== checks || this.#closed) return;
          if (error instanceof StoreError && !(error instanceof StoreUnavailableError)) {
            this.#refusal = error;
            this.availability.set(false, error.message);
          } else {
            this.#lastError = error instanceof Error ? error : new Error(String(error));
            // A check that could not run: the connection is not usable yet; try again on a fresh one.
            this.#replace();
          }
          attempted();
        },
      );
    });
    this.client.on('error', (error: Error) => {
      this.#lastError = error;
      this.#emit({ type: 'connection-error', connection: 'command', error });
    });
    this.client.on('close', () => {
      this.#replacing = false;
      checks++;
      const why = this.#lastError ? `: ${this.#lastError.message}` : '';
      this.availability.set(false, this.#closed ? 'the store was closed' : `lost the connection to Redis at ${this.where}${why}`);
      attempted();
    });
    this.client.on('end', attempted);
  }

  /**
   * On a cluster: ioredis connects each node on its first command, and (the cluster having no offline
   * queue) refuses a command to a node still connecting. A PING to each master first, so the store's
   * first commands find every master connected.
   */
  async #nodesReady(): Promise<void> {
    if (!this.cluster) return;
    await Promise.all((this.client as Cluster).nodes('master').map((node) => node.ping().catch(() => undefined)));
  }

  /**
   * A new connection for the fan-out (which subscribes on each `ready` itself): to `subscriberUrl` on one
   * Redis, or to the cluster node `node` (`host:port`, a master of the cluster's current slot map).
   */
  subscriber(node?: string): Redis {
    const options = { ...this.#options, autoResubscribe: false };
    if (node === undefined) return new (ioredis().Redis)(this.#subscriberUrl, options);
    const colon = node.lastIndexOf(':');
    return new (ioredis().Redis)({ ...options, host: node.slice(0, colon), port: Number(node.slice(colon + 1)) });
  }

  /** On a cluster: the master (`host:port`) serving `slot` in the client's slot map; undefined when unknown or on one Redis. */
  ownerOf(slot: number): string | undefined {
    if (!this.cluster) return undefined;
    return (this.client as Cluster).slots[slot]?.[0];
  }

  /** On a cluster: read the slot map again (after a subscription saw the map change); resolves when done or failed. */
  refreshSlots(): Promise<void> {
    if (!this.cluster) return Promise.resolve();
    return new Promise((resolve) => (this.client as Cluster).refreshSlotsCache(() => resolve()));
  }

  /** A script, as a function of its string arguments. */
  script(name: ScriptName): ScriptCall {
    const client = this.client as unknown as Record<ScriptName, ScriptCall>;
    return (...args) => client[name].apply(this.client, args);
  }

  /**
   * Run one Redis operation: reject at once while Redis is unreachable (waiting only for the very
   * first connection attempt, so a store used right after creation does not fail spuriously), bound
   * it by `commandTimeoutMs`, and turn failures into store errors.
   */
  async exec<T>(operation: string, work: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.#commandTimeoutMs;
    if (!this.availability.up && !this.#attempted) await this.#firstAttempt;
    // Closed while waiting for the first attempt.
    if (this.#closed) throw new StoreUnavailableError(`${this.#label} is closed`);
    if (this.#refusal) throw new StoreError(this.#refusal.message, { cause: this.#refusal });
    if (!this.availability.up) {
      const why = this.#lastError ? `: ${this.#lastError.message}` : '';
      throw new StoreUnavailableError(`redis store: ${operation} failed: Redis at ${this.where} cannot be reached${why}`, {
        cause: this.#lastError,
      });
    }
    try {
      return await this.#withTimeout(operation, work(), Math.max(1, deadline - Date.now()));
    } catch (error) {
      throw redisStoreError(error, operation, this.where);
    }
  }

  /** Close the connection, waiting for replies already due. */
  async close(): Promise<void> {
    this.#closed = true;
    await closeConnection(this.client);
    this.availability.set(false, 'the store was closed');
  }

  /**
   * Drop the current connection so that ioredis opens a fresh one: once per connection, however many
   * commands time out on it. A stalled peer never finishes the close, and each further disconnect would
   * hold another listener and timer on the same socket until it does.
   */
  #replace(): void {
    if (this.#replacing || this.client.status !== 'ready') return;
    this.#replacing = true;
    this.client.disconnect(true);
  }

  async #withTimeout<T>(operation: string, promise: Promise<T>, ms: number): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.#emit({ type: 'command-timeout', operation, timeoutMs: this.#commandTimeoutMs });
        // A connection that stopped answering without closing: replace it. If Redis is really gone,
        // reconnecting fails and `available` turns false.
        this.#replace();
        // Sent, and maybe done: say so, never "not stored".
        reject(new StoreOutcomeUnknownError(`redis store: ${operation} got no answer from Redis at ${this.where} within ${this.#commandTimeoutMs} ms; it may or may not have taken effect`));
      }, ms);
    });
    try {
      return await Promise.race([promise, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * Node options for a Cluster: it reconnects its nodes itself (no retry strategy), and connects each on
 * first use (an eager connect races with its own and drops the node).
 */
function clusterNodeOptions(options: RedisOptions): RedisOptions {
  const copy = { ...options };
  delete copy.retryStrategy;
  delete copy.lazyConnect;
  delete copy.enableOfflineQueue;
  return copy;
}

/** `host:port` of a node URL, as ioredis's Cluster takes its startup nodes. */
function hostAndPort(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port === '' ? 6379 : Number(u.port) };
}

/** The credentials and TLS of a node URL, for every connection to the cluster (discovered nodes included). */
function credentialsOf(url: string): RedisOptions {
  const u = new URL(url);
  return {
    ...(u.username !== '' ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password !== '' ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

/** The cluster's startup nodes without credentials, for messages. */
export function describeCluster(urls: readonly string[]): string {
  const hosts = urls.map((url) => {
    try {
      return new URL(url).host;
    } catch {
      return '?';
    }
  });
  return `redis-cluster://${hosts.join(',')}`;
}
