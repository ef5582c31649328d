/**
 * The table of `lifeline serve`: every flag and every `--config` key. A row made with `setting` is a
 * config key (its row key) and, when it has a `flag`, a flag too; the config file's type is derived
 * from these rows, so adding a key is adding a row.
 * @packageDocumentation
 */
import { SERVER_DEFAULTS } from '../../server/core/options.js';
import { defineCommand, option, OUTPUT_OPTIONS, setting, type ConfigOf } from '../spec.js';
import { bytes, duration, flag, integer, numbers, oneOf, port, rateLimit, text, texts, window } from '../values.js';

/** pino's levels, quietest last. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

const ms = (placeholder = 'DURATION') => ({ ...duration, placeholder });
const count = (max = 2 ** 31) => integer('N', 0, max);
const closeCode = oneOf([1012, 1001] as const);

/**
 * What `serve` turns on where the library leaves a bound open: `serve` is the internet-facing default,
 * so it starts with limits one hostile client cannot walk through (each can be raised, or set to 0 / off).
 */
export const SERVE_PROTECTIONS = {
  maxConnections: 10_000,
  rateLimit: { messagesPerSecond: 200, burst: 400 },
} as const;

/** `lifeline serve`. */
export const SERVE = defineCommand({
  name: 'serve',
  summary: 'run a server: SIGTERM drains with 1012 and exits, SIGHUP restarts zero-dark on the code on disk',
  description: [
    'Serves WebSocket connections (plain and lifeline.v1) on one port, with GET /healthz, GET /readyz, POST /publish (with a publish key), GET /metrics, and the dashboard at / (with an admin token or --demo). History, sessions and dedupe records live in SQLite in --data-dir by default, so a restarted process loses nothing; --store redis://... shares them between processes.',
    'With the sqlite or a Redis store, the process started is a small supervisor that holds the port and runs the server in a worker: SIGHUP starts a new worker on the code on disk with --config re-read, and the old one drains (1012, told to come back at once) only once the new one is ready, so no connection is refused; signal the supervisor (its pid is in --pid-file). With --store memory it is one process, and SIGHUP reloads --config in place. A socket passed by systemd (LISTEN_FDS) is listened on instead of --port.',
    'On a terminal the log is text for people; otherwise (or with --json) one JSON object per line.',
    'Protections are on by default (--max-connections 10000, --rate-limit 200/400, and every bound of the library); each limit below is a flag or a config key. What each one holds against, with figures: README "Limits and access", docs/reliability.md "Bounded under attack"; a deployment with them: docs/deploy.md "Protections for a server on the internet".',
  ],
  positionals: [],
  options: {
    port: setting({ flag: 'port', short: 'p', type: port, default: 8080, help: 'TCP port; 0 picks a free one' }),
    host: setting({ flag: 'host', type: text('HOST'), default: '127.0.0.1', help: 'address to listen on; 0.0.0.0 for every interface' }),
    demo: setting({ flag: 'demo', type: flag, help: 'the demo application: echo, "crash" (1011), "forbidden" (1008); the dashboard open to everyone, /demo, and client publishes to every channel' }),
    drainWindowMs: setting({ flag: 'drain-window', type: duration, default: SERVER_DEFAULTS.drainWindowMs, help: 'window over which a drain spreads its 1012 closes' }),
    config: option({ flag: 'config', short: 'c', type: text('FILE'), help: 'JSON file of settings (the keys below); re-read on SIGHUP (by the new worker)' }),
    logLevel: setting({ flag: 'log-level', type: oneOf(LOG_LEVELS), default: 'info', help: 'least severe log entry written' }),
    store: setting({ flag: 'store', type: text('STORE'), default: 'sqlite', help: 'where history, sessions and dedupe records live: sqlite (in --data-dir), memory (lost on restart), redis://host:port, or redis-cluster://host:port,host:port,... (shared; need the ioredis package)' }),
    dataDir: setting({ flag: 'data-dir', type: text('DIR'), default: './lifeline-data', help: 'directory of the sqlite database' }),
    publishKey: setting({ flag: 'publish-key', type: text('KEY'), env: 'LIFELINE_PUBLISH_KEY', defaultText: 'none, so POST /publish is off; --demo makes one and prints it', help: 'bearer key for POST /publish, at least 16 characters' }),
    clientPublish: setting({ flag: 'client-publish', type: texts('PATTERN'), defaultText: 'none; every channel in --demo', help: 'channels lifeline.v1 clients may publish to: * for all, prefix.* for a prefix, or a name (repeatable)' }),
    workers: setting({ flag: 'workers', type: integer('N', 1, 256), default: 1, help: 'worker processes behind one port, restarted one at a time on SIGHUP (each new one ready before an old one drains); they share the sqlite file or Redis (or Redis Cluster), so not with --store memory' }),
    redisPrefix: setting({ flag: 'redis-prefix', type: text('PREFIX'), default: 'lifeline:', help: 'key prefix in Redis (one per service sharing a Redis)' }),
    redisFanout: setting({ flag: 'redis-fanout', type: oneOf(['interest', 'broadcast'] as const), default: 'interest', help: 'how appends reach the other processes: interest (each process receives the channels its clients subscribe to) or broadcast (every process receives every append)' }),
    durability: setting({ flag: 'durability', type: oneOf(['primary', 'replicas', 'replicas-aof'] as const), default: 'primary', help: "with a Redis store, when a publish is acknowledged: primary (Redis's primary has it; a failover to a replica that was behind can lose the last ones, and readers are told), replicas (--replicas replicas have it too: WAIT), or replicas-aof (on their disk: WAITAOF, Redis 7.2+). See docs/deploy.md \"Durability\"" }),
    replicas: setting({ flag: 'replicas', type: integer('N', 1, 64), default: 1, help: 'with --durability replicas or replicas-aof: how many replicas must acknowledge a publish' }),
    replicationTimeoutMs: setting({ flag: 'replication-timeout', type: ms(), default: 1000, help: 'with --durability replicas or replicas-aof: longest wait for the replicas; past it the publish is answered as with Redis unavailable (the publisher resends)' }),
    redisLingerMs: setting({ type: ms(), default: 30_000, help: "how long a channel's Redis topic stays subscribed after its last local subscriber left (reconnect churn)" }),
    adminToken: setting({ flag: 'admin-token', type: text('TOKEN'), env: 'LIFELINE_ADMIN_TOKEN', defaultText: 'none, so the dashboard is off; --demo opens it to everyone', help: 'token for the dashboard and admin actions, at least 16 characters' }),
    pidFile: setting({ flag: 'pid-file', type: text('FILE'), help: 'write the process id here once listening (the supervisor\'s: the pid to signal); removed on exit' }),
    ...OUTPUT_OPTIONS,
    graceMs: setting({ type: ms(), default: SERVER_DEFAULTS.graceMs, help: 'how long a drain waits for running handlers before it starts closing' }),
    closeTimeoutMs: setting({ type: ms(), default: SERVER_DEFAULTS.closeTimeoutMs, help: 'after the last paced close, how long peers get to finish the closing handshake' }),
    heartbeatMs: setting({ type: ms(), default: SERVER_DEFAULTS.heartbeatMs, help: 'interval between heartbeat pings (0: off); a peer that missed one is terminated' }),
    retryHint: setting({ type: window, default: SERVER_DEFAULTS.retryHint, help: 'the window clients are told to come back in (retry= in every 1012 and 1013) by a cold shutdown, shifted past the drain window; a restart with something already serving says 0-250 ms instead' }),
    shutdownCode: setting({ type: closeCode, default: SERVER_DEFAULTS.shutdownCode, help: 'code of a SIGTERM drain: 1012 when a restart follows, 1001 when the service goes away' }),
    plainRestartCode: setting({ flag: 'plain-restart-code', type: closeCode, default: SERVER_DEFAULTS.plainRestartCode, help: 'restart code for plain clients (no subprotocol): 1001 for clients that only know the original RFC 6455 list (the reason still says service restart)' }),
    maxPayload: setting({ type: bytes, default: SERVER_DEFAULTS.maxPayload, help: 'largest accepted message; larger ones close with 1009' }),
    maxFragments: setting({ flag: 'max-fragments', type: count(), default: SERVER_DEFAULTS.maxFragments, help: 'most frames one message may arrive in (0: no limit but maxPayload); more close with 1008' }),
    maxConnections: setting({ flag: 'max-connections', type: count(), default: SERVE_PROTECTIONS.maxConnections, help: 'most open connections, those still in authentication included (0: no limit); further upgrades get HTTP 503 with Retry-After' }),
    allowedOrigins: setting({ flag: 'allowed-origin', type: texts('ORIGIN'), defaultText: 'any origin', help: 'a browser origin allowed to connect (an exact Origin value; repeatable); others get HTTP 403' }),
    rateLimit: setting({ flag: 'rate-limit', type: rateLimit, default: SERVE_PROTECTIONS.rateLimit, help: 'per-connection message rate, messages per second and burst (token bucket); a connection over it is closed with 1008' }),
    maxSubscriptions: setting({ flag: 'max-subscriptions', type: count(), default: SERVER_DEFAULTS.maxSubscriptions, help: 'most channels one connection may subscribe to, on every path (resume included); more get error LIMIT' }),
    maxBufferedBytes: setting({ flag: 'max-buffered', type: bytes, default: SERVER_DEFAULTS.maxBufferedBytes, help: 'output buffered for one peer above which it is closed as a slow consumer (1013; it resumes later)' }),
    sqliteSynchronous: setting({ flag: 'sqlite-synchronous', type: oneOf(['normal', 'full'] as const), default: 'normal', help: "SQLite's synchronous setting: normal survives a crash of the process, full also a power loss (an fsync per write)" }),
    sqliteFence: setting({ flag: 'sqlite-fence', type: oneOf(['on', 'full', 'off'] as const), default: 'on', help: 'the rollback fence (lifeline.fence.db, never restore it): on detects a restored backup of lifeline.db, full also commits lost to a power loss (an fsync per write), off none' }),
    metricsHost: setting({ flag: 'metrics-host', type: text('HOST'), defaultText: 'the --host of the server', help: 'serve GET /metrics on this address instead of the public port (with --metrics-port)' }),
    metricsPort: setting({ flag: 'metrics-port', type: port, defaultText: 'none: /metrics on the public port (behind the admin token when there is one)', help: 'serve GET /metrics on this port only, e.g. on a private interface, as Prometheus scrapes it' }),
    helloTimeoutMs: setting({ type: ms(), default: SERVER_DEFAULTS.helloTimeoutMs, help: 'a lifeline.v1 connection that has not sent hello by then is closed with 1008 (only a hello stops the clock)' }),
    headersTimeoutMs: setting({ type: ms(), default: SERVER_DEFAULTS.headersTimeoutMs, help: "longest time a client may take to send a request's headers (an upgrade's too); past it 408 and the connection is closed (0: no limit)" }),
    requestTimeoutMs: setting({ type: ms(), default: SERVER_DEFAULTS.requestTimeoutMs, help: 'longest time a client may take to send a whole HTTP request, body included (not counting the answer, nor an upgraded WebSocket); past it 408 and the connection is closed (0: no limit; at least headersTimeoutMs)' }),
    maxQueuedMessages: setting({ type: count(), default: SERVER_DEFAULTS.maxQueuedMessages, help: 'messages received on one connection but not yet handled above which the server stops reading that socket (TCP pushes back)' }),
    maxQueuedBytes: setting({ type: bytes, defaultText: '4 x maxPayload', help: 'the same bound in bytes; 4 times it closes the connection with 1008' }),
    maxPendingUpgrades: setting({ type: count(), default: SERVER_DEFAULTS.maxPendingUpgrades, help: 'most upgrades in admission (authenticate running) at once; more get HTTP 503' }),
    replayPageBytes: setting({ type: bytes, default: SERVER_DEFAULTS.replayPageBytes, help: 'most bytes of history one page of replay holds; the next page goes once the socket drained' }),
    maxReplayBytes: setting({ type: bytes, default: SERVER_DEFAULTS.maxReplayBytes, help: 'bytes of history replay held for sending across all connections at once' }),
    maxReplayBytesPerConnection: setting({ type: bytes, default: SERVER_DEFAULTS.maxReplayBytesPerConnection, help: "one connection's share of maxReplayBytes" }),
    maxChannelsCreated: setting({ type: count(), default: SERVER_DEFAULTS.maxChannelsCreated, help: 'most channels one connection may bring into existence by publishing; more get reject LIMIT' }),
    claimLeaseMs: setting({ type: ms(), default: SERVER_DEFAULTS.claimLeaseMs, help: 'how long the claim of a client message holds before its handler starts (a claim whose answer was lost lapses, so the resend runs)' }),
    sessionTtlMs: setting({ type: ms(), default: SERVER_DEFAULTS.sessionTtlMs, help: "how long a resume token stays valid after the session's last use" }),
    history: setting({ type: numbers('{maxCount, maxAgeMs}', [], ['maxCount', 'maxAgeMs']), defaultText: "the store's", help: 'history kept per channel' }),
    presenceGraceMs: setting({
      flag: 'presence-grace',
      type: duration,
      defaultText: 'drain window + retry hint max + 10 s (20 s)',
      help: 'how long a presence member whose connection went away (a restart, a dropped link) stays: a resume within it is no leave and no join',
    }),
    presenceLeaseMs: setting({ type: ms(), default: SERVER_DEFAULTS.presenceLeaseMs, help: "this process's presence lease, renewed every third of it: a process killed without a word has its members leave a grace period after it ran out" }),
    maxPresenceMembers: setting({ type: count(), default: SERVER_DEFAULTS.maxPresenceMembers, help: "most members of one channel's presence; a sub with presence beyond it gets error LIMIT" }),
    maxPresenceInfoBytes: setting({ type: bytes, default: SERVER_DEFAULTS.maxPresenceInfoBytes, help: "largest presence info of a sub, in bytes of JSON; larger gets error LIMIT" }),
    presenceQueriesPerSecond: setting({ type: integer('N', 1, 1_000_000), default: SERVER_DEFAULTS.presenceQueriesPerSecond, help: 'presence queries one connection may make per second; more are answered with code LIMIT' }),
    presenceEventsPerSecond: setting({ type: integer('N', 1, 1_000_000), default: SERVER_DEFAULTS.presenceEventsPerSecond, help: 'join/leave events one channel sends per second on one process; more wait, coalesced per member' }),
    chaosCrashEveryMs: setting({ type: ms(), defaultText: 'off', help: "fault injection for drills: every this many ms one random connection's handler throws (a real 1011). Never in production" }),
  },
  exits: [
    [0, 'drained and stopped after SIGTERM or SIGINT'],
    [1, 'could not start (the store could not be opened, a missing package, the port is taken ...)'],
    [2, 'usage error (one line on stderr)'],
  ],
  examples: [
    'lifeline serve --demo',
    'lifeline serve --port 8080 --publish-key "$LIFELINE_PUBLISH_KEY" --client-publish "chat.*"',
    'lifeline serve --workers 4 --store redis://127.0.0.1:6379 --config lifeline.json',
    'lifeline serve --store redis-cluster://10.0.0.1:7000,10.0.0.2:7000,10.0.0.3:7000',
  ],
});

/** The settings `lifeline serve` reads from `--config FILE` (JSON); flags override them. */
export type ServeConfig = ConfigOf<typeof SERVE.options>;
