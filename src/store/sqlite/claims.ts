/**
 * Client message ids in SQLite: a row per claim in `message_claims`, and each scope's window (its
 * highest id) in `claim_scopes`, kept by a range delete on the primary key.
 * @packageDocumentation
 */
import { outcomeFields, outcomeFrom } from '../records.js';
import { answerRecordedClaim, belowWindow, isExpired } from '../rules.js';
import type { ClaimOptions, ClaimResult, MessageOutcome } from '../types.js';
import type { SqliteContext } from './open.js';
import type { ClaimRow } from './statements.js';

/** The outcome a claim row records. */
export function outcomeOfRow(row: ClaimRow): MessageOutcome {
  return outcomeFrom(row.state, row.incident ?? undefined, row.result ?? undefined);
}

/** A live claim row of `(scope, id)`, `'forgotten'` below the scope's window, else undefined. */
export function claimedRow({ sql, options }: SqliteContext, scope: string, id: number, now: number): ClaimRow | 'forgotten' | undefined {
  const maxId = sql.claimWindow.get(scope);
  if (maxId !== undefined && belowWindow(id, maxId, options.maxClaimsPerScope)) return 'forgotten';
  const row = sql.selectClaim.get(scope, id);
  return row && !isExpired(row.expiresAt, now) ? row : undefined;
}

/** Write a claim row and keep the scope to its window (a range delete on the primary key). */
export function recordClaim({ sql, options }: SqliteContext, scope: string, id: number, outcome: MessageOutcome, fingerprint: string | null, expiresAt: number): void {
  const { state, incident, result } = outcomeFields(outcome);
  sql.upsertClaim.run(scope, id, state, incident ?? null, result ?? null, fingerprint, expiresAt);
  sql.raiseWindow.run(scope, id);
  const maxId = sql.claimWindow.get(scope)!;
  sql.dropBelowWindow.run(scope, maxId - options.maxClaimsPerScope);
}

/** `claimMessage` as one write transaction. */
export function claimTransaction(ctx: SqliteContext): (scope: string, messageId: number, options: ClaimOptions | undefined, now: number) => ClaimResult {
  const tx = ctx.db.transaction((scope: string, messageId: number, options: ClaimOptions | undefined, now: number): ClaimResult => {
    const found = claimedRow(ctx, scope, messageId, now);
    if (found === 'forgotten') return { claimed: false, forgotten: true };
    if (found !== undefined) return answerRecordedClaim(outcomeOfRow(found), found.fingerprint ?? undefined, options?.fingerprint, options?.legacyFingerprint);
    const lease = options?.leaseMs ?? ctx.options.dedupeTtlMs;
    recordClaim(ctx, scope, messageId, { state: 'claimed' }, options?.fingerprint ?? null, now + lease);
    return { claimed: true };
  });
  return (scope, messageId, options, now) => tx.immediate(scope, messageId, options, now);
}

/** `finishMessage` as one write transaction: the claim's fingerprint is kept. */
export function finishTransaction(ctx: SqliteContext): (scope: string, messageId: number, outcome: MessageOutcome, now: number) => void {
  const tx = ctx.db.transaction((scope: string, messageId: number, outcome: MessageOutcome, now: number): void => {
    const previous = ctx.sql.selectClaim.get(scope, messageId);
    recordClaim(ctx, scope, messageId, outcome, previous?.fingerprint ?? null, now + ctx.options.dedupeTtlMs);
  });
  return (scope, messageId, outcome, now) => tx.immediate(scope, messageId, outcome, now);
}
