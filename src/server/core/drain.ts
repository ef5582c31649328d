/**
 * The drain: the 1012 rule. A planned restart or shutdown closes every connection with 1012 (or 1001)
 * and a reconnect hint, without a thundering herd and without cutting work off:
 *
 * 1. grace: handlers already running get up to `graceMs` to finish (never longer);
 * 2. pacing: the closes are spread over `drainWindowMs` by stratified jitter (one slot per connection,
 *    a random moment inside each), so everyone does not come back at once;
 * 3. the hint: `retry=` in each reason; a shutdown that keeps listening (answering upgrades with 503
 *    until the window ends) shifts it past the window, since coming back sooner only collects refusals;
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
 * Close one connection at its moment of the window.
 * @param elapsedMs - how far into the window this close is
 */
function closeForDrain(connection: Connection, plan: DrainPlan, settings: DrainSettings, elapsedMs: number): void {
  const { code } = plan;
  const sent = code === 1012 && connection.protocol === '' ? settings.plainRestartCode : code;
  // A shutdown that keeps listening refuses upgrades (503) until the window ends, and then the process
  // is gone: a client told to come back sooner only collects failures and backs off exponentially. So
  // the hint starts when the window ends. (A restart keeps serving; stopListening hands clients to other
  // processes at once: neither shifts.)
  const shift = plan.kind === 'shutdown' && !plan.stopListening ? Math.max(0, settings.drainWindowMs - elapsedMs) : 0;
  const { retryHint } = settings;
  const retry = { minMs: retryHint.minMs + shift, maxMs: retryHint.maxMs + shift };
  // The text says what happened, whichever code carries it: a restart sent as 1001 (for clients that
  // reject 1012) still reads "service restart" and has the hint; 1001 itself still means "come back".
  connection.closeWith(sent, { text: code === 1012 ? 'service restart' : 'server going away', ...(code === 1012 ? { retry } : {}) });
}
