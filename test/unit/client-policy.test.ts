import { describe, expect, it, vi } from 'vitest';
import { explainCode } from '../../src/codes/index.js';
import { PolicyError } from '../../src/client/index.js';
import type { ActionClass } from '../../src/client/index.js';
import { analyzeClose, decide } from '../../src/client/policy.js';
import type { Decision, PolicyConfig } from '../../src/client/policy.js';

/** A scripted random source: returns the values in order, cycling. */
function script(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length]!;
}

/** A deterministic uniform source (LCG), for distribution checks. */
function lcg(seed = 42): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const JUST_BELOW_ONE = 1 - 1e-12;

function reconnect(d: Decision): { delayMs: number; reason: string } {
  if (d.action !== 'reconnect') throw new Error(`expected reconnect, got stop: ${d.diagnosis}`);
  return d;
}

function stop(d: Decision): string {
  if (d.action !== 'stop') throw new Error(`expected stop, got reconnect after ${d.delayMs} ms`);
  return d.diagnosis;
}

const at = (code: number, reason = '', attempt = 1) => ({ code, reason, attempt });

describe('client policy: reconnect-soon (1001, 1012)', () => {
  it.each([1012, 1001])('%i waits a uniform delay in [1000, 5000] ms', (code) => {
    expect(reconnect(decide(at(code), { random: script(0) }))).toEqual({ action: 'reconnect', delayMs: 1000, reason: 'soon' });
    expect(reconnect(decide(at(code), { random: script(0.5) })).delayMs).toBe(3000);
    const top = reconnect(decide(at(code), { random: script(JUST_BELOW_ONE) })).delayMs;
    expect(top).toBeGreaterThanOrEqual(1000);
    expect(top).toBeLessThanOrEqual(5000);
    // Independent of the attempt number: a restart is not a failure to back off from.
    expect(reconnect(decide(at(code, '', 9), { random: script(0.5) })).delayMs).toBe(3000);
  });

  it('draws a fresh delay per decision (no jitter computed once)', () => {
    const random = script(0.1, 0.9);
    const a = reconnect(decide(at(1012), { random })).delayMs;
    const b = reconnect(decide(at(1012), { random })).delayMs;
    expect(a).toBe(1400);
    expect(b).toBe(4600);
  });

  it('honours the soon option', () => {
    expect(reconnect(decide(at(1012), { random: script(0.5), soon: { minMs: 0, maxMs: 100 } })).delayMs).toBe(50);
  });

  it('honours a retry= hint: uniform inside the window', () => {
    const reason = 'service restart; retry=2000-4000ms';
    expect(reconnect(decide(at(1012, reason), { random: script(0) }))).toEqual({ action: 'reconnect', delayMs: 2000, reason: 'hint' });
    expect(reconnect(decide(at(1012, reason), { random: script(0.5) })).delayMs).toBe(3000);
    expect(reconnect(decide(at(1012, reason), { random: script(JUST_BELOW_ONE) })).delayMs).toBeLessThan(4000);
    expect(reconnect(decide(at(1001, 'bye; retry=2500ms'), { random: script(0.7) })).delayMs).toBe(2500);
    expect(reconnect(decide(at(1012, 'x; retry=3-5s'), { random: script(0.5) })).delayMs).toBe(4000);
  });

  it('clamps a hint into the client hintLimits', () => {
    // A server asking for up to 10 minutes gets at most the default 60 s.
    expect(reconnect(decide(at(1012, 'x; retry=0-600000ms'), { random: script(0.5) })).delayMs).toBe(30_000);
    expect(reconnect(decide(at(1012, 'x; retry=120000-600000ms'), { random: script(0.5) })).delayMs).toBe(60_000);
    // A server asking for an immediate stampede gets at least the client's floor.
    const limits = { minMs: 1000, maxMs: 10_000 };
    expect(reconnect(decide(at(1012, 'x; retry=0-100ms'), { random: script(0.5), hintLimits: limits })).delayMs).toBe(1000);
    expect(reconnect(decide(at(1012, 'x; retry=0-4000ms'), { random: script(0.5), hintLimits: limits })).delayMs).toBe(2500);
  });
});

describe('client policy: backoff (1006, 1011, 1013, 1014, unexpected codes)', () => {
  it.each([1006, 1011, 1013, 1014])('%i: full jitter bounded by min(cap, base * 2^(n-1))', (code) => {
    for (let n = 1; n <= 12; n++) {
      const ceiling = Math.min(30_000, 500 * 2 ** (n - 1));
      expect(reconnect(decide(at(code, '', n), { random: script(0) }))).toEqual({ action: 'reconnect', delayMs: 0, reason: 'backoff' });
      const top = reconnect(decide(at(code, '', n), { random: script(JUST_BELOW_ONE) })).delayMs;
      expect(top).toBeLessThan(ceiling);
      expect(top).toBeGreaterThan(ceiling * 0.999);
    }
  });

  it('applies the cap before the jitter: at high attempts delays are uniform over [0, cap), not pinned at the cap', () => {
    const random = lcg(7);
    const delays = Array.from({ length: 2000 }, () => reconnect(decide(at(1011, '', 40), { random })).delayMs);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...delays)).toBeLessThan(30_000);
    const buckets = new Array<number>(10).fill(0);
    for (const d of delays) buckets[Math.floor(d / 3000)]!++;
    // Every tenth of [0, 30 s) gets roughly its share (200 expected each).
    for (const count of buckets) expect(count).toBeGreaterThan(120);
    const mean = delays.reduce((a, b) => a + b, 0) / delays.length;
    expect(mean).toBeGreaterThan(13_500);
    expect(mean).toBeLessThan(16_500);
    expect(delays.filter((d) => d > 29_900).length).toBeLessThan(40);
  });

  it('honours the backoff option', () => {
    const backoff = { baseMs: 100, factor: 3, capMs: 1000 };
    expect(reconnect(decide(at(1011, '', 3), { random: script(0.5), backoff })).delayMs).toBe(450);
    expect(reconnect(decide(at(1011, '', 9), { random: script(0.5), backoff })).delayMs).toBe(500);
  });

  it('1013 with a retry hint honours the hint, clamped', () => {
    expect(reconnect(decide(at(1013, 'busy; retry=10000-20000ms', 1), { random: script(0.5) }))).toEqual({
      action: 'reconnect',
      delayMs: 15_000,
      reason: 'hint',
    });
    expect(reconnect(decide(at(1013, 'busy; retry=100000-200000ms', 1), { random: script(0) })).delayMs).toBe(60_000);
    expect(reconnect(decide(at(1013, 'busy', 3), { random: script(0.5) }))).toEqual({ action: 'reconnect', delayMs: 1000, reason: 'backoff' });
  });

  it('1011 keeps backing off even with a hint, and its incident id is read', () => {
    const reason = 'internal error; incident=inc_3f9a2c71d0e4; retry=0ms';
    expect(reconnect(decide(at(1011, reason, 4), { random: script(0.5) }))).toEqual({ action: 'reconnect', delayMs: 2000, reason: 'backoff' });
    const facts = analyzeClose(1011, reason);
    expect(facts.incident).toBe('inc_3f9a2c71d0e4');
    expect(facts.text).toBe('internal error');
    expect(facts.actionClass).toBe('backoff');
  });

  it.each([0, 999, 1016, 2500, 2999, 5000, 70_000, 1011.5, Number.NaN, -1])(
    'an unexpected code %s from a weird peer is treated like 1006',
    (code) => {
      const facts = analyzeClose(code, '');
      expect(facts.unexpected).toBe(true);
      expect(facts.registryClass).toBe('backoff');
      expect(typeof facts.explanation.name).toBe('string');
      expect(reconnect(decide(at(code, '', 2), { random: script(0.5) }))).toEqual({ action: 'reconnect', delayMs: 500, reason: 'backoff' });
    },
  );

  it('explains a code the registry rejects with 1006 texts', () => {
    expect(analyzeClose(70_000, '').explanation.code).toBe(1006);
  });
});

describe('client policy: stop', () => {
  it.each([1000, 1002, 1003, 1004, 1005, 1007, 1008, 1009, 1010, 1015])('%i stops with a diagnosis: the name, the code and the server text; the advice with explain: explainCode', (code) => {
    const explanation = explainCode(code, 'en');
    const brief = stop(decide(at(code, 'the server text'), { random: script(0.5) }));
    expect(brief).toBe(`${explanation.name} (${code}): "the server text"`);
    const full = stop(decide(at(code, 'the server text'), { random: script(0.5), explain: explainCode }));
    expect(full).toContain(explanation.name);
    expect(full).toContain(String(code));
    expect(full).toContain('the server text');
    if (explanation.fix) expect(full).toContain(explanation.fix);
  });

  it('writes the diagnosis in the requested language, from the texts it is given', () => {
    const diagnosis = stop(decide(at(1008), { random: script(0.5), lang: 'zh', explain: explainCode }));
    expect(diagnosis).toContain(explainCode(1008, 'zh').name);
  });

  it("lifeline.v1's 4801 and 4802 stop by default, whatever applicationCodes says (the session refreshes on 4802 itself)", () => {
    const applicationCodes = vi.fn((): ActionClass => 'reconnect-soon');
    for (const code of [4801, 4802]) {
      const diagnosis = stop(decide(at(code, 'session continued on another connection'), { random: script(0.5), applicationCodes }));
      expect(diagnosis).toContain(`${explainCode(code).name} (${code})`);
    }
    expect(applicationCodes).not.toHaveBeenCalled();
  });

  it('knows every English name without the texts, and names a code it does not know as 1006', () => {
    for (let code = 0; code <= 4999; code += 1) expect(analyzeClose(code, '').explanation.name).toBe(explainCode(code, 'en').name);
    expect(analyzeClose(70_000, '').explanation.name).toBe('Abnormal Closure');
  });
});

describe('client policy: application codes (3000-4999)', () => {
  it('stops by default', () => {
    expect(decide(at(4000), { random: script(0.5) }).action).toBe('stop');
    expect(decide(at(3500), { random: script(0.5) }).action).toBe('stop');
  });

  it('follows the applicationCodes option', () => {
    const applicationCodes = vi.fn((code: number): ActionClass => (code === 4001 ? 'reconnect-soon' : code === 4002 ? 'backoff' : 'stop'));
    const config: PolicyConfig = { random: script(0.5), applicationCodes };
    expect(reconnect(decide(at(4001), config))).toEqual({ action: 'reconnect', delayMs: 3000, reason: 'soon' });
    expect(reconnect(decide(at(4001, 'x; retry=100ms'), config))).toEqual({ action: 'reconnect', delayMs: 100, reason: 'hint' });
    expect(reconnect(decide(at(4002, '', 2), config))).toEqual({ action: 'reconnect', delayMs: 500, reason: 'backoff' });
    expect(decide(at(4003), config).action).toBe('stop');
    expect(applicationCodes).toHaveBeenCalledWith(4001);
    expect(applicationCodes).not.toHaveBeenCalledWith(1012);
  });

  it('falls back to stop and reports a PolicyError when applicationCodes misbehaves', () => {
    const onError = vi.fn();
    const bad = (() => 'sometimes') as unknown as PolicyConfig['applicationCodes'];
    expect(decide(at(4001), { random: script(0.5), applicationCodes: bad, onError }).action).toBe('stop');
    const throwing = () => {
      throw new Error('boom');
    };
    expect(decide(at(4001), { random: script(0.5), applicationCodes: throwing, onError }).action).toBe('stop');
    expect(onError).toHaveBeenCalledTimes(2);
    expect(onError.mock.calls[0]![0]).toBeInstanceOf(PolicyError);
    expect(onError.mock.calls[1]![0].code).toBe('LIFELINE_ERR_POLICY');
  });
});

describe('client policy: the policy option', () => {
  it('overrides the default with its decision', () => {
    const policy = vi.fn(() => ({ action: 'reconnect' as const, delayMs: 42 }));
    expect(decide(at(1008, 'nope', 3), { random: script(0.5), policy })).toEqual({ action: 'reconnect', delayMs: 42, reason: 'policy' });
    expect(policy).toHaveBeenCalledWith(1008, 'nope', 3);
  });

  it('can stop a reconnect-soon code, with its own diagnosis or one from the registry', () => {
    expect(decide(at(1012), { random: script(0.5), policy: () => ({ action: 'stop', diagnosis: 'maintenance window' }) })).toEqual({
      action: 'stop',
      diagnosis: 'maintenance window',
    });
    const d = stop(decide(at(1012), { random: script(0.5), policy: () => ({ action: 'stop' }) }));
    expect(d).toContain(explainCode(1012).name);
    expect(d).toContain('policy');
  });

  it('falls back to the default on undefined', () => {
    const policy = vi.fn((code: number) => (code === 4000 ? ({ action: 'reconnect', delayMs: 7 } as const) : undefined));
    expect(decide(at(1012), { random: script(0.5), policy })).toEqual({ action: 'reconnect', delayMs: 3000, reason: 'soon' });
    expect(decide(at(1008), { random: script(0.5), policy }).action).toBe('stop');
    expect(decide(at(4000), { random: script(0.5), policy })).toEqual({ action: 'reconnect', delayMs: 7, reason: 'policy' });
  });

  it('falls back to the default and reports when the policy throws or returns garbage', () => {
    const onError = vi.fn();
    const throwing = () => {
      throw new Error('bug');
    };
    expect(decide(at(1012), { random: script(0.5), policy: throwing, onError })).toEqual({ action: 'reconnect', delayMs: 3000, reason: 'soon' });
    for (const garbage of [{ action: 'reconnect', delayMs: -1 }, { action: 'reconnect', delayMs: Number.NaN }, { action: 'wait' }, 5, null]) {
      const policy = (() => garbage) as unknown as PolicyConfig['policy'];
      expect(decide(at(1012), { random: script(0.5), policy, onError }).action).toBe('reconnect');
    }
    expect(onError).toHaveBeenCalledTimes(6);
    for (const [error] of onError.mock.calls) expect(error).toBeInstanceOf(PolicyError);
  });
});
