/**
 * Reconnect delay math. Pure functions: the random source is a parameter, so every delay is
 * reproducible in tests and drawn fresh per attempt (never once per page or per process, which
 * would make every client that loaded together come back together).
 * @packageDocumentation
 */

/** A random source returning numbers in [0, 1), like `Math.random`. */
export type RandomSource = () => number;

/** A delay window in milliseconds, `minMs <= maxMs`. */
export interface DelayWindow {
  /** Lower bound, in milliseconds. */
  readonly minMs: number;
  /** Upper bound, in milliseconds. */
  readonly maxMs: number;
}

/** Exponential backoff settings. */
export interface BackoffOptions {
  /** Ceiling of the first retry's delay, in milliseconds. @default 500 */
  readonly baseMs: number;
  /** Growth of the ceiling per attempt (>= 1). @default 2 */
  readonly factor: number;
  /** Largest ceiling, in milliseconds; applied before the jitter. @default 30000 */
  readonly capMs: number;
}

/** Defaults for {@link BackoffOptions}. */
export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, factor: 2, capMs: 30_000 };

/** Default window for "reconnect soon" codes (1001, 1012) without a server hint, in milliseconds. */
export const DEFAULT_SOON: DelayWindow = { minMs: 1000, maxMs: 5000 };

/** Default bounds a server's `retry=` hint is clamped into, in milliseconds. */
export const DEFAULT_HINT_LIMITS: DelayWindow = { minMs: 0, maxMs: 60_000 };

/**
 * Draw one number in [0, 1) from `random`, tolerating a broken source: a value that is not a
 * finite number counts as 0 and anything outside the interval is pulled back inside it, so a bad
 * injected source can skew delays but never produce a negative, infinite or NaN delay.
 * @internal
 */
export function draw(random: RandomSource): number {
  const value = random();
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) return 0;
  // The largest double below 1: keeps "uniform in [min, max)" strict even for a source returning 1.
  return value < 1 ? value : 1 - Number.EPSILON / 2;
}

/** A delay drawn uniformly from `window`, in milliseconds: `minMs + random() * (maxMs - minMs)`. @internal */
export function uniformDelay(window: DelayWindow, random: RandomSource): number {
  return window.minMs + draw(random) * (window.maxMs - window.minMs);
}

/**
 * Clamp both ends of `window` into `limits`, keeping `minMs <= maxMs`. Used on a server's hint so
 * that a misconfigured or hostile server cannot park clients for an hour or make them spin at 0 ms
 * beyond what the client allows.
 * @internal
 */
export function clampWindow(window: DelayWindow, limits: DelayWindow): DelayWindow {
  const clamp = (ms: number): number => Math.min(limits.maxMs, Math.max(limits.minMs, ms));
  const minMs = clamp(window.minMs);
  return { minMs, maxMs: Math.max(minMs, clamp(window.maxMs)) };
}

/**
 * The ceiling of the backoff delay for `attempt` (1 for the first retry):
 * `min(capMs, baseMs * factor ** (attempt - 1))`, in milliseconds.
 * Attempts below 1 count as 1; a ceiling that overflows is simply the cap.
 * @internal
 */
export function backoffCeiling(attempt: number, options: BackoffOptions = DEFAULT_BACKOFF): number {
  const n = Math.max(1, Math.floor(attempt));
  if (options.baseMs === 0) return 0; // avoids 0 * Infinity = NaN at huge attempts
  const raw = options.baseMs * options.factor ** (n - 1);
  return Number.isFinite(raw) ? Math.min(options.capMs, raw) : options.capMs;
}

/**
 * Exponential backoff with full jitter: `random() * min(capMs, baseMs * factor ** (attempt - 1))`,
 * in milliseconds, in [0, ceiling).
 *
 * The cap is applied *before* the jitter: at high attempts the delay is uniform over [0, capMs),
 * so clients that failed together keep spreading out instead of re-synchronising at the cap.
 * @param attempt - consecutive failures so far, 1 for the first retry
 * @internal
 */
export function backoffDelay(attempt: number, options: BackoffOptions, random: RandomSource): number {
  return draw(random) * backoffCeiling(attempt, options);
}
