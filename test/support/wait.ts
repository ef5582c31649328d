/**
 * Waiting for a condition, the one way the suite does it: `vi.waitFor` underneath (it polls, and fails
 * with the last error when time runs out), with a message that says what was awaited. Never a bare sleep.
 */
import { vi } from 'vitest';

/**
 * Resolve once `check` returns true (or a promise of true); fail after `timeoutMs` naming `what`.
 * @param intervalMs - how often to look
 */
export async function until(check: () => boolean | Promise<boolean>, what = 'condition', timeoutMs = 15_000, intervalMs = 10): Promise<void> {
  await vi.waitFor(
    async () => {
      if (!(await check())) throw new Error(`${what} not met within ${timeoutMs} ms`);
    },
    { timeout: timeoutMs, interval: intervalMs },
  );
}

/**
 * Resolve with the first value of `get` that `accept` takes; fail after `timeoutMs` with the last value seen.
 * @param intervalMs - how often to look
 */
export async function untilValue<T>(get: () => T | Promise<T>, accept: (value: T) => boolean, what = 'value', timeoutMs = 10_000, intervalMs = 50): Promise<T> {
  return vi.waitFor(
    async () => {
      const value = await get();
      if (!accept(value)) throw new Error(`${what} not as expected within ${timeoutMs} ms; last: ${JSON.stringify(value)?.slice(0, 2000)}`);
      return value;
    },
    { timeout: timeoutMs, interval: intervalMs },
  );
}
