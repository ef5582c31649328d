// A store engine written outside lifeline, the way a user writes one: a plain object with the methods of
// the Store contract. This one is thin on purpose: it wraps lifeline's memory store and reports the
// operations that took longer than `slowMs`. An engine of your own (Postgres, DynamoDB, ...) has the same
// shape; `timed-store.test.mjs` proves this one keeps the contract with `lifeline/testing`.
import { createMemoryStore } from 'lifeline/store';

/** The operations of the Store contract that answer with a promise. */
const OPERATIONS = ['append', 'read', 'head', 'saveSession', 'updateSession', 'loadSession', 'deleteSession', 'claimMessage', 'finishMessage', 'stats', 'sweep', 'close'];

/**
 * @param {import('lifeline/store').StoreOptions} [options] history bounds, dedupe TTL, clock
 * @param {{ slowMs?: number, onSlow?: (operation: string, ms: number) => void }} [timing]
 * @returns {import('lifeline/store').Store}
 */
export function createTimedStore(options, { slowMs = 100, onSlow = () => {} } = {}) {
  const inner = createMemoryStore(options);
  const store = { kind: 'timed-memory', durable: inner.durable };
  for (const operation of OPERATIONS) {
    store[operation] = async (...args) => {
      const start = performance.now();
      try {
        return await inner[operation](...args);
      } finally {
        const ms = performance.now() - start;
        if (ms >= slowMs) onSlow(operation, ms);
      }
    };
  }
  return store;
}
