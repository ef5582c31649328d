/**
 * The Redis engine (ioredis): for several processes and nodes sharing one history. Channel history in
 * Redis Streams, sessions and dedupe records as keys with expiry, and every append published on one
 * pub/sub channel so each process can deliver it to its own subscribers ({@link RedisStore.watch}).
 *
 * Import it from `lifeline/store/redis`, so users of the other engines never load ioredis.
 * @packageDocumentation
 */
import type { Redis, RedisOptions } from 'ioredis';
import { requireOptional } from '../optional-dependency.js';
import { LifelineError } from '../errors.js';
import { IdempotencyConflictError, IdempotencyWindowError, StoreError, StoreOutcomeUnknownError, StoreUnavailableError } from './errors.js';
import {
  AUTO_SWEEP_INTERVAL_MS,
  ageCutoff,
  bareRecord,
  checkChannel,
  checkClaimOptions,
  checkReadOptions,
  checkSessionPatch,
  checkId,
  checkLimit,
  checkMessageId,
  checkOutcome,
  checkPosition,
  checkSession,
  copySession,
  decodeData,
  duplicateOfClaim,
  encodeData,
  isExpired,
  planRead,
  randomEmptyEpoch,
  randomEpoch,
  readClock,
  resolveStoreOptions,
  type ResolvedStoreOptions,
} from './internal.js';
import { Fanout, type FanoutEvent } from './redis-fanout.js';
import {
  APPEND_LUA,
  CLAIM_LUA,
  DELETE_SESSION_LUA,
  HEAD_LUA,
  READ_LUA,
  SAVE_SESSION_LUA,
  TRIM_LUA,
  UPDATE_SESSION_LUA,
  keyPart,
  redisKeys,
  type RedisKeys,
} from './redis-lua.js';
import type {
  AppendOptions,
  AppendResult,
  ChannelPosition,
  ClaimOptions,
  ClaimResult,
  JsonValue,
  MessageOutcome,
  ReadOptions,
  ReadResult,
  SessionPatch,
  SessionRecord,
  Store,
  StoredMessage,
  StoreOptions,
} from './types.js';

/** Default key prefix. */
export const DEFAULT_REDIS_PREFIX = 'lifeline:';
/** Default interval of the fan-out liveness check, in ms. */
export const DEFAULT_LIVENESS_INTERVAL_MS = 5000;
/** Default bound on one Redis operation, in ms. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 5000;
/**
 * How much longer than its logical lifetime a record stays in Redis, in ms. Whether a session,
 * idempotency key or claim is live is decided from the store's clock; Redis's expiry only collects
 * the garbage, this much later, so a process whose clock lags Redis's by less still sees its records.
 */
export const EXPIRY_GRACE_MS = 60_000;
/** Lifetimes beyond this (about 3000 years) are kept without a Redis expiry. */
const MAX_PX_MS = 1e14;

/** What a {@link RedisStore} reports through {@link RedisStoreOptions.onEvent}: for logs and metrics. */
export type RedisStoreEvent =
  | FanoutEvent
  | { readonly type: 'connection-error'; readonly connection: 'command'; readonly error: Error }
  | { readonly type: 'command-timeout'; readonly operation: string; readonly timeoutMs: number }
  | { readonly type: 'sweep-failed'; readonly error: unknown };

/** Options of {@link createRedisStore}. */
export interface RedisStoreOptions extends StoreOptions {
  /** Redis URL, e.g. `redis://user:pass@host:6379/0` or `rediss://…` for TLS. */
  url: string;
  /**
   * Prefix of every key and of the fan-out channel, so several deployments (or tests) share one Redis.
   * Processes that share history must use the same prefix. @default 'lifeline:'
   */
  prefix?: string;
  /**
   * Where the fan-out subscriber connects. Redis forwards publishes to its replicas' subscribers, so
   * this may name a replica to take pub/sub load off the primary. @default url
   */
  subscriberUrl?: string;
  /**
   * How often the fan-out subscription proves it is alive, in ms: a ping published through the command
   * connection must arrive on the subscriber within one interval, else the subscriber reconnects.
   * @default 5000
   */
  livenessIntervalMs?: number;
  /**
   * Longest wait for one Redis operation, in ms. Past it the operation rejects with
   * `StoreUnavailableError` and the connection is re-established (a peer that stopped answering
   * without closing the connection looks exactly like this). @default 5000
   */
  commandTimeoutMs?: number;
  /** Told about connection errors, timeouts, fan-out stalls and failed sweeps. Must not throw. */
  onEvent?: (event: RedisStoreEvent) => void;
  /**
   * Further ioredis options (TLS settings, Sentinel, credentials…). The options that make outages
   * fail fast (`enableOfflineQueue`, `maxRetriesPerRequest`, `retryStrategy`, …) and `keyPrefix` are
   * set by the store and cannot be overridden.
   */
  redisOptions?: RedisOptions;
}

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
 * (not connected, connection closed or reset, aborted) is {@link StoreUnavailableError}.
 */
function wrapError(error: unknown, what: string, where: string): Error {
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
function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  } catch {
    return 'the configured Redis URL';
  }
}

/** A Redis expiry (PX, in ms) for a record that stays live `ms` longer; undefined: keep without expiry. */
function pxFor(ms: number): string | undefined {
  const px = Math.max(0, Math.ceil(ms)) + EXPIRY_GRACE_MS;
  return Number.isFinite(px) && px <= MAX_PX_MS ? String(px) : undefined;
}

/** Reconnect delays: exponential from 100 ms, capped at 2 s, forever; half of each delay jittered. */
function retryDelay(attempt: number): number {
  const ceiling = Math.min(100 * 2 ** Math.min(attempt - 1, 10), 2000);
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function positive(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new RangeError(`${name} must be a finite number of ms > 0, got ${String(value)}`);
  }
  return value;
}

/** A session as stored (its channels and expiry are kept beside it). */
interface SessionJson {
  id: string;
  tokenHash: string;
  user?: string;
}

/** The channels of a session as the store's scripts take them: pairs of (key part, `epoch|offset` or ''). */
function channelArgs(channels: readonly { channel: string; position?: ChannelPosition | undefined }[]): string[] {
  return channels.flatMap(({ channel, position }) => [keyPart(channel), position ? `${position.epoch}|${position.offset}` : '']);
}

type ScriptCall = (...args: string[]) => Promise<unknown>;
const SCRIPTS = {
  lifelineAppend: { lua: APPEND_LUA }, // variable key count: the first argument is the number of keys
  lifelineRead: { lua: READ_LUA, numberOfKeys: 3 },
  lifelineHead: { lua: HEAD_LUA, numberOfKeys: 2 },
  lifelineTrim: { lua: TRIM_LUA, numberOfKeys: 3 },
  lifelineClaim: { lua: CLAIM_LUA, numberOfKeys: 2 },
  lifelineDeleteSession: { lua: DELETE_SESSION_LUA, numberOfKeys: 3 },
  lifelineUpdateSession: { lua: UPDATE_SESSION_LUA, numberOfKeys: 2 },
  lifelineSaveSession: { lua: SAVE_SESSION_LUA, numberOfKeys: 2 },
} as const;
type ScriptName = keyof typeof SCRIPTS;

/**
 * A store in Redis, shared by every process that uses the same Redis and prefix.
 *
 * `durable: true`, meaning as durable as Redis's persistence settings make it: with
 * `appendonly yes` and `appendfsync always`, an acknowledged append survives a Redis crash; with
 * `appendfsync everysec` (Redis's default) the last second or so may be lost; without persistence a
 * Redis restart loses everything. When channel data is lost, the channel gets a new random epoch, so
 * readers holding older offsets are told their history is incomplete, never handed wrong messages.
 * Use `maxmemory-policy noeviction`: an evicted key is lost data.
 *
 * - Each channel: a hash `ch:<channel>` (epoch, newest offset, newest time) and a stream
 *   `hist:<channel>` whose entry ids are `<offset>-0`, so reads by offset are XRANGE.
 * - `append` is one Lua script: idempotency check, offset, XADD, trimming, the idempotency record and
 *   the PUBLISH on `<prefix>fanout` are atomic.
 * - Sessions, idempotency keys and message claims are keys that Redis expires; whether they are live is
 *   decided from this store's clock (`now`), see {@link EXPIRY_GRACE_MS}.
 * - Outages: while Redis cannot be reached every method rejects promptly with
 *   {@link StoreUnavailableError} (nothing is queued, nothing acknowledged unstored), `available` is
 *   false, and the store reconnects on its own with backoff. An operation that rejected that way may
 *   or may not have happened: retry appends with an idempotency key.
 * - Reads create nothing (unwritten channels share the empty epoch); the records a client causes are
 *   bounded per scope (claims by id window, scoped idempotency keys by count).
 * - A call that was sent but got no answer (timeout, connection lost) rejects with
 *   {@link StoreOutcomeUnknownError}: it may have taken effect.
 * - Not for Redis Cluster: scripts touch keys of several channels and sessions.
 */
export class RedisStore implements Store {
  /** Always `redis`. */
  readonly kind = 'redis';
  /** `true`: as durable as the Redis persistence settings make it (see {@link RedisStore}). */
  readonly durable = true;
  /** The key prefix. */
  readonly prefix: string;

  readonly #options: ResolvedStoreOptions;
  readonly #keys: RedisKeys;
  readonly #client: Redis;
  readonly #where: string;
  readonly #subscriberUrl: string;
  readonly #connectionOptions: RedisOptions;
  readonly #livenessIntervalMs: number;
  readonly #commandTimeoutMs: number;
  readonly #onEvent: ((event: RedisStoreEvent) => void) | undefined;
  readonly #availabilityListeners = new Set<(available: boolean, reason?: string) => void>();
  /** Settles when the first connection attempt succeeds or fails, or after `commandTimeoutMs` at most. */
  readonly #firstAttempt: Promise<void>;
  #attempted = false;
  #available = false;
  #everReady = false;
  #lastError: Error | undefined;
  #fanout: Fanout | undefined;
  #lastSweep = -Infinity;
  #closed = false;

  /**
   * Connect (in the background: the constructor does not wait for Redis).
   * @throws TypeError or RangeError for an invalid option
   */
  constructor(options: RedisStoreOptions) {
    if (typeof options !== 'object' || options === null) throw new TypeError('redis store options must be an object');
    this.#options = resolveStoreOptions(options);
    const {
      url,
      prefix = DEFAULT_REDIS_PREFIX,
      subscriberUrl = url,
      livenessIntervalMs = DEFAULT_LIVENESS_INTERVAL_MS,
      commandTimeoutMs = DEFAULT_COMMAND_TIMEOUT_MS,
      onEvent,
      redisOptions = {},
    } = options;
    if (typeof url !== 'string' || url.length === 0) throw new TypeError('url must be a non-empty Redis URL');
    if (typeof subscriberUrl !== 'string' || subscriberUrl.length === 0) throw new TypeError('subscriberUrl must be a non-empty Redis URL');
    if (typeof prefix !== 'string' || prefix.length === 0) throw new TypeError('prefix must be a non-empty string');
    if (onEvent !== undefined && typeof onEvent !== 'function') throw new TypeError('onEvent must be a function');
    if (typeof redisOptions !== 'object' || redisOptions === null) throw new TypeError('redisOptions must be an object');
    this.#livenessIntervalMs = positive(livenessIntervalMs, 'livenessIntervalMs');
    this.#commandTimeoutMs = positive(commandTimeoutMs, 'commandTimeoutMs');
    this.#onEvent = onEvent;
    this.prefix = prefix;
    this.#keys = redisKeys(prefix);
    this.#where = describeUrl(url);
    this.#subscriberUrl = subscriberUrl;
    this.#connectionOptions = {
      ...redisOptions,
      keyPrefix: '', // the store names its keys itself (scripts build some names)
      retryStrategy: retryDelay,
      connectTimeout: this.#commandTimeoutMs,
      // Fail fast while Redis is away: nothing waits in a queue, nothing in flight is resent later.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      // After a failover a connection may land on a replica: reconnect (to the new primary).
      reconnectOnError: (error) => replyCode(error) === 'READONLY',
      lazyConnect: false,
    };

    let settle!: () => void;
    this.#firstAttempt = Promise.race([new Promise<void>((resolve) => (settle = resolve)), delay(this.#commandTimeoutMs)]);
    const attempted = (): void => {
      this.#attempted = true;
      settle();
    };
    this.#client = new (ioredis().Redis)(url, this.#connectionOptions);
    for (const [name, script] of Object.entries(SCRIPTS)) this.#client.defineCommand(name, script);
    this.#client.on('ready', () => {
      this.#lastError = undefined;
      this.#setAvailable(true, this.#everReady ? `reconnected to Redis at ${this.#where}` : `connected to Redis at ${this.#where}`);
      this.#everReady = true;
      attempted();
    });
    this.#client.on('error', (error: Error) => {
      this.#lastError = error;
      this.#emit({ type: 'connection-error', connection: 'command', error });
    });
    this.#client.on('close', () => {
      const why = this.#lastError ? `: ${this.#lastError.message}` : '';
      this.#setAvailable(false, this.#closed ? 'the store was closed' : `lost the connection to Redis at ${this.#where}${why}`);
      attempted();
    });
    this.#client.on('end', attempted);
  }

  /**
   * Whether Redis can be reached right now: the command connection is ready. False until the first
   * connection is made, while reconnecting, and after {@link RedisStore.close}.
   */
  get available(): boolean {
    return this.#available && !this.#closed;
  }

  /** Be told when {@link RedisStore.available} changes, with a reason for people. Returns the unsubscribe function. */
  onAvailability(listener: (available: boolean, reason?: string) => void): () => void {
    // A wrapper per call, so the same function added twice is two subscriptions.
    const entry = (available: boolean, reason?: string): void => listener(available, reason);
    this.#availabilityListeners.add(entry);
    return () => {
      this.#availabilityListeners.delete(entry);
    };
  }

  /**
   * Call `listener` for every message appended to any channel under this prefix, by any process
   * (this one included), in the order Redis published them. The first listener opens a subscriber
   * connection; the last unsubscribe closes it. Messages published while the subscription was down
   * are not replayed here: readers catch up by offset ({@link RedisStore.read}).
   * @throws {@link StoreUnavailableError} when the store is closed
   */
  watch(listener: (message: StoredMessage) => void): () => void {
    this.#checkOpen();
    if (typeof listener !== 'function') throw new TypeError('listener must be a function');
    const fanout = (this.#fanout ??= new Fanout({
      subscriber: new (ioredis().Redis)(this.#subscriberUrl, { ...this.#connectionOptions, autoResubscribe: false }),
      channel: this.#keys.fanout,
      publish: (payload) => this.#client.publish(this.#keys.fanout, payload),
      commandReady: () => this.available,
      livenessIntervalMs: this.#livenessIntervalMs,
      onEvent: (event) => this.#emit(event),
    }));
    const remove = fanout.add(listener);
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      remove();
      if (fanout.size === 0 && this.#fanout === fanout) {
        this.#fanout = undefined;
        void fanout.close();
      }
    };
  }

  async append(channel: string, data: JsonValue, options?: AppendOptions): Promise<AppendResult> {
    this.#checkOpen();
    checkChannel(channel);
    const key = options?.idempotencyKey;
    if (key !== undefined) checkId(key, 'idempotencyKey');
    const scope = options?.idempotencyScope;
    if (scope !== undefined) checkId(scope, 'idempotencyScope');
    const claim = options?.claim;
    if (claim !== undefined) {
      checkId(claim.scope, 'claim.scope');
      checkMessageId(claim.id);
      if (typeof claim.fingerprint !== 'string') throw new TypeError('claim.fingerprint must be a string');
    }
    const json = encodeData(data);
    const now = this.#beginWrite();
    const part = keyPart(channel);
    const { maxCount, maxAgeMs, dedupeTtlMs, maxKeysPerScope, maxClaimsPerScope } = this.#options;
    const keys = [this.#keys.meta(part), this.#keys.history(part), this.#keys.channels];
    let keyMode = '';
    if (key !== undefined) {
      keys.push(this.#keys.idempotency(key));
      keyMode = 'key';
      if (scope !== undefined) {
        keys.push(this.#keys.idempotencyScope(scope));
        keyMode = 'scoped-key';
      }
    }
    if (claim !== undefined) keys.push(this.#keys.claim(claim.scope, claim.id), this.#keys.claims(claim.scope));
    const px = pxFor(dedupeTtlMs) ?? '';
    const reply = (await this.#exec('append', () =>
      this.#script('lifelineAppend')(
        String(keys.length),
        ...keys,
        randomEpoch(),
        String(now),
        JSON.stringify(channel),
        json,
        maxCount === Infinity ? '' : String(maxCount),
        maxAgeMs === Infinity ? '' : String(ageCutoff(now, maxAgeMs)),
        dedupeTtlMs === Infinity ? '' : String(now + dedupeTtlMs),
        px,
        this.#keys.fanout,
        part,
        keyMode,
        key === undefined ? '' : keyPart(key),
        String(maxKeysPerScope),
        this.#keys.idempotencyHead,
        claim === undefined ? '' : 'claim',
        claim === undefined ? '' : String(claim.id),
        claim?.fingerprint ?? '',
        String(maxClaimsPerScope),
        this.#keys.claimHead,
        claim === undefined ? '' : this.#keys.claimTail(claim.scope),
        px,
      ),
    )) as string[];
    switch (reply[0]) {
      case 'dup': {
        const [, channelJson, epoch, offset, time, dataJson] = reply as [string, string, string, string, string, string];
        const message = { channel: JSON.parse(channelJson) as string, epoch, offset: Number(offset), data: decodeData(dataJson), time: Number(time) };
        return { message, duplicate: true };
      }
      case 'conflict': {
        const [, channelJson, epoch, offset] = reply as [string, string, string, string];
        throw new IdempotencyConflictError(`idempotency key ${key} was used for another message`, { channel: JSON.parse(channelJson) as string, epoch, offset: Number(offset) });
      }
      case 'forgotten':
        throw new IdempotencyWindowError();
      case 'claim': {
        const [, state, result, fp] = reply as [string, string, string, string];
        return duplicateOfClaim(outcomeOf(state, '', result), fp === '' ? undefined : fp, claim!.fingerprint, data);
      }
    }
    const [, epoch, offset, time] = reply as [string, string, string, string];
    return { message: { channel, epoch, offset: Number(offset), data: decodeData(json), time: Number(time) }, duplicate: false };
  }

  async read(channel: string, from: ChannelPosition | undefined, limit: number, options?: ReadOptions): Promise<ReadResult> {
    this.#checkOpen();
    checkChannel(channel);
    if (from !== undefined) checkPosition(from);
    checkLimit(limit);
    checkReadOptions(options);
    const now = readClock(this.#options.now);
    if (from === undefined) return { messages: [], complete: true, more: false, head: await this.head(channel) };
    const part = keyPart(channel);
    const { maxAgeMs } = this.#options;
    const reply = (await this.#exec('read', () =>
      this.#script('lifelineRead')(
        this.#keys.meta(part),
        this.#keys.history(part),
        this.#keys.emptyEpoch,
        randomEmptyEpoch(),
        maxAgeMs === Infinity ? '' : String(ageCutoff(now, maxAgeMs)),
        from.epoch,
        String(from.offset),
        String(limit + 1),
        options?.maxBytes === undefined ? '' : String(options.maxBytes),
      ),
    )) as string[];
    const head: ChannelPosition = { epoch: reply[0]!, offset: Number(reply[1]) };
    const plan = planRead(head, Number(reply[2]), from, reply[3]!);
    const messages: StoredMessage[] = [];
    const rows = (reply.length - 4) / 3;
    for (let i = 4; i + 2 < reply.length && messages.length < limit; i += 3) {
      // A row with empty data is the look-ahead past a byte bound: proof of more, not a message.
      if (reply[i + 2] === '') break;
      messages.push({ channel, epoch: head.epoch, offset: Number(reply[i]), data: decodeData(reply[i + 2]!), time: Number(reply[i + 1]) });
    }
    return { messages, complete: plan.complete, more: rows > messages.length, head };
  }

  async head(channel: string): Promise<ChannelPosition> {
    this.#checkOpen();
    checkChannel(channel);
    const part = keyPart(channel);
    const [epoch, last] = (await this.#exec('head', () =>
      this.#script('lifelineHead')(this.#keys.meta(part), this.#keys.emptyEpoch, randomEmptyEpoch()),
    )) as [string, string];
    return { epoch, offset: Number(last) };
  }

  async saveSession(session: SessionRecord): Promise<void> {
    this.#checkOpen();
    checkSession(session);
    const now = this.#beginWrite();
    const record: SessionJson = { id: session.id, tokenHash: session.tokenHash, ...(session.user === undefined ? {} : { user: session.user }) };
    const channels = session.channels.map((channel) => ({ channel, position: session.positions?.[channel] }));
    await this.#exec('saveSession', () =>
      this.#script('lifelineSaveSession')(
        this.#keys.session(session.id),
        this.#keys.sessionChannels(session.id),
        JSON.stringify(record),
        String(session.expiresAt),
        pxFor(session.expiresAt - now) ?? '',
        ...channelArgs(channels),
      ),
    );
  }

  async updateSession(id: string, patch: SessionPatch): Promise<boolean> {
    this.#checkOpen();
    checkId(id, 'session id');
    checkSessionPatch(patch);
    const now = this.#beginWrite();
    const expiresAt = patch.expiresAt;
    const removing = patch.unsubscribe ?? [];
    const changed = await this.#exec('updateSession', () =>
      this.#script('lifelineUpdateSession')(
        this.#keys.session(id),
        this.#keys.sessionChannels(id),
        String(now),
        expiresAt === undefined ? '' : String(expiresAt),
        expiresAt === undefined ? '' : (pxFor(expiresAt - now) ?? ''),
        String(removing.length),
        ...removing.map(keyPart),
        ...channelArgs(patch.subscribe ?? []),
      ),
    );
    return Number(changed) === 1;
  }

  async loadSession(id: string): Promise<SessionRecord | undefined> {
    this.#checkOpen();
    checkId(id, 'session id');
    const now = readClock(this.#options.now);
    const [stored, fields] = await this.#exec('loadSession', async () => {
      const replies = await this.#client.multi().hgetall(this.#keys.session(id)).hgetall(this.#keys.sessionChannels(id)).exec();
      if (!replies) throw new StoreUnavailableError('redis store: loadSession was aborted');
      for (const [error] of replies) if (error) throw error;
      return [replies[0]![1] as Record<string, string>, replies[1]![1] as Record<string, string>];
    });
    if (stored.r === undefined || stored.e === undefined) return undefined;
    let record: SessionJson;
    try {
      record = JSON.parse(stored.r) as SessionJson;
    } catch (error) {
      throw new StoreError(`redis store: the session record ${id} is not valid JSON`, { cause: error });
    }
    const expiresAt = Number(stored.e);
    if (isExpired(expiresAt, now)) return undefined;
    const entries: { channel: string; seq: number; position?: ChannelPosition }[] = [];
    for (const [field, value] of Object.entries(fields)) {
      if (field === '') continue;
      const [seq, epoch, offset] = value.split('|') as [string, string | undefined, string | undefined];
      entries.push({ channel: JSON.parse(`"${field}"`) as string, seq: Number(seq), ...(epoch ? { position: { epoch, offset: Number(offset) } } : {}) });
    }
    entries.sort((a, b) => a.seq - b.seq);
    const positions = bareRecord<ChannelPosition>();
    for (const e of entries) if (e.position) positions[e.channel] = e.position;
    return copySession({ id: record.id, tokenHash: record.tokenHash, ...(record.user === undefined ? {} : { user: record.user }), channels: entries.map((e) => e.channel), positions, expiresAt });
  }

  async deleteSession(id: string): Promise<void> {
    this.#checkOpen();
    checkId(id, 'session id');
    await this.#exec('deleteSession', () =>
      this.#script('lifelineDeleteSession')(
        this.#keys.session(id),
        this.#keys.claims(id),
        this.#keys.sessionChannels(id),
        this.#keys.claimHead,
        this.#keys.claimTail(id),
      ),
    );
  }

  async claimMessage(session: string, messageId: number, options?: ClaimOptions): Promise<ClaimResult> {
    this.#checkOpen();
    checkId(session, 'session');
    checkMessageId(messageId);
    checkClaimOptions(options);
    const lease = options?.leaseMs ?? this.#options.dedupeTtlMs;
    const found = await this.#writeClaim('claim', session, messageId, { state: 'claimed' }, lease, options?.fingerprint ?? '');
    if (found.length === 0) return { claimed: true };
    if (found[0] === 'forgotten') return { claimed: false, forgotten: true };
    const [state, incident, result, fp] = found as [string, string, string, string];
    const outcome = outcomeOf(state, incident, result);
    const conflict = options?.fingerprint !== undefined && fp !== '' && fp !== options.fingerprint;
    return conflict ? { claimed: false, outcome, conflict: true } : { claimed: false, outcome };
  }

  async finishMessage(session: string, messageId: number, outcome: MessageOutcome): Promise<void> {
    this.#checkOpen();
    checkId(session, 'session');
    checkMessageId(messageId);
    checkOutcome(outcome);
    await this.#writeClaim('finish', session, messageId, outcome, this.#options.dedupeTtlMs, '');
  }

  /**
   * Trim history older than `maxAgeMs` in every channel (appends and reads trim their own channel;
   * this reaches channels nobody touches). Expired sessions, idempotency keys and claims need no
   * sweep: they are invisible from their expiry on, and Redis deletes them.
   */
  async sweep(): Promise<void> {
    this.#checkOpen();
    await this.#sweepAt(readClock(this.#options.now));
  }

  /**
   * Stop the fan-out and close both connections (waiting for replies already due). Idempotent;
   * afterwards every other method rejects with {@link StoreUnavailableError}.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const fanout = this.#fanout;
    this.#fanout = undefined;
    const client = this.#client;
    await Promise.all([
      fanout?.close(),
      (async () => {
        if (client.status === 'end') return;
        try {
          if (client.status === 'ready') await client.quit();
          else client.disconnect();
        } catch {
          client.disconnect();
        }
      })(),
    ]);
    this.#setAvailable(false, 'the store was closed');
  }

  #checkOpen(): void {
    if (this.#closed) throw new StoreUnavailableError(`the redis store (${this.#where}, prefix ${this.prefix}) is closed`);
  }

  #script(name: ScriptName): ScriptCall {
    const client = this.#client as unknown as Record<ScriptName, ScriptCall>;
    return (...args) => client[name].apply(this.#client, args);
  }

  #emit(event: RedisStoreEvent): void {
    try {
      this.#onEvent?.(event);
    } catch {
      // A logging callback must not break the store.
    }
  }

  #setAvailable(available: boolean, reason: string): void {
    if (this.#available === available) return;
    this.#available = available;
    for (const listener of [...this.#availabilityListeners]) {
      try {
        listener(available, reason);
      } catch {
        // One listener's failure must not keep the others from hearing about it.
      }
    }
  }

  /**
   * Run one Redis operation: reject at once while Redis is unreachable (waiting only for the very
   * first connection attempt, so a store used right after creation does not fail spuriously), bound
   * it by `commandTimeoutMs`, and turn failures into store errors.
   */
  async #exec<T>(operation: string, work: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.#commandTimeoutMs;
    if (!this.#available && !this.#attempted) await this.#firstAttempt;
    this.#checkOpen();
    if (!this.#available) {
      const why = this.#lastError ? `: ${this.#lastError.message}` : '';
      throw new StoreUnavailableError(`redis store: ${operation} failed: Redis at ${this.#where} cannot be reached${why}`, {
        cause: this.#lastError,
      });
    }
    try {
      return await this.#withTimeout(operation, work(), Math.max(1, deadline - Date.now()));
    } catch (error) {
      throw wrapError(error, operation, this.#where);
    }
  }

  async #withTimeout<T>(operation: string, promise: Promise<T>, ms: number): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.#emit({ type: 'command-timeout', operation, timeoutMs: this.#commandTimeoutMs });
        // A connection that stopped answering without closing: replace it. If Redis is really gone,
        // reconnecting fails and `available` turns false.
        if (this.#client.status === 'ready') this.#client.disconnect(true);
        // Sent, and maybe done: say so, never "not stored".
        reject(new StoreOutcomeUnknownError(`redis store: ${operation} got no answer from Redis at ${this.#where} within ${this.#commandTimeoutMs} ms; it may or may not have taken effect`));
      }, ms);
    });
    try {
      return await Promise.race([promise, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Read the clock for a write; start a background sweep when the last one is old enough. */
  #beginWrite(): number {
    const now = readClock(this.#options.now);
    if (now - this.#lastSweep >= AUTO_SWEEP_INTERVAL_MS && this.#options.maxAgeMs !== Infinity) {
      this.#lastSweep = now;
      void this.#autoSweep(now);
    }
    return now;
  }

  /** The periodic sweep: one process per interval does it (a lock key with Redis's own expiry). */
  async #autoSweep(now: number): Promise<void> {
    try {
      const got = await this.#exec('sweep', () => this.#client.set(this.#keys.sweepLock, '1', 'PX', AUTO_SWEEP_INTERVAL_MS, 'NX'));
      if (got === 'OK') await this.#sweepAt(now);
    } catch (error) {
      if (!this.#closed) this.#emit({ type: 'sweep-failed', error });
    }
  }

  async #sweepAt(now: number): Promise<void> {
    if (this.#options.maxAgeMs === Infinity) return;
    const cutoff = String(ageCutoff(now, this.#options.maxAgeMs));
    let cursor = '0';
    do {
      const [next, parts] = await this.#exec('sweep', () => this.#client.sscan(this.#keys.channels, cursor, 'COUNT', 100));
      cursor = next;
      await Promise.all(
        parts.map((part) =>
          this.#exec('sweep', () =>
            this.#script('lifelineTrim')(this.#keys.meta(part), this.#keys.history(part), this.#keys.channels, cutoff, part),
          ),
        ),
      );
    } while (cursor !== '0' && !this.#closed);
  }

  /** Write a claim record (`finish`), or write it unless a live one exists (`claim`): see CLAIM_LUA. */
  async #writeClaim(mode: 'claim' | 'finish', session: string, messageId: number, outcome: MessageOutcome, lifeMs: number, fingerprint: string): Promise<string[]> {
    const now = this.#beginWrite();
    const { dedupeTtlMs, maxClaimsPerScope } = this.#options;
    const result = outcome.state === 'done' && outcome.result !== undefined ? encodeData(outcome.result) : '';
    return (await this.#exec(mode === 'claim' ? 'claimMessage' : 'finishMessage', () =>
      this.#script('lifelineClaim')(
        this.#keys.claim(session, messageId),
        this.#keys.claims(session),
        mode,
        String(now),
        lifeMs === Infinity ? '' : String(now + lifeMs),
        pxFor(lifeMs) ?? '',
        String(messageId),
        outcome.state,
        outcome.state === 'failed' ? outcome.incident : '',
        result,
        fingerprint,
        String(maxClaimsPerScope),
        this.#keys.claimHead,
        this.#keys.claimTail(session),
        pxFor(dedupeTtlMs) ?? '',
      ),
    )) as string[];
  }
}

/** A claim's outcome from its stored fields. */
function outcomeOf(state: string, incident: string, result: string): MessageOutcome {
  switch (state) {
    case 'failed':
      return { state: 'failed', incident };
    case 'done':
      return result === '' ? { state: 'done' } : { state: 'done', result: decodeData(result) };
    case 'claimed':
      return { state: 'claimed' };
    default:
      return { state: 'running' };
  }
}

/**
 * Create a Redis store (see {@link RedisStore}). Returns at once; the connection is made in the
 * background, and the first operations wait for that first attempt (bounded by `commandTimeoutMs`).
 * @param options - `url` and engine settings, plus history bounds, dedupe TTL and clock
 * @throws TypeError or RangeError for an invalid option
 * @example
 * ```ts
 * import { createRedisStore } from 'lifeline/store/redis';
 * const store = createRedisStore({ url: 'redis://127.0.0.1:6379', prefix: 'chat:' });
 * store.onAvailability((up, reason) => console.log(up ? 'redis up' : 'redis down', reason));
 * const { message } = await store.append('news', { title: 'hello' }, { idempotencyKey: 'post-17' });
 * await store.close();
 * ```
 */
export function createRedisStore(options: RedisStoreOptions): RedisStore {
  return new RedisStore(options);
}
