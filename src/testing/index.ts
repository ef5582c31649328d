/**
 * `lifeline/testing`: what lets a store engine written outside lifeline prove that it keeps the
 * {@link Store} contract, with the same conformance suite lifeline's own engines pass. See
 * `docs/store-engines.md`.
 * @packageDocumentation
 */
export type { Store } from '../store/types.js';
export {
  storeConformance,
  type ConformanceAssertion,
  type ConformanceOptions,
  type ConformanceTestApi,
  type ErrorClass,
  type OpenStore,
  type ReopenStore,
  type StoreConformanceOptions,
} from './store-conformance.js';
