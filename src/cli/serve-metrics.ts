import type { Logger } from 'pino';
import type { LifelineServer } from '../server/index.js';
import type { Store } from '../store/types.js';

/** Wrap the store for instrumentation before the server is created. Placeholder: returns it unchanged. */
export function instrumentStore(store: Store): Store {
  return store;
}

/** Mount `GET /metrics` on a `lifeline serve` server. Placeholder: mounts nothing. */
export function mountMetrics(_server: LifelineServer, _logger: Logger): void {}
