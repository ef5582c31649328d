/**
 * The options every engine accepts, resolved once: defaults, validation, and the clock. Internal: not
 * re-exported from `store/index.ts`.
 * @packageDocumentation
 */
import type { StoreOptions } from './types.js';

/** Default bound on messages kept per channel. */
export const DEFAULT_MAX_COUNT = 10_000;
/** Default bound on the age of kept messages: 24 h. */
export const DEFAULT_MAX_AGE_MS = 24 * 60 * 60 * 1000;
/** Default lifetime of idempotency keys and client message ids: 24 h. */
export const DEFAULT_DEDUPE_TTL_MS = 24 * 60 * 60 * 1000;
/**
 * Engines sweep on their own, at most this often (by the store's clock), at the start of a write.
 * Expired records are invisible before they are swept; sweeping only reclaims space.
 */
export const AUTO_SWEEP_INTERVAL_MS = 60_000;
/**
 * Most records one automatic sweep step removes. A step is one short transaction; the engine takes
 * another step soon after while there is more to do, so no sweep holds the process for long.
 */
export const SWEEP_BATCH = 2000;
/** Default of {@link StoreOptions.maxClaimsPerScope} and {@link StoreOptions.maxKeysPerScope}. */
export const DEFAULT_MAX_PER_SCOPE = 10_000;

/** {@link StoreOptions} with every default applied and every value checked. */
export interface ResolvedStoreOptions {
  readonly maxCount: number;
  readonly maxAgeMs: number;
  readonly dedupeTtlMs: number;
  readonly maxClaimsPerScope: number;
  readonly maxKeysPerScope: number;
  readonly now: () => number;
}

/** A duration in ms: a number >= 0 (`Infinity`: never). */
export function isDuration(value: unknown): value is number {
  return typeof value === 'number' && !Number.isNaN(value) && value >= 0;
}

/**
 * Apply defaults and validate. Throws `TypeError`/`RangeError` synchronously on a bad option.
 * `maxCount` is an integer >= 0 or `Infinity`; durations are numbers >= 0 (`Infinity`: never).
 */
export function resolveStoreOptions(options: StoreOptions = {}): ResolvedStoreOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('store options must be an object');
  const maxCount = options.history?.maxCount ?? DEFAULT_MAX_COUNT;
  const maxAgeMs = options.history?.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
  const dedupeTtlMs = options.dedupeTtlMs ?? DEFAULT_DEDUPE_TTL_MS;
  const now = options.now ?? Date.now;
  const maxClaimsPerScope = options.maxClaimsPerScope ?? DEFAULT_MAX_PER_SCOPE;
  const maxKeysPerScope = options.maxKeysPerScope ?? DEFAULT_MAX_PER_SCOPE;
  for (const [name, value] of [['maxClaimsPerScope', maxClaimsPerScope], ['maxKeysPerScope', maxKeysPerScope]] as const) {
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be an integer >= 1, got ${String(value)}`);
  }
  if (!(maxCount === Infinity || (Number.isSafeInteger(maxCount) && maxCount >= 0))) {
    throw new RangeError(`history.maxCount must be an integer >= 0 or Infinity, got ${String(maxCount)}`);
  }
  if (!isDuration(maxAgeMs)) throw new RangeError(`history.maxAgeMs must be a number of ms >= 0, got ${String(maxAgeMs)}`);
  if (!isDuration(dedupeTtlMs)) throw new RangeError(`dedupeTtlMs must be a number of ms >= 0, got ${String(dedupeTtlMs)}`);
  if (typeof now !== 'function') throw new TypeError('now must be a function returning ms since the epoch');
  return { maxCount, maxAgeMs, dedupeTtlMs, maxClaimsPerScope, maxKeysPerScope, now };
}

/** The store's clock, checked: a clock that returns garbage must not corrupt stored times. */
export function readClock(now: () => number): number {
  const t = now();
  if (typeof t !== 'number' || !Number.isFinite(t)) throw new TypeError(`the store clock returned ${String(t)}, not a finite number`);
  return t;
}
