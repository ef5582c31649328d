/**
 * `lifeline serve`: a server with the health, publish, metrics and dashboard routes, a store that
 * survives restarts, signal handling (SIGTERM drains with 1012, SIGHUP restarts zero-dark), and `--workers`.
 *
 * With a store several processes can share (sqlite, the default, or Redis) the process started is a small
 * supervising primary (`workers.ts`) that holds the listening socket and runs the server in worker
 * processes: SIGHUP starts a worker on the code on disk and drains the old one only once it is ready.
 * With the memory store (which no other process can share) the process serves by itself, and SIGHUP
 * reloads the configuration and cycles the connections in place.
 * @packageDocumentation
 */
import cluster from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { requireOptional } from '../../optional-dependency.js';
import { SUCCESSOR_RETRY_JITTER_MS } from '../../server/core/drain.js';
import { createServer, forgetSocketActivation, handleSignals, inheritedSocket, type InheritedSocket, type LifelineServer, type ServerOptions } from '../../server/index.js';
import type { Store } from '../../store/index.js';
import { demoMessageHandler, demoSessionHandler, startChaos } from '../demo.js';
import { colourFor, outputMode, styles, UsageError, type CliIo } from '../io.js';
import { textLogDestination } from '../log-format.js';
import { readCommandLine } from '../parse.js';
import { mountDashboard } from '../serve-dashboard.js';
import { instrumentStore, mountMetrics } from '../serve-metrics.js';
import { SERVE, SERVE_PROTECTIONS, type ServeConfig } from '../specs/serve.js';
import { suggestion } from '../suggest.js';
import { version } from '../version.js';
import { drainRequestOf, handoverWindowMs, reportReady, runPrimary, WORKER_ENV } from '../workers.js';

export type { ServeConfig } from '../specs/serve.js';

const CONFIG_KEYS = Object.entries(SERVE.options)
  .filter(([, row]) => row.config)
  .map(([key]) => key);

/**
 * Log fields that hold secrets: pino replaces them with `[redacted]` wherever a log line carries them,
 * so no publish key, admin token or credential ever reaches a log.
 */
export const SECRET_LOG_PATHS = [
  'publishKey', 'adminToken', '*.publishKey', '*.adminToken', 'config.*.publishKey', 'config.*.adminToken',
  'authorization', '*.authorization', 'headers.authorization', 'headers.cookie', '*.headers.authorization', '*.headers.cookie',
  'password', '*.password', 'token', '*.token',
];

/** Read and check a JSON config file against the table: unknown keys and bad values are usage errors. */
export function readConfigFile(path: string): ServeConfig {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new UsageError(`--config: cannot read ${path}: ${(error as Error).message.split('\n')[0]}`, { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UsageError(`--config: ${path} must hold a JSON object`);
  const config: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(parsed)) {
    const row = CONFIG_KEYS.includes(key) ? SERVE.options[key as keyof typeof SERVE.options] : undefined;
    if (!row) throw new UsageError(`--config: unknown setting "${key}" in ${path}${suggestion(key, CONFIG_KEYS)} (see lifeline serve --help)`);
    config[key] = row.type.fromJson(value, `${path}: ${key}`);
  }
  return config as ServeConfig;
}

/** The keys `serve` itself uses; every other config key is a server option of the same name. */
const CLI_KEYS = ['port', 'host', 'demo', 'logLevel', 'store', 'dataDir', 'clientPublish', 'history', 'workers', 'redisPrefix', 'redisFanout', 'redisLingerMs', 'durability', 'replicas', 'replicationTimeoutMs', 'adminToken', 'chaosCrashEveryMs', 'pidFile', 'sqliteSynchronous', 'sqliteFence', 'metricsHost', 'metricsPort'] as const;

/** The server options a config sets (what a SIGHUP reload may change). */
function serverOptionsOf(config: ServeConfig): Partial<ServerOptions> {
  const options: Record<string, unknown> = { ...config };
  for (const key of CLI_KEYS) delete options[key];
  const patterns = config.clientPublish ?? (config.demo ? ['*'] : []);
  // serve's own defaults for the bounds the library leaves open; a config or flag overrides them.
  return { ...SERVE_PROTECTIONS, ...(options as Partial<ServerOptions>), authorizePublish: (_connection, channel) => patterns.some((p) => channelMatches(p, channel)) };
}

/** `*` matches everything; `a.*` matches channels starting with `a.`; anything else matches itself. */
export function channelMatches(pattern: string, channel: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('*')) return channel.startsWith(pattern.slice(0, -1));
  return pattern === channel;
}

/** A Redis URL without its password, for logs (a cluster URL, which `URL` may not parse, included). */
function redactUrl(url: string): string {
  if (isClusterUrl(url)) return url.replace(/^([^:]+:\/\/[^:@/]*:)[^@/]*@/, '$1***@');
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

/** Which engine `--store` names; a usage error for anything else. */
function storeKindOf(config: ServeConfig): 'memory' | 'sqlite' | 'redis' {
  const kind = config.store ?? SERVE.options.store.default!;
  if (kind === 'memory' || kind === 'sqlite') return kind;
  if (kind.startsWith('redis://') || kind.startsWith('rediss://') || isClusterUrl(kind)) return 'redis';
  throw new UsageError(`--store: unknown store "${kind}"${suggestion(kind, ['sqlite', 'memory', 'redis://', 'redis-cluster://'])} (sqlite, memory, redis://host:port, or redis-cluster://host:port,host:port)`);
}

/**
 * A publish key for `--demo`: 144 random bits in hex. Not base64url: a key starting with `-` would be
 * read as an option when a user pastes it after `--publish-key` (`lifeline drill --publish-key KEY`).
 */
function demoPublishKey(): string {
  return randomBytes(18).toString('hex');
}

/** How long an old worker stays after handing its clients to a successor: their return, plus a margin. */
const HANDOVER_LINGER_MS = SUCCESSOR_RETRY_JITTER_MS + 1000;

/** Most time a new worker waits for its store before it reports ready anyway (a Redis still connecting). */
const STORE_READY_WAIT_MS = 5000;

async function openStore(config: ServeConfig): Promise<Store> {
  const kind = config.store ?? SERVE.options.store.default!;
  const history = config.history ?? {};
  // Replicas are Redis's: asked of another store, the setting would be ignored, so it is refused.
  if ((kind === 'memory' || kind === 'sqlite') && config.durability !== undefined && config.durability !== 'primary') {
    throw new UsageError(`--durability ${config.durability} needs a Redis store (--store redis://... or redis-cluster://...); the ${kind} store has no replicas`);
  }
  if (kind === 'memory') {
    const { createMemoryStore } = await import('../../store/memory.js');
    return createMemoryStore({ history });
  }
  if (kind === 'sqlite') {
    const { createSqliteStore } = await import('../../store/sqlite/index.js');
    const dir = resolve(config.dataDir ?? SERVE.options.dataDir.default!);
    const fence = config.sqliteFence ?? 'on';
    return createSqliteStore({
      path: join(dir, 'lifeline.db'),
      history,
      synchronous: config.sqliteSynchronous ?? 'normal',
      fence: fence !== 'off',
      ...(fence === 'full' ? { fenceSynchronous: 'full' as const } : {}),
    });
  }
  const redis = {
    history,
    ...(config.redisPrefix !== undefined ? { prefix: config.redisPrefix } : {}),
    ...(config.redisFanout !== undefined ? { fanout: config.redisFanout } : {}),
    ...(config.redisLingerMs !== undefined ? { lingerMs: config.redisLingerMs } : {}),
    ...(config.durability !== undefined ? { durability: config.durability } : {}),
    ...(config.replicas !== undefined ? { replicas: config.replicas } : {}),
    ...(config.replicationTimeoutMs !== undefined ? { replicationTimeoutMs: config.replicationTimeoutMs } : {}),
  };
  if (kind.startsWith('redis://') || kind.startsWith('rediss://')) {
    const { createRedisStore } = await import('../../store/redis/index.js');
    return createRedisStore({ url: kind, ...redis });
  }
  if (isClusterUrl(kind)) {
    const { createRedisStore } = await import('../../store/redis/index.js');
    return createRedisStore({ cluster: clusterNodes(kind), ...redis });
  }
  throw new UsageError(`--store: unknown store "${kind}"${suggestion(kind, ['sqlite', 'memory', 'redis://', 'redis-cluster://'])} (sqlite, memory, redis://host:port, or redis-cluster://host:port,host:port)`);
}

/** Whether `--store` names a Redis Cluster (`redis-cluster://` or, with TLS, `rediss-cluster://`). */
function isClusterUrl(store: string): boolean {
  return /^rediss?-cluster:\/\//.test(store);
}

/**
 * The node URLs of `redis-cluster://[user:pass@]host:port,host:port,...`: each node a `redis://` URL
 * (`rediss://` for `rediss-cluster://`) with the credentials given once.
 * @throws UsageError when no node is named or one is not host:port
 */
export function clusterNodes(store: string): string[] {
  const match = /^(rediss?)-cluster:\/\/(?:([^@/]*)@)?([^/?#]*)\/?$/.exec(store);
  const hosts = match?.[3]?.split(',').filter((h) => h !== '') ?? [];
  if (!match || hosts.length === 0) throw new UsageError(`--store: "${redactUrl(store)}" names no node; give redis-cluster://host:port,host:port,...`);
  return hosts.map((host) => {
    if (!/^(\[[0-9a-fA-F:.]+\]|[^:[\]]+):\d{1,5}$/.test(host)) throw new UsageError(`--store: cluster node "${host}" is not host:port`);
    return `${match[1]}://${match[2] !== undefined ? `${match[2]}@` : ''}${host}`;
  });
}

/**
 * A Redis whose keys under the prefix are in another layout is refused at start, with the store's
 * message (what to do about it), rather than served as unavailable forever. One that cannot be reached
 * is not refused: the server comes up and waits for it (see {@link warnWhileUnreachable}).
 */
async function refuseForeignLayout(store: Store, url: string): Promise<void> {
  try {
    await store.head('$lifeline.startup');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code !== 'LIFELINE_ERR_STORE') return;
    await store.close();
    throw new UsageError(`cannot use the redis store at ${redactUrl(url)}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * A shared store that cannot be reached at start is worth a warning of its own: the server comes up
 * (connections, then resumes, work once it is back) but is not ready, and a 503 on /readyz alone is
 * easy to miss.
 */
function warnWhileUnreachable(store: Store, logger: Logger, url: string, waitMs = 3000): void {
  if (store.available !== false || !store.onAvailability) return;
  const timer = setTimeout(() => {
    off();
    if (store.available === false) {
      logger.warn({ store: store.kind, url: redactUrl(url) }, `cannot reach Redis at ${redactUrl(url)}: serving anyway, but /readyz answers 503 and publishes are refused until it is reachable (retrying)`);
    }
  }, waitMs);
  timer.unref();
  const off = store.onAvailability((available) => {
    if (!available) return;
    clearTimeout(timer);
    off();
  });
}

/** The pages and endpoints to open, for the `listening` log entry. */
function urlsOf(host: string, port: number, config: ServeConfig): Record<string, string> {
  // 0.0.0.0 and :: are where the server listens, not addresses to open.
  const shown = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  const base = `http://${shown}:${port}`;
  return {
    websocket: `ws://${shown}:${port}/`,
    ...(config.demo ? { dashboard: `${base}/`, demo: `${base}/demo` } : config.adminToken !== undefined ? { dashboard: `${base}/?token=<admin token>` } : {}),
    metrics: `${base}/metrics`,
    ready: `${base}/readyz`,
  };
}

/** The flags given, as config keys. */
function flagsOf(values: Record<string, unknown>): ServeConfig {
  const flags: Record<string, unknown> = {};
  for (const key of CONFIG_KEYS) if (values[key] !== undefined) flags[key] = values[key];
  return flags as ServeConfig;
}

/**
 * `lifeline serve [options]`: run a server until SIGTERM/SIGINT.
 * @throws UsageError on a bad command line or config (the dispatcher prints it and exits 2)
 */
export async function runServe(args: string[], io: CliIo): Promise<number> {
  if (!cluster.isWorker) return serve(args, io);
  try {
    return await serve(args, io);
  } catch (error) {
    // A worker's IPC channel keeps it alive: once the CLI has reported the error and set the exit code
    // (promise callbacks, before this), exit, so the primary learns it never got ready.
    setImmediate(() => process.exit());
    throw error;
  }
}

async function serve(args: string[], io: CliIo): Promise<number> {
  const parsed = readCommandLine(SERVE, args, io);
  if (!parsed) return 0;
  const { values } = parsed;
  const flags = flagsOf(values);
  const configPath = values.config;
  const load = (): ServeConfig => ({ ...(configPath ? readConfigFile(configPath) : {}), ...flags });
  const config = load();
  const mode = outputMode(io, values);

  const pino = requireOptional<typeof import('pino')>('pino', 'lifeline serve').default;
  const options = { level: config.logLevel ?? SERVE.options.logLevel.default!, base: { pid: process.pid }, redact: { paths: SECRET_LOG_PATHS, censor: '[redacted]' } };
  const logger = mode === 'text' ? pino(options, textLogDestination((t) => process.stdout.write(t), styles(colourFor(io, 'stdout')))) : pino(options);
  const pidFile = config.pidFile !== undefined ? resolve(config.pidFile) : undefined;
  // On exit, however it comes (a drain, the primary of --workers): a stale pid file would name another process.
  if (pidFile !== undefined) process.on('exit', () => removePidFile(pidFile));
  const workers = config.workers ?? 1;
  const kind = storeKindOf(config);
  // Each worker would have its own history and fan-out: clients on one would never see publishes on another.
  if (workers > 1 && kind === 'memory') throw new UsageError(`--workers ${workers} needs a store the workers share (sqlite, the default, or --store redis://host:port); with memory the workers would split the service`);
  if (cluster.isPrimary && kind !== 'memory') return runSupervisor(workers, config, load, logger, io, pidFile);
  // A demo should be usable at once: it gets a fresh publish key, printed below, unless one was given.
  // A worker takes the one its primary made: every worker, and every successor, has the same.
  let generatedKey: string | undefined;
  const keyFromPrimary = cluster.isWorker ? process.env[WORKER_ENV.demoKey] : undefined;
  if (config.demo && config.publishKey === undefined) config.publishKey = generatedKey = keyFromPrimary ?? demoPublishKey();
  // The primary may ask to drain before this worker is serving (a stop during its start): nothing to drain then.
  let drainOnce: ((request: { stopListening: boolean; successorReady: boolean; requestedAt?: number }) => void) | undefined;
  if (cluster.isWorker) {
    process.on('message', (message) => {
      const request = drainRequestOf(message);
      if (!request) return;
      if (drainOnce) drainOnce(request);
      else process.exit(0);
    });
  }
  let store: Store;
  try {
    // A rollback the store's fence found (sqlite: at open) reaches the server's log and metrics.
    store = instrumentStore(await openStore(config));
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: unknown }).code === 'LIFELINE_ERR_MISSING_DEPENDENCY') throw error;
    throw new UsageError(`cannot open the ${config.store ?? 'sqlite'} store: ${(error as Error).message.split('\n')[0]}`, { cause: error });
  }
  if (store.kind === 'redis') await refuseForeignLayout(store, config.store!);
  let server;
  try {
    server = createServer({
      ...serverOptionsOf(config),
      store,
      logger,
      ...(config.demo ? { onMessage: demoMessageHandler, onSessionMessage: demoSessionHandler } : {}),
    });
  } catch (error) {
    if (error instanceof RangeError || error instanceof TypeError) throw new UsageError(error.message, { cause: error });
    throw error;
  }
  handleSignals(server, {
    logger,
    beforeExit: () => store.close(),
    // A worker is restarted by its primary (a new process); the memory store's single process reloads in place.
    restartOnHup: !cluster.isWorker,
    reload: () => {
      const next = { ...load(), ...(generatedKey !== undefined ? { publishKey: generatedKey } : {}) };
      server.reconfigure(serverOptionsOf(next));
      applyChaos(next.chaosCrashEveryMs);
      // The settings in force; the logger redacts the secret ones (publishKey, adminToken) wherever they appear.
      logger.info({ settings: Object.keys(next).sort(), config: serverOptionsOf(next) }, 'configuration reloaded');
    },
  });
  let stopChaos: (() => void) | undefined;
  const applyChaos = (everyMs: number | undefined) => {
    stopChaos?.();
    stopChaos = everyMs !== undefined && everyMs > 0 ? startChaos(server, everyMs, logger) : undefined;
  };
  applyChaos(config.chaosCrashEveryMs);
  try {
    await mountMetrics(server, logger, { adminToken: config.adminToken, port: config.metricsPort, host: config.metricsHost ?? config.host });
  } catch (error) {
    throw new UsageError(`cannot listen for metrics on ${config.metricsHost ?? config.host ?? '127.0.0.1'}:${config.metricsPort}: ${(error as Error).message}`, { cause: error });
  }
  mountDashboard({ server, logger, demo: Boolean(config.demo), adminToken: config.adminToken });
  if (cluster.isWorker) {
    // The primary's restart (a successor is ready: stop listening, the others take new connections, and
    // tell clients to come back now) or its stop (drain like a single process). Then exit.
    const drainWith = (request: { stopListening: boolean; successorReady: boolean; requestedAt?: number }) => {
      drainOnce = undefined;
      const { stopListening, successorReady, requestedAt } = request;
      // A restart's window counts from its signal: the successor's start is taken out of it.
      const drainWindowMs = handoverWindowMs(server.settings.drainWindowMs, requestedAt, Date.now());
      void server.shutdown({ stopListening, successorReady, drainWindowMs }).then(async () => {
        // Handed over to a successor: stay a moment (not listening, no connections) so the last clients'
        // resumes there are counted in this drain's account (the dashboard's restart view), then go.
        if (successorReady) await new Promise((resolve) => setTimeout(resolve, HANDOVER_LINGER_MS));
        await store.close();
        logger.flush?.();
        process.exit(0);
      });
    };
    drainOnce = drainWith;
  }
  const configured = config.port ?? SERVE.options.port.default!;
  // --port 0: a later worker takes the port its primary's first workers were given, not another free one.
  const bound = cluster.isWorker ? Number(process.env[WORKER_ENV.boundPort]) : NaN;
  const port = configured === 0 && Number.isInteger(bound) && bound > 0 ? bound : configured;
  const host = config.host ?? SERVE.options.host.default!;
  // A socket handed over by systemd (or through the primary that inherited it) replaces --port and --host.
  const inherited = listenTarget();
  let address;
  try {
    address = await server.listen(inherited ?? port, host);
  } catch (error) {
    const where = inherited ? `the inherited socket (fd ${inherited.fd})` : `${host}:${port}`;
    throw new UsageError(`cannot listen on ${where}: ${(error as Error).message}`, { cause: error });
  }
  if (pidFile !== undefined && !cluster.isWorker) writeFileSync(pidFile, `${process.pid}\n`);
  logger.info(
    // The version: after a SIGHUP restart, which code on disk the new process runs.
    { port: address.port, host: address.host, url: `ws://${address.host}:${address.port}/`, urls: urlsOf(address.host, address.port, config), demo: Boolean(config.demo), store: store.kind, httpPublish: config.publishKey !== undefined, version: version() },
    'listening',
  );
  // For the person at the terminal, not for the log: the logger never carries a secret (a worker's primary prints it).
  if (generatedKey !== undefined && keyFromPrimary === undefined) io.err(`demo publish key (POST /publish with Authorization: Bearer <key>): ${generatedKey}`);
  if (store.kind === 'redis') warnWhileUnreachable(store, logger, config.store!);
  if (process.env[WORKER_ENV.successor] === '1') {
    // A successor started by SIGHUP is the configuration reload: say what is in force, as an in-place reload does.
    logger.info({ settings: Object.keys(config).sort(), config: serverOptionsOf(config) }, 'configuration reloaded');
  }
  if (cluster.isWorker) {
    await storeReady(server);
    reportReady(address);
  }
  // The process lives until a signal drains it; the signal handler exits.
  return new Promise<number>(() => {});
}

/** Where to listen instead of --port: the primary's inherited socket (in a worker), or systemd's (alone). */
function listenTarget(): InheritedSocket | undefined {
  if (cluster.isWorker) {
    const fd = process.env[WORKER_ENV.listenFd];
    return fd === undefined ? undefined : { fd: Number(fd) };
  }
  const inherited = inheritedSocket();
  forgetSocketActivation();
  return inherited;
}

/** Resolves once the server is ready (its store available), or after {@link STORE_READY_WAIT_MS} anyway. */
async function storeReady(server: LifelineServer): Promise<void> {
  const until = Date.now() + STORE_READY_WAIT_MS;
  while (!server.ready && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 50));
}

/**
 * The supervising primary of a shareable store (sqlite, Redis): hold the socket, run `workers` workers,
 * restart them zero-dark on SIGHUP (see `workers.ts`). The configuration is checked here first, so a
 * usage error is reported once, by this process; the workers check it again and open the store.
 */
function runSupervisor(workers: number, config: ServeConfig, load: () => ServeConfig, logger: Logger, io: CliIo, pidFile: string | undefined): Promise<number> {
  const env: Record<string, string> = {};
  let generatedKey: string | undefined;
  if (config.demo && config.publishKey === undefined) env[WORKER_ENV.demoKey] = generatedKey = demoPublishKey();
  // The socket systemd passed is this process's: the workers listen on it through the cluster (the
  // primary holds it), and must not take the variables for their own.
  const inherited = inheritedSocket();
  forgetSocketActivation();
  if (inherited) env[WORKER_ENV.listenFd] = String(inherited.fd);
  return runPrimary({
    count: workers,
    logger,
    announce: workers > 1,
    env,
    inheritedSocket: inherited !== undefined,
    onReady: () => {
      if (pidFile !== undefined) writeFileSync(pidFile, `${process.pid}\n`);
      // For the person at the terminal, not for the log: the logger never carries a secret.
      if (generatedKey !== undefined) io.err(`demo publish key (POST /publish with Authorization: Bearer <key>): ${generatedKey}`);
    },
    checkConfig: () => {
      storeKindOf(load());
    },
  });
}

/** Remove the pid file if it is still ours (a successor may have written its own by now). */
function removePidFile(path: string | undefined): void {
  if (path === undefined) return;
  try {
    if (readFileSync(path, 'utf8').trim() === String(process.pid)) rmSync(path);
  } catch {
    // Already gone: nothing to do.
  }
}
