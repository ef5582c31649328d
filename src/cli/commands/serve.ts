import cluster from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { createServer, handleSignals, type ServerOptions } from '../../server/index.js';
import type { HistoryLimits, Store } from '../../store/index.js';
import { parseDuration, parsePort } from '../args.js';
import { demoMessageHandler, demoSessionHandler, startChaos } from '../demo.js';
import { UsageError, type CliIo } from '../io.js';
import { mountDashboard } from '../serve-dashboard.js';
import { instrumentStore, mountMetrics } from '../serve-metrics.js';
import { isDrainMessage, runPrimary } from '../workers.js';

/** The settings `lifeline serve` reads from `--config FILE` (JSON); flags override them. */
export interface ServeConfig {
  port?: number;
  host?: string;
  demo?: boolean;
  logLevel?: string;
  drainWindowMs?: number;
  graceMs?: number;
  closeTimeoutMs?: number;
  heartbeatMs?: number;
  maxPayload?: number;
  retryHint?: { minMs: number; maxMs: number };
  shutdownCode?: 1012 | 1001;
  plainRestartCode?: 1012 | 1001;
  /** `sqlite` (default; history, sessions and dedupe survive a restart) or `memory`. */
  store?: string;
  /** Directory of the sqlite database. @default ./lifeline-data */
  dataDir?: string;
  /** Bearer key for `POST /publish`; also from LIFELINE_PUBLISH_KEY. */
  publishKey?: string;
  /** Channels clients may publish to: `*` for all, `prefix.*` for a prefix; none by default (all in --demo). */
  clientPublish?: string[];
  /** History bounds per channel. */
  history?: Partial<HistoryLimits>;
  /** Resume token lifetime, ms. */
  sessionTtlMs?: number;
  /** Worker processes behind one port (needs a shared store: redis). @default 1 */
  workers?: number;
  /** Key prefix in Redis. @default lifeline: */
  redisPrefix?: string;
  /** Token for the dashboard and admin actions; also from LIFELINE_ADMIN_TOKEN. */
  adminToken?: string;
  /**
   * Fault injection for drills: every this many ms, one random connection's handler throws (a real 1011
   * with an incident, through the error boundary). Never set it in production. @default off
   */
  chaosCrashEveryMs?: number;
}

const CONFIG_KEYS = new Set<keyof ServeConfig>([
  'port', 'host', 'demo', 'logLevel', 'drainWindowMs', 'graceMs', 'closeTimeoutMs', 'heartbeatMs', 'maxPayload', 'retryHint', 'shutdownCode', 'plainRestartCode',
  'store', 'dataDir', 'publishKey', 'clientPublish', 'history', 'sessionTtlMs', 'workers', 'redisPrefix', 'adminToken', 'chaosCrashEveryMs',
]);

/**
 * Log fields that hold secrets: pino replaces them with `[redacted]` wherever a log line carries them,
 * so no publish key, admin token or credential ever reaches a log.
 */
export const SECRET_LOG_PATHS = [
  'publishKey', 'adminToken', '*.publishKey', '*.adminToken', 'config.*.publishKey', 'config.*.adminToken',
  'authorization', '*.authorization', 'headers.authorization', 'headers.cookie', '*.headers.authorization', '*.headers.cookie',
  'password', '*.password', 'token', '*.token',
];

/** Read and check a JSON config file. */
export function readConfigFile(path: string): ServeConfig {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new UsageError(`--config: cannot read ${path}: ${(error as Error).message.split('\n')[0]}`, { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UsageError(`--config: ${path} must hold a JSON object`);
  for (const key of Object.keys(parsed)) {
    if (!CONFIG_KEYS.has(key as keyof ServeConfig)) throw new UsageError(`--config: unknown setting "${key}" in ${path}`);
  }
  return parsed as ServeConfig;
}

/** The server options a config sets that may change on a SIGHUP reload. */
function serverOptionsOf(config: ServeConfig): Partial<ServerOptions> {
  const { port: _p, host: _h, demo: _d, logLevel: _l, store: _s, dataDir: _dd, clientPublish, history: _hi, workers: _w, redisPrefix: _rp, adminToken: _at, chaosCrashEveryMs: _c, ...rest } = config;
  const patterns = clientPublish ?? (config.demo ? ['*'] : []);
  return { ...rest, authorizePublish: (_connection, channel) => patterns.some((p) => channelMatches(p, channel)) };
}

/** `*` matches everything; `a.*` matches channels starting with `a.`; anything else matches itself. */
export function channelMatches(pattern: string, channel: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('*')) return channel.startsWith(pattern.slice(0, -1));
  return pattern === channel;
}

async function openStore(config: ServeConfig): Promise<Store> {
  const kind = config.store ?? 'sqlite';
  const history = config.history ?? {};
  if (kind === 'memory') {
    const { createMemoryStore } = await import('../../store/memory.js');
    return createMemoryStore({ history });
  }
  if (kind === 'sqlite') {
    const { createSqliteStore } = await import('../../store/sqlite.js');
    const dir = resolve(config.dataDir ?? 'lifeline-data');
    return createSqliteStore({ path: join(dir, 'lifeline.db'), history });
  }
  if (kind.startsWith('redis://') || kind.startsWith('rediss://')) {
    const { createRedisStore } = await import('../../store/redis.js');
    return createRedisStore({ url: kind, history, ...(config.redisPrefix !== undefined ? { prefix: config.redisPrefix } : {}) });
  }
  throw new UsageError(`--store: unknown store "${kind}" (memory, sqlite, redis://host:port)`);
}

/** `lifeline serve [--port] [--host] [--demo] [--drain-window] [--config FILE]`: run a server until SIGTERM/SIGINT. */
export async function runServe(args: string[], _io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: 'string', short: 'p' },
      host: { type: 'string' },
      demo: { type: 'boolean' },
      'drain-window': { type: 'string' },
      config: { type: 'string', short: 'c' },
      'log-level': { type: 'string' },
      store: { type: 'string' },
      'data-dir': { type: 'string' },
      'publish-key': { type: 'string' },
      'client-publish': { type: 'string', multiple: true },
      workers: { type: 'string' },
      'redis-prefix': { type: 'string' },
      'admin-token': { type: 'string' },
      'plain-restart-code': { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  const flags: ServeConfig = {};
  if (values.port !== undefined) flags.port = parsePort(values.port);
  if (values.host !== undefined) flags.host = values.host;
  if (values.demo) flags.demo = true;
  if (values['drain-window'] !== undefined) flags.drainWindowMs = parseDuration('--drain-window', values['drain-window']);
  if (values['log-level'] !== undefined) flags.logLevel = values['log-level'];
  if (values.store !== undefined) flags.store = values.store;
  if (values['data-dir'] !== undefined) flags.dataDir = values['data-dir'];
  if (values['publish-key'] !== undefined) flags.publishKey = values['publish-key'];
  else if (process.env.LIFELINE_PUBLISH_KEY) flags.publishKey = process.env.LIFELINE_PUBLISH_KEY;
  if (values['client-publish'] !== undefined) flags.clientPublish = values['client-publish'];
  if (values['redis-prefix'] !== undefined) flags.redisPrefix = values['redis-prefix'];
  if (values['admin-token'] !== undefined) flags.adminToken = values['admin-token'];
  else if (process.env.LIFELINE_ADMIN_TOKEN) flags.adminToken = process.env.LIFELINE_ADMIN_TOKEN;
  if (values['plain-restart-code'] !== undefined) {
    // 1001 for plain clients written to the original RFC 6455 list, which reject 1012 (the reason still says "service restart").
    if (values['plain-restart-code'] !== '1012' && values['plain-restart-code'] !== '1001') throw new UsageError(`--plain-restart-code: expected 1012 or 1001, got "${values['plain-restart-code']}"`);
    flags.plainRestartCode = Number(values['plain-restart-code']) as 1012 | 1001;
  }
  if (values.workers !== undefined) {
    if (!/^\d{1,3}$/.test(values.workers) || Number(values.workers) < 1) throw new UsageError(`--workers: expected a number of processes, got "${values.workers}"`);
    flags.workers = Number(values.workers);
  }
  const configPath = values.config;
  const load = (): ServeConfig => ({ ...(configPath ? readConfigFile(configPath) : {}), ...flags });
  const config = load();

  const logger = pino({ level: config.logLevel ?? 'info', base: { pid: process.pid }, redact: { paths: SECRET_LOG_PATHS, censor: '[redacted]' } });
  const workers = config.workers ?? 1;
  if (workers > 1) {
    // Each worker would have its own history and fan-out: clients on one would never see publishes on another.
    if (!/^rediss?:\/\//.test(config.store ?? '')) throw new UsageError(`--workers ${workers} needs a shared store (--store redis://host:port); with ${config.store ?? 'sqlite'} the workers would split the service`);
    if (cluster.isPrimary) return runPrimary(workers, logger);
  }
  // A demo should be usable at once: it gets a fresh publish key, printed below, unless one was given.
  let generatedKey: string | undefined;
  if (config.demo && config.publishKey === undefined) config.publishKey = generatedKey = randomBytes(18).toString('base64url');
  let store: Store;
  try {
    store = instrumentStore(await openStore(config));
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`cannot open the ${config.store ?? 'sqlite'} store: ${(error as Error).message.split('\n')[0]}`, { cause: error });
  }
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
    reload: () => {
      const next = { ...load(), ...(generatedKey !== undefined ? { publishKey: generatedKey } : {}) };
      server.reconfigure(serverOptionsOf(next));
      applyChaos(next.chaosCrashEveryMs);
      // Which settings, never their secret values (the logger also redacts them wherever they appear).
      logger.info({ settings: Object.keys(next).sort() }, 'configuration reloaded');
    },
  });
  let stopChaos: (() => void) | undefined;
  const applyChaos = (everyMs: number | undefined) => {
    stopChaos?.();
    stopChaos = everyMs !== undefined && everyMs > 0 ? startChaos(server, everyMs, logger) : undefined;
  };
  applyChaos(config.chaosCrashEveryMs);
  mountMetrics(server, logger, { adminToken: config.adminToken });
  mountDashboard({ server, logger, demo: Boolean(config.demo), adminToken: config.adminToken });
  if (cluster.isWorker) {
    // The primary's rolling restart: stop taking connections (the others get them), drain with 1012, exit.
    process.on('message', (message) => {
      if (!isDrainMessage(message)) return;
      void server.shutdown({ stopListening: true }).then(async () => {
        await store.close();
        process.exit(0);
      });
    });
  }
  let address;
  try {
    address = await server.listen(config.port ?? 8080, config.host ?? '127.0.0.1');
  } catch (error) {
    throw new UsageError(`cannot listen on ${config.host ?? '127.0.0.1'}:${config.port ?? 8080}: ${(error as Error).message}`, { cause: error });
  }
  logger.info(
    { port: address.port, host: address.host, url: `ws://${address.host}:${address.port}/`, demo: Boolean(config.demo), store: store.kind, httpPublish: config.publishKey !== undefined },
    'listening',
  );
  // For the person at the terminal, not for the log: the logger never carries a secret.
  if (generatedKey !== undefined) _io.err(`demo publish key (POST /publish with Authorization: Bearer <key>): ${generatedKey}`);
  // The process lives until a signal drains it; the signal handler exits.
  return new Promise<number>(() => {});
}
