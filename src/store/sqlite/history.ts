/**
 * Channel history in SQLite: appends (with their idempotency keys and claims, and the trimming they
 * cause, in one transaction), reads from a snapshot, and heads.
 * @packageDocumentation
 */
import { IdempotencyWindowError, StoreOutcomeUnknownError } from '../errors.js';
import { decodeData } from '../records.js';
import { ageCutoff, duplicateOfClaim, duplicateOfKey, isExpired, planRead, randomEpoch } from '../rules.js';
import type { AppendOptions, AppendResult, ChannelPosition, JsonValue, ReadResult, StoredMessage } from '../types.js';
import { claimedRow, outcomeOfRow, recordClaim } from './claims.js';
import type { SqliteContext } from './open.js';
import type { KeyRow } from './statements.js';

/** A channel's epoch and newest offset; the empty epoch and 0 when it was never written. */
export function headOf({ sql, emptyEpoch }: SqliteContext, channel: string): ChannelPosition {
  const row = sql.selectChannel.get(channel);
  return row ? { epoch: row.epoch, offset: row.last } : { epoch: emptyEpoch, offset: 0 };
}

/** Drop the channel's messages beyond `maxCount` and older than `maxAgeMs`. */
function trim({ sql, options }: SqliteContext, channel: string, last: number, now: number): void {
  const { maxCount, maxAgeMs } = options;
  if (maxCount !== Infinity && last > maxCount) sql.trimByCount.run(channel, last - maxCount);
  if (maxAgeMs !== Infinity) sql.trimByAge.run(channel, ageCutoff(now, maxAgeMs));
}

/** Keep an idempotency key, forgetting its scope's oldest beyond `maxKeysPerScope`. */
function rememberKey({ sql, options }: SqliteContext, key: string, row: Omit<KeyRow, 'scope'>, scope: string | undefined): void {
  const previous = sql.selectKey.get(key);
  if (previous) {
    sql.deleteKey.run(key);
    if (previous.scope !== null) sql.countKey.run(previous.scope, -1);
  }
  sql.insertKey.run(key, row.channel, row.epoch, row.seq, row.time, row.data, row.expiresAt, scope ?? null);
  if (scope === undefined) return;
  sql.countKey.run(scope, 1);
  while ((sql.keyCount.get(scope) ?? 0) > options.maxKeysPerScope) {
    const oldest = sql.oldestKeyOf.get(scope);
    if (oldest === undefined) break;
    sql.deleteKey.run(oldest);
    sql.countKey.run(scope, -1);
  }
}

/**
 * `append` as one write transaction, taken up front (`BEGIN IMMEDIATE`) so several processes may share the
 * file. An append that fails at its commit yet is in the file rejects with {@link StoreOutcomeUnknownError}
 * (see `commitFailure`); its row in the fan-out feed reaches this process's subscribers like another
 * process's append, since it was never marked as this store object's own.
 */
export function appendTransaction(ctx: SqliteContext): (channel: string, data: JsonValue, json: string, options: AppendOptions | undefined, now: number) => AppendResult {
  const { sql } = ctx;
  /** The append the transaction's body made, set once the body ran: a failure after it is the COMMIT's. */
  let made: { epoch: string; offset: number } | undefined;
  const tx = ctx.db.transaction((channel: string, data: JsonValue, json: string, options: AppendOptions | undefined, now: number): AppendResult => {
    const key = options?.idempotencyKey;
    if (key !== undefined) {
      const found = sql.selectKey.get(key);
      if (found && !isExpired(found.expiresAt, now)) {
        return duplicateOfKey(key, { channel: found.channel, epoch: found.epoch, offset: found.seq, time: found.time, json: found.data }, channel, json);
      }
    }
    const claim = options?.claim;
    if (claim !== undefined) {
      const found = claimedRow(ctx, claim.scope, claim.id, now);
      if (found === 'forgotten') throw new IdempotencyWindowError();
      if (found !== undefined) return duplicateOfClaim(outcomeOfRow(found), found.fingerprint ?? undefined, claim.fingerprint, data, claim.legacyFingerprint);
    }
    let row = sql.selectChannel.get(channel);
    if (!row) {
      row = { epoch: randomEpoch(), last: 0, lastTime: null };
      sql.insertChannel.run(channel, row.epoch);
    }
    const offset = row.last + 1;
    const time = row.lastTime === null ? now : Math.max(now, row.lastTime);
    sql.insertMessage.run(channel, offset, time, json);
    sql.advanceChannel.run(offset, time, channel);
    // In the same transaction: whatever a client can see of this append, the fence covers (`fence.ts`).
    ctx.fenceUpdate?.run(channel, row.epoch, offset);
    const expiresAt = now + ctx.options.dedupeTtlMs;
    if (key !== undefined) rememberKey(ctx, key, { channel, epoch: row.epoch, seq: offset, time, data: json, expiresAt }, options?.idempotencyScope);
    if (claim !== undefined) {
      recordClaim(ctx, claim.scope, claim.id, { state: 'done', result: { channel, epoch: row.epoch, offset, time } }, claim.fingerprint, expiresAt);
    }
    trim(ctx, channel, offset, now);
    made = { epoch: row.epoch, offset };
    return { message: { channel, epoch: row.epoch, offset, data: decodeData(json), time }, duplicate: false };
  });
  return (channel, data, json, options, now) => {
    made = undefined;
    try {
      return tx.immediate(channel, data, json, options, now);
    } catch (error) {
      if (made === undefined) throw error;
      throw commitFailure(ctx, channel, made, error);
    }
  };
}

/**
 * The answer to an append whose COMMIT failed. With the fence attached a commit spans two files, and in WAL
 * mode SQLite commits each on its own, the main file first: a full disk under the fence can fail the commit
 * after the main file took the append. So look before answering: an append the file shows is
 * {@link StoreOutcomeUnknownError} (resend it with its key to learn its offset), never "not stored"; one it
 * does not show was not stored, and the engine's error says so.
 */
function commitFailure(ctx: SqliteContext, channel: string, made: { epoch: string; offset: number }, error: unknown): unknown {
  let row: { epoch: string; last: number } | undefined;
  try {
    row = ctx.sql.selectChannel.get(channel);
  } catch (lookError) {
    return new StoreOutcomeUnknownError(`sqlite store: an append's commit failed (${(error as Error)?.message}) and the file could not be read to learn whether it took it (${(lookError as Error)?.message}); resend it with its idempotency key`, { cause: error });
  }
  if (row === undefined || row.epoch !== made.epoch || row.last < made.offset) return error;
  return new StoreOutcomeUnknownError(
    `sqlite store: the append is in the database but its commit failed after it (${(error as Error)?.message}: the fence file, most likely on a full disk); resend it with its idempotency key to learn its offset`,
    { cause: error },
  );
}

/** `read` from a position as one read transaction. */
export function readTransaction(ctx: SqliteContext): (channel: string, from: ChannelPosition, limit: number, maxBytes: number, now: number) => ReadResult {
  const { sql, emptyEpoch, options } = ctx;
  // Deferred: a read-only snapshot, so the head and the messages agree even with another writer.
  const tx = ctx.db.transaction((channel: string, from: ChannelPosition, limit: number, maxBytes: number, now: number): ReadResult => {
    const row = sql.selectChannel.get(channel);
    const head: ChannelPosition = row ? { epoch: row.epoch, offset: row.last } : { epoch: emptyEpoch, offset: 0 };
    const first = row ? (sql.firstRetained.get(channel, ageCutoff(now, options.maxAgeMs)) ?? row.last + 1) : 1;
    const plan = planRead(head, first, from, emptyEpoch);
    const messages: StoredMessage[] = [];
    let more = false;
    if (row) {
      let bytes = 0;
      // Iterated, not fetched whole: a page stops at its byte bound without reading past it.
      for (const r of sql.selectMessages.iterate(channel, Math.max(plan.after, first - 1), limit + 1)) {
        if (messages.length >= limit || bytes >= maxBytes) {
          more = true;
          break;
        }
        bytes += r.data.length;
        messages.push({ channel, epoch: row.epoch, offset: r.seq, data: decodeData(r.data), time: r.time });
      }
    }
    return { messages, complete: plan.complete, more, head };
  });
  return (channel, from, limit, maxBytes, now) => tx.deferred(channel, from, limit, maxBytes, now);
}
