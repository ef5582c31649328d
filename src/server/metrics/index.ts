/**
 * `lifeline/server/metrics`: Prometheus metrics for a lifeline server, with prom-client. An entry of its
 * own, so `lifeline/server` never loads prom-client: `server.addRoute(createMetrics(server).route)`.
 * @packageDocumentation
 */
export { createMetrics, createStoreLatencyHistogram } from './prometheus.js';
export type { LifelineMetrics, MetricsOptions, StoreLatencyOptions } from './prometheus.js';
export { instrumentStore, STORE_OPERATIONS } from './instrument-store.js';
export type { StoreLatencyLabel, StoreOperation } from './instrument-store.js';
