/**
 * `GET /metrics` for `lifeline serve`: one registry and one store latency histogram per process, shared
 * by {@link instrumentStore} (called before the server exists) and {@link mountMetrics} (after it).
 * @packageDocumentation
 */
import type { Logger } from 'pino';
import type { Histogram, Registry } from 'prom-client';
import { requireOptional } from '../optional-dependency.js';
import {
  createMetrics,
  createStoreLatencyHistogram,
  instrumentStore as instrumentWith,
  type LifelineServer,
  type StoreLatencyLabel,
} from '../server/index.js';
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
 * default process metrics, which belong here because `serve` owns the process.
 */
export function mountMetrics(server: LifelineServer, logger: Logger): void {
  const { registry, storeLatency } = processMetrics();
  const metrics = createMetrics(server, {
    registry,
    storeLatency,
    collectDefault: true,
    onError: (error) => logger.error({ err: error }, 'metrics scrape failed'),
  });
  server.addRoute(metrics.route);
}
