import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { createServer, handleSignals, type ServerOptions } from '../../server/index.js';
import { parseDuration, parsePort } from '../args.js';
import { demoMessageHandler } from '../demo.js';
import { UsageError, type CliIo } from '../io.js';

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
}

const CONFIG_KEYS = new Set<keyof ServeConfig>([
  'port', 'host', 'demo', 'logLevel', 'drainWindowMs', 'graceMs', 'closeTimeoutMs', 'heartbeatMs', 'maxPayload', 'retryHint', 'shutdownCode', 'plainRestartCode',
]);

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

function serverOptionsOf(config: ServeConfig): Partial<ServerOptions> {
  const { port: _p, host: _h, demo: _d, logLevel: _l, ...rest } = config;
  return rest;
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
  const configPath = values.config;
  const load = (): ServeConfig => ({ ...(configPath ? readConfigFile(configPath) : {}), ...flags });
  const config = load();

  const logger = pino({ level: config.logLevel ?? 'info', base: { pid: process.pid } });
  let server;
  try {
    server = createServer({
      ...serverOptionsOf(config),
      logger,
      ...(config.demo ? { onMessage: demoMessageHandler } : {}),
    });
  } catch (error) {
    if (error instanceof RangeError || error instanceof TypeError) throw new UsageError(error.message, { cause: error });
    throw error;
  }
  handleSignals(server, {
    logger,
    reload: () => {
      const next = load();
      server.reconfigure(serverOptionsOf(next));
      logger.info({ config: serverOptionsOf(next) }, 'configuration reloaded');
    },
  });
  let address;
  try {
    address = await server.listen(config.port ?? 8080, config.host ?? '127.0.0.1');
  } catch (error) {
    throw new UsageError(`cannot listen on ${config.host ?? '127.0.0.1'}:${config.port ?? 8080}: ${(error as Error).message}`, { cause: error });
  }
  logger.info({ port: address.port, host: address.host, url: `ws://${address.host}:${address.port}/`, demo: Boolean(config.demo) }, 'listening');
  // The process lives until a signal drains it; the signal handler exits.
  return new Promise<number>(() => {});
}
