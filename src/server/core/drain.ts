/**
 * The drain: the 1012 rule. A planned restart or shutdown closes every connection with 1012 (or 1001)
 * and a reconnect hint, without a thundering herd and without cutting work off:
 *
 * 1. grace: handlers already running get up to `graceMs` to finish (never longer);
 * 2. pacing: the closes are spread over `drainWindowMs` by stratified jitter (one slot per connection,
 *    a random moment inside each), so everyone does not come back at once;
 * 3. the hint: `retry=` in each reason, chosen by what serves after the close: when something already
 *    serves (`successorReady`: this process restarting in place, or a successor process listening and
 *    ready) it says "now" (from 0, with a small jitter); a shutdown that keeps listening (answering
 *    upgrades with 503 until the window ends) with nothing after it shifts it past the window, since
 *    coming back sooner only collects refusals; otherwise it is the configured `retryHint`;
 * 4. stragglers: peers that have not finished the closing handshake `closeTimeoutMs` after the last
 *    paced close are terminated.
 *
 * Time is read from an injected {@link Clock}, so every step is unit-tested with a manual one.
 * @packageDocumentation
 */
import type { RetryHint } from '../../protocol/index.js';
import { sleep, within, type Clock } from './clock.js';
import type { Connection } from './connection.js';
import type { Logger } from './logger.js';
import type { ShutdownCode } from './options.js';

/** How long terminated stragglers get to report their close before the drain ends anyway. */
const TERMINATE_WAIT_MS = 1000;

/**
 * The widest `retry=` window a close gets when something already serves: come back at once, spread by
 * at most this much. The closes themselves are already paced over the drain window, so this jitter only
 * needs to keep the clients closed in one instant from arriving in the same millisecond.
 */
export const SUCCESSOR_RETRY_JITTER_MS = 250;

/**
 * When to close each connection: offsets in milliseconds from the start of the window, one per
 * connection, in the order the connections were given. Pure; the randomness is injected.
 *
 * Closing everyone at once makes everyone come back at once. Uniform random moments can still clump, so
 * the window is cut into one slot per connection and each closes at a random moment inside its own slot
 * (stratified jitter): spread is guaranteed, order is not predictable.
 * @param count - number of connections
 * @param windowMs - length of the drain window
 * @param random - a source of uniform numbers in [0, 1)
 */
export function drainOffsets(count: number, windowMs: number, random: () => number = Math.random): number[] {
  if (count <= 0) return [];
  const slot = Math.max(0, windowMs) / count;
  const slots = Array.from({ length: count }, (_, i) => i);
  // Fisher-Yates: which connection gets which slot is random too.
  for (let i = slots.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [slots[i], slots[j]] = [slots[j] as number, slots[i] as number];
  }
  return slots.map((s) => Math.floor(s * slot + random() * slot));
}

/** A restart (the server keeps serving) or a shutdown (it stops). */
export type DrainKind = 'restart' | 'shutdown';

/** What one drain does. */
export interface DrainPlan {
  readonly kind: DrainKind;
  /** 1012 (a restart follows) or 1001 (going away for good). */
  readonly code: number;
  /** A shutdown that stopped listening as it began: clients are handed to other processes at once. */
  readonly stopListening: boolean;
  /**
   * Something already serves the clients being closed, listening and ready: this process restarting in
   * place, or a successor process (a rolling restart's replacement, a zero-dark restart). The hint then
   * says "now" (see {@link retryHintFor}). False for a shutdown with nothing after it (a cold restart).
   */
  readonly successorReady: boolean;
}

/** The settings a drain reads (the server's, as they are when it starts). */
export interface DrainSettings {
  readonly drainWindowMs: number;
  readonly graceMs: number;
  readonly closeTimeoutMs: number;
  readonly retryHint: RetryHint;
  /** What a plain client (no subprotocol) gets instead of 1012. */
  readonly plainRestartCode: ShutdownCode;
  readonly random: () => number;
}

/** What a drain reports, as the server's `drain-start` and `drain-end` events carry it. */
export interface DrainObserver {
  started(event: { kind: DrainKind; code: number; connections: number }): void;
  finished(event: { kind: DrainKind; durationMs: number }): void;
}

/** Drain `targets` by `plan`; resolves once every one is closed or was terminated. */
export async function drain(
  targets: readonly Connection[],
  plan: DrainPlan,
  settings: DrainSettings,
  host: { readonly clock: Clock; readonly logger: Logger; readonly observer: DrainObserver },
): Promise<void> {
  const { clock, logger, observer } = host;
  const { kind, code } = plan;
  const started = clock.now();
  const { drainWindowMs, graceMs, closeTimeoutMs } = settings;
  logger.info({ kind, code, connections: targets.length, drainWindowMs }, 'drain started');
  observer.started({ kind, code, connections: targets.length });

  // Let work in progress finish, but never wait longer than the grace period.
  await within(clock, Promise.all(targets.map((c) => c.chain)), graceMs);

  const offsets = drainOffsets(targets.length, drainWindowMs, settings.random);
  const windowStart = clock.now();
  await Promise.all(
    targets.map(async (connection, i) => {
      await sleep(clock, offsets[i] ?? 0);
      closeForDrain(connection, plan, settings, clock.now() - windowStart);
    }),
  );
  // Peers that do not complete the closing handshake are cut off at the deadline.
  const stragglers = targets.filter((c) => c.state !== 'closed');
  if (stragglers.length > 0 && !(await within(clock, Promise.all(stragglers.map((c) => c.closed)), closeTimeoutMs))) {
    const left = stragglers.filter((c) => c.state !== 'closed');
    logger.warn({ count: left.length }, 'terminating connections that did not finish closing');
    for (const c of left) c.terminate();
    await within(clock, Promise.all(left.map((c) => c.closed)), TERMINATE_WAIT_MS);
  }
  const durationMs = clock.now() - started;
  logger.info({ kind, durationMs }, 'drain finished');
  observer.finished({ kind, durationMs });
}

/**
 * The `retry=` window of one close. Pure: the drain's hint rule.
 * - `successorReady`: from 0 (come back at once) to at most {@link SUCCESSOR_RETRY_JITTER_MS} (never
 *   more than the configured `maxMs`): something already serves, so waiting only makes the client stale.
 * - a shutdown that keeps listening, with nothing after it: the configured window shifted past the end
 *   of the drain window. Until then the process answers upgrades with 503, and then it is gone: a client
 *   told to come back sooner only collects failures and backs off exponentially.
 * - otherwise (a shutdown with `stopListening` that hands clients to other processes): the configured window.
 * @param elapsedMs - how far into the drain window the close is
 */
export function retryHintFor(plan: Pick<DrainPlan, 'kind' | 'stopListening' | 'successorReady'>, settings: Pick<DrainSettings, 'retryHint' | 'drainWindowMs'>, elapsedMs: number): RetryHint {
  const { retryHint } = settings;
  if (plan.successorReady) return { minMs: 0, maxMs: Math.min(SUCCESSOR_RETRY_JITTER_MS, retryHint.maxMs) };
  const shift = plan.kind === 'shutdown' && !plan.stopListening ? Math.max(0, settings.drainWindowMs - elapsedMs) : 0;
  return { minMs: retryHint.minMs + shift, maxMs: retryHint.maxMs + shift };
}

/**
 * Close one connection at its moment of the window.
 * @param elapsedMs - how far into the window this close is
 */
function closeForDrain(connection: Connection, plan: DrainPlan, settings: DrainSettings, elapsedMs: number): void {
  const { code } = plan;
  const sent = code === 1012 && connection.protocol === '' ? settings.plainRestartCode : code;
  const retry = retryHintFor(plan, settings, elapsedMs);
  // The text says what happened, whichever code carries it: a restart sent as 1001 (for clients that
  // reject 1012) still reads "service restart" and has the hint; 1001 itself still means "come back".
  connection.closeWith(sent, { text: code === 1012 ? 'service restart' : 'server going away', ...(code === 1012 ? { retry } : {}) });
}
