/**
 * `GET /metrics` for `lifeline serve`: one registry and one store latency histogram per process, shared
 * by {@link instrumentStore} (called before the server exists) and {@link mountMetrics} (after it).
 * @packageDocumentation
 */
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Histogram, Registry } from 'prom-client';
import { requireOptional } from '../optional-dependency.js';
import type { LifelineServer } from '../server/index.js';
import { createMetrics, createStoreLatencyHistogram, instrumentStore as instrumentWith, type StoreLatencyLabel } from '../server/metrics/index.js';
import { keyMatches } from '../server/node/publish-route.js';
import { bearerToken } from '../server/node/http.js';
import type { Store } from '../store/types.js';

interface ProcessMetrics {
  readonly registry: Registry;
  readonly storeLatency: Histogram<StoreLatencyLabel>;
}

// Made on first use, not at import. `serve` runs one server per process (with `--workers`, each worker
// process serves its own /metrics), so one registry per process is exactly one per server.
let shared: ProcessMetrics | undefined;

function processMetrics(): ProcessMetrics {
  if (!shared) {
    const { Registry } = requireOptional<typeof import('prom-client')>('prom-client', 'GET /metrics');
    const registry = new Registry();
    shared = { registry, storeLatency: createStoreLatencyHistogram({ registry }) };
  }
  return shared;
}

/** Wrap the store so every store operation's latency lands in `lifeline_store_operation_duration_seconds`. */
export function instrumentStore(store: Store): Store {
  return instrumentWith(store, processMetrics().storeLatency);
}

/**
 * Mount `GET /metrics` (Prometheus text format) on a `lifeline serve` server: lifeline's metrics plus the
 * default process metrics, which belong here because `serve` owns the process. With an admin token the
 * route answers 401 unless the scrape carries `Authorization: Bearer <admin token>`.
 */
export async function mountMetrics(
  server: LifelineServer,
  logger: Logger,
  options: { adminToken?: string | undefined; port?: number | undefined; host?: string | undefined } = {},
): Promise<void> {
  const { registry, storeLatency } = processMetrics();
  const { adminToken, port } = options;
  const metrics = createMetrics(server, {
    registry,
    storeLatency,
    collectDefault: true,
    onError: (error) => logger.error({ err: error }, 'metrics scrape failed'),
    // With an admin token, scraping needs it too (Prometheus: `authorization: {credentials: <token>}`).
    // A private listener (--metrics-port) is protected by where it listens, as Prometheus scrapes it.
    ...(adminToken !== undefined && port === undefined
      ? {
          authorize: (req: IncomingMessage): boolean => {
            const token = bearerToken(req.headers.authorization);
            return token !== undefined && keyMatches(token, adminToken);
          },
        }
      : {}),
  });
  if (port === undefined) {
    server.addRoute(metrics.route);
    return;
  }
  // Its own listener, e.g. on a private interface: the public port then has no /metrics at all.
  const host = options.host ?? '127.0.0.1';
  const listener = createHttpServer((req, res) => {
    if (!metrics.route(req, res)) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('only GET /metrics here\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(port, host, () => resolve());
  });
  listener.unref();
  const bound = listener.address() as AddressInfo;
  logger.info({ host: bound.address, port: bound.port, url: `http://${bound.address}:${bound.port}/metrics` }, 'metrics listening');
}
