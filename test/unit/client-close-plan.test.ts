/**
 * What the client does about one close, as pure functions: how the failure streak moves, and the plan
 * (reconnect after a delay, stop, give up) with the `close` event's payload. The client acting on the
 * plan is covered by client-state.test.ts and the reconnect integration tests.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_HINT_LIMITS } from '../../src/client/backoff.js';
import { countFailure, planClose } from '../../src/client/close-plan.js';
import { analyzeClose } from '../../src/client/policy.js';
import type { PolicyConfig } from '../../src/client/policy.js';

const policy: PolicyConfig = { random: () => 0.5, backoff: { baseMs: 100, factor: 2, capMs: 10_000 } };
const limits = { maxAttempts: Infinity, hintLimits: DEFAULT_HINT_LIMITS };

describe('the failure streak', () => {
  const crash = analyzeClose(1011, '');
  const restart = analyzeClose(1012, '');

  it('grows with each close of a connection that never opened or did not stay up', () => {
    expect(countFailure(0, crash, undefined, 10_000, 5000)).toBe(1);
    expect(countFailure(3, crash, undefined, 10_000, 5000)).toBe(4);
    expect(countFailure(3, crash, 8000, 10_000, 5000)).toBe(4);
  });

  it('starts afresh after a stable connection, or after a planned close of one that opened', () => {
    expect(countFailure(3, crash, 5000, 10_000, 5000)).toBe(1);
    expect(countFailure(3, restart, 9999, 10_000, 5000)).toBe(1);
    expect(countFailure(3, restart, undefined, 10_000, 5000)).toBe(4);
  });
});

describe('the plan after a close', () => {
  it('reconnects after the policy delay, with the explained close', () => {
    const facts = analyzeClose(1011, 'boom; incident=inc_1');
    const plan = planClose(facts, { reason: 'boom; incident=inc_1', wasClean: true }, 2, limits, policy);
    expect(plan).toEqual({
      next: 'reconnect',
      delayMs: 100, // 0.5 * 100 * 2 ** 1
      info: {
        code: 1011,
        reason: 'boom; incident=inc_1',
        wasClean: true,
        name: 'Internal Error',
        explanation: '',
        incident: 'inc_1',
        class: 'backoff',
        willReconnect: true,
        delayMs: 100,
      },
    });
  });

  it("never comes back sooner than a refused handshake's Retry-After, clamped like a server hint", () => {
    const facts = analyzeClose(1006, '');
    const refusal = { status: 503, retryAfterMs: 5000 };
    const plan = planClose(facts, { reason: '', wasClean: false, refusal }, 1, limits, policy);
    expect(plan).toMatchObject({ next: 'reconnect', delayMs: 5000, info: { willReconnect: true, delayMs: 5000, handshake: refusal } });
    const clamped = planClose(facts, { reason: '', wasClean: false, refusal: { status: 503, retryAfterMs: 3_600_000 } }, 1, limits, policy);
    expect(clamped).toMatchObject({ delayMs: 60_000 });
  });

  it('stops with a diagnosis when retrying cannot help, or when told to', () => {
    const refused = planClose(analyzeClose(1008, 'token expired'), { reason: 'token expired', wasClean: true }, 1, limits, policy);
    expect(refused).toMatchObject({ next: 'stop', diagnosis: 'Policy Violation (1008): "token expired"', info: { willReconnect: false } });
    const forced = planClose(analyzeClose(1006, ''), { reason: '', wasClean: false, forcedStop: 'bad URL' }, 1, limits, policy);
    expect(forced).toMatchObject({ next: 'stop', diagnosis: 'bad URL', info: { diagnosis: 'bad URL' } });
  });

  it('gives up once maxAttempts reconnects in a row have failed', () => {
    const facts = analyzeClose(1006, '');
    expect(planClose(facts, { reason: '', wasClean: false }, 3, { ...limits, maxAttempts: 3 }, policy)).toMatchObject({ next: 'reconnect' });
    const plan = planClose(facts, { reason: '', wasClean: false }, 4, { ...limits, maxAttempts: 3 }, policy);
    expect(plan).toMatchObject({ next: 'exhausted', attempts: 3, info: { willReconnect: false } });
    expect(plan.info.diagnosis).toContain('gave up after 3 consecutive reconnect attempts (maxAttempts)');
  });
});
