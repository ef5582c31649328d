/**
 * The stats feed: once a second, the server's counters and recent incidents are published on
 * `$lifeline.stats`, so dashboards follow them over an ordinary `lifeline.v1` subscription — and a
 * dashboard that reconnects (a restart, a network blip) resumes and gets the snapshots it missed.
 * @packageDocumentation
 */
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Json } from '../../protocol/index.js';
import type { LifelineServer } from '../../server/index.js';
import { STATS_CHANNEL, type SnapshotIncident, type SnapshotStats, type StatsSnapshot } from '../snapshot.js';

/** Incidents carried by each snapshot (the newest). */
export const SNAPSHOT_INCIDENTS = 20;

/** Take one snapshot of `server`. */
export function takeSnapshot(server: LifelineServer, source: string, startedAt: number): StatsSnapshot {
  const s = server.stats();
  const stats: SnapshotStats = {
    open: s.open,
    opened: s.opened,
    closesByCode: Object.fromEntries(Object.entries(s.closesByCode)),
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
  return { v: 1, source, startedAt, at: Date.now(), state: server.state, stats, incidents, retryHint: { minMs: retryHint.minMs, maxMs: retryHint.maxMs }, drainWindowMs };
}

/** Options of {@link startFeed}. */
export interface FeedOptions {
  /** Between snapshots, ms. @default 1000 */
  readonly intervalMs?: number;
  /** Called before each snapshot (the hooks re-check themselves here). */
  readonly beforeTick?: () => void;
}

/**
 * Publish snapshots until the server drains (one last snapshot shows the drain) or `stop()` is called.
 * A failed publish (store unavailable) is logged once per failure streak and retried on the next tick.
 */
export function startFeed(server: LifelineServer, logger: Logger, options: FeedOptions = {}): () => void {
  const source = `${hostname()}:${process.pid}`;
  const startedAt = Date.now();
  let failing = false;
  let stopped = false;
  const publish = (): void => {
    options.beforeTick?.();
    if (server.store.available === false) return;
    server.publish(STATS_CHANNEL, takeSnapshot(server, source, startedAt) as unknown as Json).then(
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
  const timer = setInterval(publish, options.intervalMs ?? 1000);
  timer.unref();
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    offState();
  };
  const offState = server.on('state', (state) => {
    if (state === 'draining') {
      // The store closes after the drain; publishing into it then would only fail.
      publish();
      stop();
    } else if (state === 'stopped') stop();
  });
  publish();
  return stop;
}
