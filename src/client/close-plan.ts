/**
 * What the client does about one close, as pure functions of the close and the client's counters:
 * how the failure streak moves, the decision (reconnect after a delay, stop, or give up), and the
 * {@link CloseInfo} every `close` event carries. The client only acts on the plan (timers, events).
 * @packageDocumentation
 */
import type { ReconnectClass } from '../codes/types.js';
import type { RetryHint } from '../protocol/close-reason.js';
import { defined } from '../util/defined.js';
import type { DelayWindow } from './backoff.js';
import type { HandshakeRefusal } from './environment.js';
import { decide, diagnose } from './policy.js';
import type { CloseFacts, Decision, PolicyConfig } from './policy.js';

/** Everything known about one close, raw and explained. */
export interface CloseInfo {
  /** The close code as reported by the WebSocket implementation (1006 for a failed attempt or a dead link). */
  readonly code: number;
  /** The raw close reason. */
  readonly reason: string;
  /** Whether the closing handshake completed. */
  readonly wasClean: boolean;
  /** The code's name from the registry, in the client's `lang` (1006's for a code the registry rejects). */
  readonly name: string;
  /** What the code means (the registry's description). */
  readonly explanation: string;
  /** The server's incident id (`incident=` in the reason), as sent with 1011. */
  readonly incident?: string;
  /** The server's reconnect window (`retry=` in the reason), before clamping, in milliseconds. */
  readonly retry?: RetryHint;
  /** The registry's reconnect class (`backoff` for a code no peer may legitimately report). */
  readonly class: ReconnectClass;
  /** Whether the client will reconnect by itself. */
  readonly willReconnect: boolean;
  /** When reconnecting: the delay before the next attempt, in milliseconds. */
  readonly delayMs?: number;
  /** When stopping or exhausted: why, for people (name, the server's text, what to do). */
  readonly diagnosis?: string;
  /**
   * For a refused handshake, where the platform shows it (Node with `ws`; never browsers): the HTTP status
   * and its `Retry-After` in ms, which the reconnect delay then is at least (clamped by `hintLimits`).
   */
  readonly handshake?: HandshakeRefusal;
}

/** What happens after a close, with the `close` event's payload. @internal */
export type ClosePlan =
  | { readonly next: 'reconnect'; readonly info: CloseInfo; readonly delayMs: number }
  | { readonly next: 'stop'; readonly info: CloseInfo; readonly diagnosis: string }
  | { readonly next: 'exhausted'; readonly info: CloseInfo; readonly attempts: number };

/** One close, as the client saw it. @internal */
export interface ClientClose {
  /** The raw close reason. */
  readonly reason: string;
  readonly wasClean: boolean;
  /** Stop with this diagnosis instead of asking the policy (a local error retrying cannot fix). */
  readonly forcedStop?: string | undefined;
  /** The refused handshake's HTTP answer, when the platform showed it. */
  readonly refusal?: HandshakeRefusal | undefined;
}

/**
 * The attempt number this close makes: the failure streak plus one, after resetting the streak for a
 * connection that was stable (open for `stableAfterMs`) or was closed by a planned event (1012, 1001) —
 * a few deploys in a row are the server's doing and must not push the backoff towards its cap.
 * Compared at close time rather than with a timer: correct even if background timers were throttled.
 * @param openedAt - when the connection opened (undefined: it never did)
 * @internal
 */
export function countFailure(failures: number, facts: CloseFacts, openedAt: number | undefined, now: number, stableAfterMs: number): number {
  if (openedAt !== undefined && (now - openedAt >= stableAfterMs || facts.actionClass === 'reconnect-soon')) return 1;
  return failures + 1;
}

/**
 * Decide what follows a close of a client that is not closed: the policy's decision (or the forced
 * stop), never sooner than a refused handshake's `Retry-After` (clamped like a server's hint), and
 * `exhausted` once `maxAttempts` reconnects in a row have failed.
 * @param attempt - consecutive failures including this close (from {@link countFailure})
 * @internal
 */
export function planClose(
  facts: CloseFacts,
  close: ClientClose,
  attempt: number,
  options: { readonly maxAttempts: number; readonly hintLimits: DelayWindow },
  policy: PolicyConfig,
): ClosePlan {
  const { reason, wasClean, forcedStop, refusal } = close;
  let decision: Decision =
    forcedStop !== undefined ? { action: 'stop', diagnosis: forcedStop } : decide({ code: facts.code, reason, attempt }, policy, facts);
  // The server said when to come back: never sooner (within the limits a server hint is clamped to).
  if (decision.action === 'reconnect' && refusal?.retryAfterMs !== undefined) {
    const floor = Math.min(refusal.retryAfterMs, options.hintLimits.maxMs);
    if (decision.delayMs < floor) decision = { ...decision, delayMs: floor };
  }
  if (decision.action === 'stop') {
    const { diagnosis } = decision;
    return { next: 'stop', diagnosis, info: closeInfo(facts, reason, wasClean, { willReconnect: false, diagnosis, handshake: refusal }) };
  }
  if (attempt > options.maxAttempts) {
    const attempts = attempt - 1;
    const diagnosis = diagnose(facts, `gave up after ${attempts} consecutive reconnect attempt${attempts === 1 ? '' : 's'} (maxAttempts)`);
    return { next: 'exhausted', attempts, info: closeInfo(facts, reason, wasClean, { willReconnect: false, diagnosis, handshake: refusal }) };
  }
  const { delayMs } = decision;
  return { next: 'reconnect', delayMs, info: closeInfo(facts, reason, wasClean, { willReconnect: true, delayMs, handshake: refusal }) };
}

/**
 * The `close` event's payload.
 * @internal
 */
export function closeInfo(
  facts: CloseFacts,
  reason: string,
  wasClean: boolean,
  outcome: { willReconnect: boolean; delayMs?: number; diagnosis?: string; handshake?: HandshakeRefusal | undefined },
): CloseInfo {
  return defined({
    code: facts.code,
    reason,
    wasClean,
    name: facts.explanation.name,
    explanation: facts.explanation.description,
    incident: facts.incident,
    retry: facts.retry,
    class: facts.registryClass,
    willReconnect: outcome.willReconnect,
    delayMs: outcome.delayMs,
    diagnosis: outcome.diagnosis,
    handshake: outcome.handshake,
  });
}
