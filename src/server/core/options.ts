import type { Logger } from './logger.js';
import type { Json, RetryHint } from '../../protocol/index.js';
import type { Store } from '../../store/types.js';
import type { ChannelAuthorizer, SessionMessageHandler } from '../v1/protocol-session.js';
import type { Connection } from './connection.js';
import type { UpgradeInfo } from './transport.js';

/** Handler for a new connection. May be async; a throw closes that connection with 1011. */
export type ConnectionHandler = (connection: Connection, info: UpgradeInfo) => unknown;
/** Handler for one message. May be async; a throw closes that connection with 1011, unless it is a `CloseError`. */
export type MessageHandler = (connection: Connection, data: string | Uint8Array, isBinary: boolean) => unknown;
/** Handler for a closed connection. May be async; a throw is logged as an incident (the connection is already gone). */
export type CloseHandler = (connection: Connection, code: number, reason: string) => unknown;

/**
 * Decide who may connect. Called before each upgrade with the request only; return the user's id (bound
 * into sessions, so a resume token only works for its user), `true` to admit anonymously, or
 * `false`/`undefined` to refuse with HTTP 401. A throw refuses with 500 and is logged.
 *
 * Called again, on `lifeline.v1` connections, with `credentials`: the `auth` member of `hello` (so a
 * browser need not put a token in the URL; admit its upgrade with `true`) and of each `auth` refresh.
 * What it returns then becomes the connection's user; refused in `hello`, the connection is closed with
 * 4802 (401) or 1008 (403); a refresh that names another user closes it with 1008. Return
 * `{ user, expiresAt }` to have the server close the connection with 4802 at `expiresAt` unless the client
 * refreshed its credentials by then (`lifeline.v1` connections; plain ones are not closed at expiry).
 */
export type Authenticate = (request: UpgradeInfo, credentials?: Json) => AuthResult | Promise<AuthResult>;

/**
 * What {@link Authenticate} returns: a user id, `true` (anonymous), `{ user?, expiresAt? }` (a user, and
 * when the credentials stop being valid, ms since the epoch), `false`/`undefined`/`null` (401), or
 * `{ reject: 401 | 403 }` to choose the status (401: who are you?; 403: known, but not allowed).
 */
export type AuthResult =
  | string
  | boolean
  | undefined
  | null
  | { readonly reject: 401 | 403 }
  | { readonly user?: string; readonly expiresAt?: number };

/** A per-connection message rate limit (token bucket). */
export interface RateLimit {
  /** Sustained messages per second. */
  readonly messagesPerSecond: number;
  /** Messages allowed in a burst above the sustained rate. */
  readonly burst: number;
}

/** Code used when the server drains for good rather than for a restart. */
export type ShutdownCode = 1012 | 1001;

/** Options of {@link createServer}. Every duration is in milliseconds. */
export interface ServerOptions {
  /** Admission check before each upgrade; see {@link Authenticate}. @default everyone is admitted */
  authenticate?: Authenticate;
  /**
   * Browser origins allowed to connect (exact `Origin` header values, e.g. `https://app.example.com`).
   * Others get HTTP 403 before the upgrade. Requests without an `Origin` (non-browser clients) pass.
   * @default any origin
   */
  allowedOrigins?: readonly string[];
  /** Most open connections; further upgrades get HTTP 503 with `Retry-After`. 0: no limit. @default 0 */
  maxConnections?: number;
  /** Per-connection message rate; a connection over it is closed with 1008. @default no limit */
  rateLimit?: RateLimit;
  /** Called for each new connection. */
  onConnection?: ConnectionHandler;
  /** Called for each message, one at a time per connection. */
  onMessage?: MessageHandler;
  /** Called once per connection after it closed. */
  onClose?: CloseHandler;
  /**
   * Structured logger (pino's, or anything with its `info`, `warn` and `error`). @default pino at level
   * `info` to stdout (`createServer`; the transport-free core needs one given)
   */
  logger?: Logger;
  /** Window over which a drain spreads its closes. @default 5000 */
  drainWindowMs?: number;
  /** How long a drain waits for in-flight handlers before it starts closing. @default 5000 */
  graceMs?: number;
  /** After the last paced close, how long peers get to finish the closing handshake before they are terminated. @default 2000 */
  closeTimeoutMs?: number;
  /** The window clients are told to come back in, sent in every 1012 and 1013 reason. @default {minMs: 1000, maxMs: 5000} */
  retryHint?: RetryHint;
  /** Code a shutdown closes with: 1012 when a restart follows (deploys), 1001 when the service goes away for good. @default 1012 */
  shutdownCode?: ShutdownCode;
  /**
   * Restart code for plain clients (no subprotocol) when a drain would send 1012. Some clients written to
   * the original RFC 6455 list treat 1012 as a protocol error; 1001 brings them back too. @default 1012
   */
  plainRestartCode?: ShutdownCode;
  /** Interval between heartbeat pings; a peer that has not answered the previous ping is terminated. 0 turns heartbeats off. @default 30000 */
  heartbeatMs?: number;
  /** Output buffered for one peer above which it is closed as a slow consumer (1013, it resumes later). @default 8388608 */
  maxBufferedBytes?: number;
  /** Largest accepted message in bytes; larger ones close with 1009. @default 1048576 */
  maxPayload?: number;
  /**
   * Most frames (fragments) one message may arrive in; more close with 1008. 0: no limit (a message is
   * still bounded by `maxPayload`). @default 16384
   */
  maxFragments?: number;
  /**
   * Messages received on one connection but not yet handled, above which the server stops reading from
   * that socket (TCP then pushes back on the sender) until half of them are handled. @default 64
   */
  maxQueuedMessages?: number;
  /**
   * The same bound in bytes of the queued messages (each counted with 256 bytes of overhead). Four times
   * this closes the connection with 1008: only data the transport had already read when reading stopped
   * can get there. @default 4 * maxPayload
   */
  maxQueuedBytes?: number;
  /**
   * Most upgrades admitted at once while `authenticate` runs (they count towards `maxConnections` too);
   * more get HTTP 503 with `Retry-After`. @default 1000
   */
  maxPendingUpgrades?: number;
  /**
   * Longest time a client may take to send a request's headers (an upgrade's included) on the HTTP server
   * `listen()` creates; past it the server answers 408 and closes the connection, so headers that trickle
   * in a line at a time cannot hold a socket. 0: no limit. Not applied to a server given to `attach()`
   * (set its own `headersTimeout`). @default 10000
   */
  headersTimeoutMs?: number;
  /**
   * Longest time a client may take to send a whole request, body included, on the HTTP server `listen()`
   * creates; past it the server answers 408 and closes the connection, so a body that trickles cannot hold
   * a socket. Counts only until the request is received: a publish waiting on the store, or a WebSocket once
   * upgraded, is not cut. At least `headersTimeoutMs`; 0: no limit. Not applied to a server given to
   * `attach()`. @default 30000
   */
  requestTimeoutMs?: number;
  /** Subprotocols offered, in order of preference. @default [] */
  subprotocols?: readonly string[];
  /** Uniform random source in [0, 1), injectable for tests. @default Math.random */
  random?: () => number;

  // ---- lifeline.v1 (sessions, channels, acknowledged messages) ----

  /** Where history, sessions and dedupe records live. @default a memory store (lost on restart) */
  store?: Store;
  /** Called for each acknowledged `msg` of a `lifeline.v1` client, at most once per message id. */
  onSessionMessage?: SessionMessageHandler;
  /** May this connection subscribe to this channel? @default everyone may */
  authorizeSubscribe?: ChannelAuthorizer;
  /** May this connection publish to this channel? @default nobody may (publish from the server or over HTTP) */
  authorizePublish?: ChannelAuthorizer;
  /** How long a resume token stays valid after the session's last use. @default 3600000 (1 h) */
  sessionTtlMs?: number;
  /** Most channels one connection may subscribe to. @default 1000 */
  maxSubscriptions?: number;
  /** A `lifeline.v1` connection that has not sent `hello` by then is closed with 1008 (any other frame does not count). @default 10000 */
  helloTimeoutMs?: number;
  /** Most bytes of stored data one page of history replay holds (one message is always read). @default 262144 */
  replayPageBytes?: number;
  /**
   * Bytes of history replay held for sending across all connections at once; replays wait for room,
   * so many clients asking for history at once are as bounded as one. @default 67108864
   */
  maxReplayBytes?: number;
  /**
   * Bytes of history replay one connection may hold for sending at once (its share of `maxReplayBytes`),
   * so one connection that does not read cannot hold the whole server-wide budget. @default 4194304
   */
  maxReplayBytesPerConnection?: number;
  /** Most channels one connection may bring into existence by publishing (`error LIMIT` beyond). @default 100 */
  maxChannelsCreated?: number;
  /**
   * How long a claim of a client message holds before its handler starts: a claim whose answer was lost
   * in a store stall lapses after this, so the resend runs. @default 30000
   */
  claimLeaseMs?: number;
  /** Who may read `$lifeline.*` channels (the server's own feeds). @default nobody */
  authorizeReserved?: ChannelAuthorizer;
  /** Bearer key that authorises `POST /publish`; without one, HTTP publishing is off. */
  publishKey?: string;

  // ---- presence (lifeline.v1 `sub` with `presence`; needs a store that keeps presence: memory, sqlite) ----

  /**
   * How long a member whose connection went away without ending its session (a restart, a dropped link)
   * stays a member: a resume within it continues the membership silently; after it, the member leaves.
   * @default drainWindowMs + retryHint.maxMs + 10000: a client closed at the start of a shutdown's drain
   *   is told to come back up to drainWindowMs + retryHint.maxMs later, and gets 10 s more to reconnect
   *   and resume (20000 with the defaults)
   */
  presenceGraceMs?: number;
  /**
   * How long this process's presence lease lasts; renewed every third of it. When a process dies without
   * a word (SIGKILL), its members leave a grace period after its lease ran out. @default 10000
   */
  presenceLeaseMs?: number;
  /** Most members of one channel's presence; a `sub` with `presence` beyond it gets `error LIMIT`. @default 10000 */
  maxPresenceMembers?: number;
  /** Largest `presence.info` of a `sub`, in bytes of JSON text; larger gets `error LIMIT`. @default 1024 */
  maxPresenceInfoBytes?: number;
  /** Presence queries one connection may make per second (as many in a burst); more are answered `members` with `code: LIMIT`. @default 10 */
  presenceQueriesPerSecond?: number;
  /** `join`/`leave` events one channel sends per second on this process (as many in a burst); more wait, coalesced per member. @default 100 */
  presenceEventsPerSecond?: number;
}

/** The presence grace period in force: `presenceGraceMs`, or its default (see {@link ServerOptions.presenceGraceMs}). */
export function presenceGraceOf(settings: Pick<ResolvedServerOptions, 'presenceGraceMs' | 'drainWindowMs' | 'retryHint'>): number {
  return settings.presenceGraceMs ?? settings.drainWindowMs + settings.retryHint.maxMs + PRESENCE_RECONNECT_MARGIN_MS;
}

/** What the default grace gives a client beyond the drain window and the retry hint to reconnect and resume. */
export const PRESENCE_RECONNECT_MARGIN_MS = 10_000;

/** {@link ServerOptions} with every default applied. */
type OptionalHooks =
  | 'authenticate'
  | 'allowedOrigins'
  | 'rateLimit'
  | 'onConnection'
  | 'onMessage'
  | 'onClose'
  | 'onSessionMessage'
  | 'authorizeSubscribe'
  | 'authorizePublish'
  | 'authorizeReserved'
  | 'publishKey'
  | 'store'
  | 'maxQueuedBytes'
  | 'presenceGraceMs';
export type ResolvedServerOptions = Required<Omit<ServerOptions, OptionalHooks | 'logger'>> & Pick<ServerOptions, Exclude<OptionalHooks, 'maxQueuedBytes'>> & { maxQueuedBytes: number };

/** The defaults, spread first. */
export const SERVER_DEFAULTS = {
  drainWindowMs: 5000,
  graceMs: 5000,
  closeTimeoutMs: 2000,
  retryHint: { minMs: 1000, maxMs: 5000 },
  shutdownCode: 1012,
  plainRestartCode: 1012,
  heartbeatMs: 30_000,
  maxPayload: 1024 * 1024,
  maxBufferedBytes: 8 * 1024 * 1024,
  subprotocols: ['lifeline.v1'],
  random: Math.random,
  sessionTtlMs: 3_600_000,
  maxSubscriptions: 1000,
  helloTimeoutMs: 10_000,
  maxConnections: 0,
  maxFragments: 16 * 1024,
  maxQueuedMessages: 64,
  maxPendingUpgrades: 1000,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  replayPageBytes: 256 * 1024,
  maxReplayBytes: 64 * 1024 * 1024,
  maxReplayBytesPerConnection: 4 * 1024 * 1024,
  maxChannelsCreated: 100,
  claimLeaseMs: 30_000,
  presenceLeaseMs: 10_000,
  maxPresenceMembers: 10_000,
  maxPresenceInfoBytes: 1024,
  presenceQueriesPerSecond: 10,
  presenceEventsPerSecond: 100,
} as const satisfies Partial<ServerOptions>;

function nonNegative(name: string, value: number): void {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name} must be a finite number >= 0, got ${value}`);
}

/** Apply defaults and validate; throws `RangeError`/`TypeError` synchronously on a bad option. */
export function resolveServerOptions(options: ServerOptions): ResolvedServerOptions {
  const { logger: _logger, ...rest } = options;
  const given = stripUndefined(rest);
  const maxPayload = given.maxPayload ?? SERVER_DEFAULTS.maxPayload;
  const resolved: ResolvedServerOptions = { ...SERVER_DEFAULTS, maxQueuedBytes: 4 * maxPayload, ...given };
  for (const key of ['drainWindowMs', 'graceMs', 'closeTimeoutMs', 'heartbeatMs', 'sessionTtlMs', 'maxSubscriptions', 'helloTimeoutMs', 'maxBufferedBytes', 'maxConnections', 'maxFragments', 'maxChannelsCreated', 'claimLeaseMs', 'maxPresenceMembers', 'maxPresenceInfoBytes', 'headersTimeoutMs', 'requestTimeoutMs'] as const) nonNegative(key, resolved[key]);
  // Node refuses the same at server creation; said here, at the option, with its name.
  for (const key of ['headersTimeoutMs', 'requestTimeoutMs'] as const) {
    if (!Number.isSafeInteger(resolved[key])) throw new RangeError(`${key} must be an integer number of ms >= 0, got ${resolved[key]}`);
  }
  if (resolved.requestTimeoutMs > 0 && resolved.headersTimeoutMs > resolved.requestTimeoutMs) {
    throw new RangeError(`headersTimeoutMs (${resolved.headersTimeoutMs}) must be <= requestTimeoutMs (${resolved.requestTimeoutMs})`);
  }
  if (resolved.presenceGraceMs !== undefined) nonNegative('presenceGraceMs', resolved.presenceGraceMs);
  if (!(Number.isFinite(resolved.presenceLeaseMs) && resolved.presenceLeaseMs >= 10)) throw new RangeError(`presenceLeaseMs must be a number of ms >= 10, got ${resolved.presenceLeaseMs}`);
  for (const key of ['presenceQueriesPerSecond', 'presenceEventsPerSecond'] as const) {
    if (!(Number.isFinite(resolved[key]) && resolved[key] >= 1)) throw new RangeError(`${key} must be a number >= 1, got ${resolved[key]}`);
  }
  for (const key of ['maxQueuedMessages', 'maxQueuedBytes', 'maxPendingUpgrades', 'replayPageBytes', 'maxReplayBytes', 'maxReplayBytesPerConnection'] as const) {
    if (!Number.isSafeInteger(resolved[key]) || resolved[key] < 1) throw new RangeError(`${key} must be an integer >= 1, got ${resolved[key]}`);
  }
  if (!Number.isSafeInteger(resolved.maxFragments)) throw new RangeError('maxFragments must be an integer >= 0');
  if (resolved.rateLimit !== undefined) {
    const { messagesPerSecond, burst } = resolved.rateLimit;
    if (!(messagesPerSecond > 0) || !(burst >= 1)) throw new RangeError('rateLimit needs messagesPerSecond > 0 and burst >= 1');
  }
  if (resolved.allowedOrigins !== undefined && !Array.isArray(resolved.allowedOrigins)) throw new TypeError('allowedOrigins must be an array of origins');
  if (resolved.publishKey !== undefined && (typeof resolved.publishKey !== 'string' || resolved.publishKey.length < 16)) {
    throw new RangeError('publishKey must be a string of at least 16 characters');
  }
  if (!Number.isInteger(resolved.maxPayload) || resolved.maxPayload < 1) throw new RangeError('maxPayload must be a positive integer');
  nonNegative('retryHint.minMs', resolved.retryHint.minMs);
  if (!(resolved.retryHint.maxMs >= resolved.retryHint.minMs)) throw new RangeError('retryHint.maxMs must be >= retryHint.minMs');
  for (const key of ['shutdownCode', 'plainRestartCode'] as const) {
    if (resolved[key] !== 1012 && resolved[key] !== 1001) throw new RangeError(`${key} must be 1012 or 1001`);
  }
  for (const h of ['authenticate', 'onConnection', 'onMessage', 'onClose', 'onSessionMessage', 'authorizeSubscribe', 'authorizePublish', 'authorizeReserved'] as const) {
    if (resolved[h] !== undefined && typeof resolved[h] !== 'function') throw new TypeError(`${h} must be a function`);
  }
  return resolved;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
