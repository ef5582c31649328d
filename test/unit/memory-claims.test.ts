/**
 * The memory store's claim window against a model of its rules, under many random sequences of claims,
 * outcomes, sweeps and time. The store keeps bookkeeping of its own to skip work on the hot path (a
 * message's start and end rewrite its record in place; the window is walked only when it may drop
 * something): every answer and every count must still be the model's. The conformance suite pins the
 * rules on examples; this looks for the sequences nobody thought of.
 */
import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../../src/store/memory.js';
import type { ClaimResult, MessageOutcome } from '../../src/store/types.js';

interface ModelRecord {
  outcome: MessageOutcome;
  fingerprint: string | undefined;
  expiresAt: number;
}

/**
 * The rules, written plainly: records per scope in the order they were written (a write moves a record
 * last), a window of the highest `max` ids, the oldest records dropped first while the oldest is below
 * the window or the scope holds more than `max`.
 */
class ClaimModel {
  readonly #scopes = new Map<string, { records: Map<number, ModelRecord>; maxId: number }>();
  constructor(
    private readonly max: number,
    private readonly ttl: number,
  ) {}

  claim(scope: string, id: number, now: number, leaseMs: number | undefined, fingerprint: string | undefined): ClaimResult {
    const claims = this.#scopes.get(scope);
    if (claims && id <= claims.maxId - this.max) return { claimed: false, forgotten: true };
    const found = claims?.records.get(id);
    if (found && now < found.expiresAt) {
      const conflict = fingerprint !== undefined && found.fingerprint !== undefined && found.fingerprint !== fingerprint;
      return conflict ? { claimed: false, outcome: found.outcome, conflict: true } : { claimed: false, outcome: found.outcome };
    }
    this.#write(scope, id, { state: 'claimed' }, fingerprint, now + (leaseMs ?? this.ttl));
    return { claimed: true };
  }

  finish(scope: string, id: number, outcome: MessageOutcome, now: number): void {
    this.#write(scope, id, outcome, this.#scopes.get(scope)?.records.get(id)?.fingerprint, now + this.ttl);
  }

  sweep(now: number): void {
    for (const [scope, claims] of this.#scopes) {
      for (const [id, record] of claims.records) if (now >= record.expiresAt) claims.records.delete(id);
      if (claims.records.size === 0) this.#scopes.delete(scope);
    }
  }

  count(): number {
    let n = 0;
    for (const claims of this.#scopes.values()) n += claims.records.size;
    return n;
  }

  #write(scope: string, id: number, outcome: MessageOutcome, fingerprint: string | undefined, expiresAt: number): void {
    let claims = this.#scopes.get(scope);
    if (!claims) this.#scopes.set(scope, (claims = { records: new Map(), maxId: -Infinity }));
    claims.records.delete(id);
    claims.records.set(id, { outcome: structuredClone(outcome), fingerprint, expiresAt });
    claims.maxId = Math.max(claims.maxId, id);
    for (const [oldId] of claims.records) {
      if (oldId > claims.maxId - this.max && claims.records.size <= this.max) break;
      claims.records.delete(oldId);
    }
  }
}

/** A small deterministic generator (the sequences are the same on every run). */
function random(seed: number): (n: number) => number {
  let state = seed;
  return (n) => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state % n;
  };
}

const OUTCOMES: MessageOutcome[] = [{ state: 'running' }, { state: 'done' }, { state: 'done', result: { answer: 42 } }, { state: 'failed', incident: 'inc_1' }];

describe('memory store claims', () => {
  it('answer and count as the model does, whatever the order of claims, outcomes, sweeps and time', async () => {
    const next = random(7);
    for (let run = 0; run < 150; run++) {
      let now = 1_000_000;
      const max = 1 + next(12);
      const ttl = 1000 + next(4000);
      const store = createMemoryStore({ maxClaimsPerScope: max, dedupeTtlMs: ttl, now: () => now });
      const model = new ClaimModel(max, ttl);
      let top = 1;
      for (let step = 0; step < 300; step++) {
        const scope = `s${next(2)}`;
        // Mostly increasing ids, as clients send them; now and then an old or a future one.
        const id = next(4) === 0 ? 1 + next(top + 4) : top++;
        const op = next(10);
        const where = `run ${run}, step ${step}`;
        if (op < 4) {
          const leaseMs = next(3) === 0 ? 200 : undefined;
          const fingerprint = next(6) === 0 ? undefined : `f${id % 3}`;
          expect(await store.claimMessage(scope, id, { leaseMs, fingerprint }), where).toEqual(model.claim(scope, id, now, leaseMs, fingerprint));
        } else if (op < 8) {
          const outcome = OUTCOMES[next(OUTCOMES.length)]!;
          await store.finishMessage(scope, id, outcome);
          model.finish(scope, id, outcome, now);
        } else if (op < 9) {
          now += next(1500);
        } else {
          await store.sweep();
          model.sweep(now);
        }
        expect((await store.stats()).claims, where).toBe(model.count());
      }
    }
  });
});
