/**
 * The Redis engine's command connection: made to fail fast while Redis is away (nothing queued, nothing
 * resent later), reconnecting on its own with backoff, every operation bounded by `commandTimeoutMs`,
 * failures turned into store errors, and availability that follows the connection.
 * @packageDocumentation
 */
import type { Redis, RedisOptions } from 'ioredis';
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

function replyCode(error: unknown): string | undefined {
  if (!(error instanceof ioredis().ReplyError)) return undefined;
  return String((error as Error).message).split(' ', 1)[0];
}

/**
 * Turn an ioredis failure into a store error. An error reply from Redis is the server refusing this
 * operation ({@link StoreError}) unless its code says the server cannot serve at all; anything else
 * (not connected, connection closed or reset, aborted) is {@link StoreOutcomeUnknownError}: it was
 * sent, and may have taken effect.
 */
function redisStoreError(error: unknown, what: string, where: string): Error {
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

/** Reconnect delays: exponential from 100 ms, capped at 2 s, forever; half of each delay jittered. */
function retryDelay(attempt: number): number {
  const ceiling = Math.min(100 * 2 ** Math.min(attempt - 1, 10), 2000);
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** Close an ioredis connection: politely (QUIT, after the replies already due) when it is up, at once otherwise. */
export async function closeConnection(client: Redis): Promise<void> {
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

/**
 * The command connection. Connects in the background from construction; the first operations wait
 * for that first attempt (bounded by `commandTimeoutMs`), later ones reject at once while Redis is away.
 */
export class RedisConnection {
  /** Whether the command connection is ready: false until the first connection, while reconnecting, and after close. */
  readonly availability = new Availability(false);
  /** The ioredis client (the fan-out publishes its pings through it). */
  readonly client: Redis;
  /** Where Redis is, without credentials: for messages. */
  readonly where: string;
  readonly #label: string;
  readonly #subscriberUrl: string;
  readonly #options: RedisOptions;
  readonly #commandTimeoutMs: number;
  readonly #emit: (event: RedisStoreEvent) => void;
  /** Settles when the first connection attempt succeeds or fails, or after `commandTimeoutMs` at most. */
  readonly #firstAttempt: Promise<void>;
  #attempted = false;
  #everReady = false;
  #lastError: Error | undefined;
  #closed = false;

  /**
   * @param settings - the engine's settings
   * @param label - how messages name the store
   * @param emit - where events go (never throws)
   */
  constructor(settings: RedisSettings, label: string, emit: (event: RedisStoreEvent) => void) {
    this.where = describeUrl(settings.url);
    this.#label = label;
    this.#subscriberUrl = settings.subscriberUrl;
    this.#commandTimeoutMs = settings.commandTimeoutMs;
    this.#emit = emit;
    this.#options = {
      ...settings.redisOptions,
      keyPrefix: '', // the store names its keys itself (scripts build some names)
      retryStrategy: retryDelay,
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
    this.client = new (ioredis().Redis)(settings.url, this.#options);
    for (const [name, script] of Object.entries(SCRIPTS)) this.client.defineCommand(name, script);
    this.client.on('ready', () => {
      this.#lastError = undefined;
      this.availability.set(true, this.#everReady ? `reconnected to Redis at ${this.where}` : `connected to Redis at ${this.where}`);
      this.#everReady = true;
      attempted();
    });
    this.client.on('error', (error: Error) => {
      this.#lastError = error;
      this.#emit({ type: 'connection-error', connection: 'command', error });
    });
    this.client.on('close', () => {
      const why = this.#lastError ? `: ${this.#lastError.message}` : '';
      this.availability.set(false, this.#closed ? 'the store was closed' : `lost the connection to Redis at ${this.where}${why}`);
      attempted();
    });
    this.client.on('end', attempted);
  }

  /** A new connection with the same settings, for the fan-out's subscriber (which subscribes on each `ready` itself). */
  subscriber(): Redis {
    return new (ioredis().Redis)(this.#subscriberUrl, { ...this.#options, autoResubscribe: false });
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

  async #withTimeout<T>(operation: string, promise: Promise<T>, ms: number): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.#emit({ type: 'command-timeout', operation, timeoutMs: this.#commandTimeoutMs });
        // A connection that stopped answering without closing: replace it. If Redis is really gone,
        // reconnecting fails and `available` turns false.
        if (this.client.status === 'ready') this.client.disconnect(true);
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
