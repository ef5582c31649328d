/**
 * The SQLite engine's sweep, a bounded step at a time: at most {@link SWEEP_BATCH} expired records of
 * each kind and aged-out messages per step, in one short transaction, whatever the number of channels.
 * @packageDocumentation
 */
import { AUTO_SWEEP_INTERVAL_MS, SWEEP_BATCH } from '../options.js';
import { ageCutoff } from '../rules.js';
import type { SqliteContext } from './open.js';

/** One sweep step as one write transaction. Returns whether more may be left. */
export function sweepStepTransaction(ctx: SqliteContext): (now: number) => boolean {
  const { sql, options } = ctx;
  const tx = ctx.db.transaction((now: number): boolean => {
    let more = false;
    const keys = sql.expireKeys.all(now, SWEEP_BATCH);
    more ||= keys.length === SWEEP_BATCH;
    const scopes = new Map<string, number>();
    for (const { scope } of keys) if (scope !== null) scopes.set(scope, (scopes.get(scope) ?? 0) + 1);
    for (const [scope, n] of scopes) sql.countKey.run(scope, -n);
    if (scopes.size > 0) sql.dropEmptyKeyScopes.run();
    const claims = sql.expireClaims.all(now, SWEEP_BATCH);
    more ||= claims.length === SWEEP_BATCH;
    // A scope with no claims left forgets its window too: none of its ids is remembered anyway.
    for (const session of new Set(claims.map((c) => c.session))) if (sql.claimsLeft.get(session) === undefined) sql.deleteWindowOf.run(session);
    const sessions = sql.expireSessions.all(now, SWEEP_BATCH);
    more ||= sessions.length === SWEEP_BATCH;
    for (const { id } of sessions) sql.deleteSessionChannels.run(id);
    if (options.maxAgeMs !== Infinity) {
      const trimmed = sql.trimAllByAge.run(ageCutoff(now, options.maxAgeMs), SWEEP_BATCH);
      more ||= trimmed.changes === SWEEP_BATCH;
    }
    return more;
  });
  return (now) => tx.immediate(now);
}

/** The `meta` key holding when the last sweep started, by the clock of the process that started it. */
const SWEEP_STARTED = 'sweep_started_at';

/**
 * Claim the sweep for this process, as one write transaction: several processes on one file sweep once
 * per interval between them, not once each. An automatic sweep (`force` false) is skipped when another
 * one started less than {@link AUTO_SWEEP_INTERVAL_MS} ago by the recorded time; a called sweep always
 * runs. A recorded time in the future (a clock stepped back, another process's clock ahead) does not
 * hold sweeps off. Returns whether this process sweeps.
 */
export function claimSweepTransaction(ctx: SqliteContext): (now: number, force: boolean) => boolean {
  const { sql } = ctx;
  const tx = ctx.db.transaction((now: number, force: boolean): boolean => {
    const last = Number(sql.selectMeta.get(SWEEP_STARTED));
    if (!force && Number.isFinite(last) && now >= last && now - last < AUTO_SWEEP_INTERVAL_MS) return false;
    sql.upsertMeta.run(SWEEP_STARTED, String(now));
    return true;
  });
  return (now, force) => tx.immediate(now, force);
}
