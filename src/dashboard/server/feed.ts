/**
 * The stats feed: once a second, the server's counters, recent incidents, this process's vitals and the
 * latest drain are published on `$lifeline.stats`, so dashboards follow them over an ordinary
 * `lifeline.v1` subscription — and a dashboard that reconnects (a restart, a network blip) resumes and
 * gets the snapshots it missed. While a drain runs, snapshots go out four times a second, so the restart
 * view shows it moving.
 * @packageDocumentation
 */
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Json } from '../../protocol/index.js';
import type { LifelineServer } from '../../server/index.js';
import { STATS_CHANNEL, type DrainProgress, type NodeInfo, type SnapshotIncident, type SnapshotStats, type StatsSnapshot } from '../snapshot.js';
import type { DashboardCounts } from './hooks.js';

/** Incidents carried by each snapshot (the newest). */
export const SNAPSHOT_INCIDENTS = 20;

/** Between snapshots while a drain runs (and for a moment after), ms. */
export const DRAIN_INTERVAL_MS = 250;

/** `host:pid`: names this process in snapshots and logged incidents. */
export function sourceName(): string {
  return `${hostname()}:${process.pid}`;
}

/** What a snapshot is made of besides the server's own counters. */
export interface SnapshotParts {
  readonly source: string;
  readonly startedAt: number;
  /** The dashboards' own connections, left out of the counts. */
  readonly dashboards?: DashboardCounts;
  readonly node?: NodeInfo;
  readonly drain?: DrainProgress;
}

function withoutDashboards(closes: Readonly<Record<number, number>>, dashboards: DashboardCounts | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [code, n] of Object.entries(closes)) {
    const left = n - (dashboards?.closesByCode.get(Number(code)) ?? 0);
    if (left > 0) out[code] = left;
  }
  return out;
}

/** Take one snapshot of `server`. */
export function takeSnapshot(server: LifelineServer, parts: SnapshotParts): StatsSnapshot {
  const s = server.stats();
  const d = parts.dashboards;
  const stats: SnapshotStats = {
    open: Math.max(0, s.open - (d?.open ?? 0)),
    opened: Math.max(0, s.opened - (d?.opened ?? 0)),
    closesByCode: withoutDashboards(s.closesByCode, d),
    dashboards: d?.open ?? 0,
    incidents: s.incidents,
    drains: s.drains,
    messagesIn: s.messagesIn,
    messagesOut: s.messagesOut,
    refusedUpgrades: s.refusedUpgrades,
    deadPeers: s.deadPeers,
    slowConsumers: s.slowConsumers,
    published: s.published,
    replayed: s.replayed,
    sessions: { ...s.sessions },
  };
  const incidents: SnapshotIncident[] = server
    .recentIncidents()
    .slice(-SNAPSHOT_INCIDENTS)
    .map(({ id, at, connection, handler, summary }) => ({ id, at, connection, handler, summary }));
  const { retryHint, drainWindowMs } = server.settings;
  return {
    v: 1,
    source: parts.source,
    startedAt: parts.startedAt,
    at: Date.now(),
    state: server.state,
    stats,
    incidents,
    retryHint: { minMs: retryHint.minMs, maxMs: retryHint.maxMs },
    drainWindowMs,
    ...(parts.node ? { node: parts.node } : {}),
    ...(parts.drain ? { drain: parts.drain } : {}),
  };
}

/** Options of {@link startFeed}. */
export interface FeedOptions {
  /** `host:pid` of this process. @default {@link sourceName} */
  readonly source?: string;
  /** Between snapshots, ms. @default 1000 */
  readonly intervalMs?: number;
  /** The parts that change from one snapshot to the next (dashboard counts, vitals, the drain). */
  readonly parts?: () => Omit<SnapshotParts, 'source' | 'startedAt'>;
  /** Whether a drain is under way (or just ended): snapshots go out every {@link DRAIN_INTERVAL_MS}. */
  readonly draining?: () => boolean;
}

/**
 * Publish snapshots until the server has stopped and its store is closed, or `stop()` is called.
 * A failed publish (store unavailable) is logged once per failure streak and retried on the next tick.
 */
export function startFeed(server: LifelineServer, logger: Logger, options: FeedOptions = {}): () => void {
  const source = options.source ?? sourceName();
  const startedAt = Date.now();
  const intervalMs = options.intervalMs ?? 1000;
  let failing = false;
  let stopped = false;
  let last = 0;
  const publish = (): void => {
    last = Date.now();
    if (server.store.available === false) return;
    const snapshot = takeSnapshot(server, { source, startedAt, ...options.parts?.() });
    server.publish(STATS_CHANNEL, snapshot as unknown as Json).then(
      () => {
        if (failing) logger.info({ channel: STATS_CHANNEL }, 'dashboard stats feed publishing again');
        failing = false;
      },
      (error: unknown) => {
        if (!failing && !stopped) logger.warn({ channel: STATS_CHANNEL, err: error }, 'dashboard stats feed: publish failed; retrying each second');
        failing = true;
      },
    );
  };
  // One timer at the fast rate; it publishes at the slow one unless a drain is running.
  const tick = Math.min(intervalMs, DRAIN_INTERVAL_MS);
  const timer = setInterval(() => {
    const due = options.draining?.() === true ? DRAIN_INTERVAL_MS : intervalMs;
    if (Date.now() - last >= due - tick / 2) publish();
  }, tick);
  timer.unref();
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    offState();
    offDrainEnd();
  };
  // Through a drain too, at the drain's pace, and once more as it ends: a shutdown whose clients go to a
  // successor (a zero-dark restart) is the restart the dashboards follow. Once the store can no longer
  // take the snapshots (`available` false: closed) the ticks skip them; a store that cannot say so is
  // not written after the server stopped.
  const offState = server.on('state', (state) => {
    if (state === 'draining') publish();
    else if (state === 'stopped' && server.store.available === undefined) stop();
  });
  const offDrainEnd = server.on('drain-end', () => publish());
  publish();
  return stop;
}
