/**
 * Client message ids in Redis: a hash per claim, and a sorted set per scope that keeps its window (see
 * CLAIM_LUA).
 * @packageDocumentation
 */
import { outcomeFields, outcomeFrom } from '../records.js';
import { answerRecordedClaim } from '../rules.js';
import type { ClaimOptions, ClaimResult, MessageOutcome } from '../types.js';
import type { RedisContext } from './context.js';
import { pxFor } from './keys.js';

/** The outcome of a claim's stored fields (`''` stands for none). */
export function outcomeOfFields(state: string, incident: string, result: string): MessageOutcome {
  return outcomeFrom(state, incident, result === '' ? undefined : result);
}

/** What a claim write is for (see CLAIM_LUA), and the operation it is reported as. */
const OPERATION = { claim: 'claimMessage', finish: 'finishMessage', pub: 'append', published: 'append' } as const;

/** Write a claim record, as `mode` says: see CLAIM_LUA. */
async function writeClaim(
  { connection, keys: k, options: o }: RedisContext,
  mode: keyof typeof OPERATION,
  scope: string,
  messageId: number,
  outcome: MessageOutcome,
  lifeMs: number,
  fingerprint: string,
  now: number,
  channelJson = '',
  legacyFingerprint = '',
): Promise<string[]> {
  const { state, incident, result } = outcomeFields(outcome);
  return (await connection.exec(OPERATION[mode], () =>
    connection.script('lifelineClaim')(
      k.claim(scope, messageId),
      k.claims(scope),
      mode,
      String(now),
      lifeMs === Infinity ? '' : String(now + lifeMs),
      pxFor(lifeMs),
      String(messageId),
      state,
      incident ?? '',
      result ?? '',
      fingerprint,
      String(o.maxClaimsPerScope),
      k.claimHead(scope),
      pxFor(o.dedupeTtlMs),
      channelJson,
      legacyFingerprint,
    ),
  )) as string[];
}

/**
 * Reserve a client message id for a publish on a channel (the first step of an append with a `claim`):
 * `['go']` when the append may proceed, `['forgotten']` below the scope's window, or the recorded
 * `[state, incident, result, fingerprint]` that answers it.
 */
export function reservePublish(ctx: RedisContext, scope: string, messageId: number, fingerprint: string, channelJson: string, now: number, legacyFingerprint?: string): Promise<string[]> {
  return writeClaim(ctx, 'pub', scope, messageId, { state: 'claimed' }, ctx.options.dedupeTtlMs, fingerprint, now, channelJson, legacyFingerprint);
}

/** Record a publish's outcome under its id (the last step of an append with a `claim`). */
export async function recordPublished(
  ctx: RedisContext,
  scope: string,
  messageId: number,
  fingerprint: string,
  channelJson: string,
  result: { channel: string; epoch: string; offset: number; time: number },
  now: number,
): Promise<void> {
  await writeClaim(ctx, 'published', scope, messageId, { state: 'done', result }, ctx.options.dedupeTtlMs, fingerprint, now, channelJson);
}

/** `claimMessage`. */
export async function claimMessage(ctx: RedisContext, scope: string, messageId: number, options: ClaimOptions | undefined, now: number): Promise<ClaimResult> {
  const lease = options?.leaseMs ?? ctx.options.dedupeTtlMs;
  const found = await writeClaim(ctx, 'claim', scope, messageId, { state: 'claimed' }, lease, options?.fingerprint ?? '', now);
  if (found.length === 0) return { claimed: true };
  if (found[0] === 'forgotten') return { claimed: false, forgotten: true };
  const [state, incident, result, fp] = found as [string, string, string, string];
  return answerRecordedClaim(outcomeOfFields(state, incident, result), fp === '' ? undefined : fp, options?.fingerprint, options?.legacyFingerprint);
}

/** `finishMessage`: the script keeps the claim's fingerprint. */
export async function finishMessage(ctx: RedisContext, scope: string, messageId: number, outcome: MessageOutcome, now: number): Promise<void> {
  await writeClaim(ctx, 'finish', scope, messageId, outcome, ctx.options.dedupeTtlMs, '', now);
}
