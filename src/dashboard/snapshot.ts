/**
 * What the dashboard's server side publishes and its page reads: shared names and the shape of one
 * stats snapshot. Pure data and a type guard; no Node APIs, so the browser code imports it too.
 * @packageDocumentation
 */

/** Channels starting with this are the server's own: only admin connections may subscribe, nobody may publish. */
export const RESERVED_PREFIX = '$lifeline.';

/** The channel `server.stats()` snapshots are published on, once a second. */
export const STATS_CHANNEL = '$lifeline.stats';

/** Query parameter the dashboard page adds to its WebSocket URL, so the crash button never picks it. */
export const DASHBOARD_MARK = 'lifeline-dashboard';

/** The channel the `--demo` page subscribes to (and the e2e tests publish to). */
export const DEMO_CHANNEL = 'demo';

/** Path prefix of the dashboard's static files and JSON. */
export const ASSET_PREFIX = '/_lifeline/';

/** Request header every admin POST must carry: a cross-site form cannot set it, so it defeats CSRF. */
export const ADMIN_HEADER = 'x-lifeline-admin';

/** The counters a snapshot carries (a subset of the server's `ServerStats`, JSON-shaped). */
export interface SnapshotStats {
  readonly open: number;
  readonly opened: number;
  /** Closes by code since the process started; JSON turns the keys into strings. */
  readonly closesByCode: Readonly<Record<string, number>>;
  readonly incidents: number;
  readonly drains: number;
  readonly messagesIn: number;
  readonly messagesOut: number;
  readonly refusedUpgrades: number;
  readonly deadPeers: number;
  readonly slowConsumers: number;
  readonly published: number;
  readonly replayed: number;
  readonly sessions: { readonly created: number; readonly resumed: number; readonly notRecovered: number };
}

/** A 1011 incident as operators see it (clients only ever see the id). */
export interface SnapshotIncident {
  readonly id: string;
  /** ms since the epoch */
  readonly at: number;
  readonly connection: string;
  readonly handler: string;
  /** The error's first line. */
  readonly summary: string;
}

/** One snapshot of one server process. */
export interface StatsSnapshot {
  readonly v: 1;
  /** `host:pid`: with several workers or nodes, snapshots from each arrive on the same channel. */
  readonly source: string;
  /** When the process started (ms since the epoch); a new value means its counters restarted from zero. */
  readonly startedAt: number;
  /** When the snapshot was taken (ms since the epoch, server clock). */
  readonly at: number;
  /** `running`, `restarting`, `draining` or `stopped`. */
  readonly state: string;
  readonly stats: SnapshotStats;
  /** The most recent incidents, newest last. */
  readonly incidents: readonly SnapshotIncident[];
  /** The reconnect window 1012 closes carry, ms. */
  readonly retryHint: { readonly minMs: number; readonly maxMs: number };
  /** The window drains spread their closes over, ms. */
  readonly drainWindowMs: number;
}

/** What `GET /_lifeline/info` answers. */
export interface DashboardInfo {
  /** `--demo`: the crash button and the `/demo` page exist. */
  readonly demo: boolean;
  /** `open` (demo without a token) or `token` (the admin token protects it). */
  readonly access: 'open' | 'token';
  readonly statsChannel: string;
  readonly demoChannel: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value) && value >= 0;

/** Whether a channel message is a well-formed snapshot (anything else on the channel is ignored). */
export function isStatsSnapshot(value: unknown): value is StatsSnapshot {
  if (!isRecord(value) || value.v !== 1 || typeof value.source !== 'string' || !isCount(value.at) || !isCount(value.startedAt)) return false;
  const { stats, incidents } = value;
  if (!isRecord(stats) || !isRecord(stats.closesByCode) || !isRecord(stats.sessions) || !Array.isArray(incidents)) return false;
  for (const key of ['open', 'opened', 'incidents', 'drains', 'messagesIn', 'messagesOut'] as const) if (!isCount(stats[key])) return false;
  if (!Object.values(stats.closesByCode).every(isCount)) return false;
  return incidents.every((i) => isRecord(i) && typeof i.id === 'string' && isCount(i.at) && typeof i.connection === 'string' && typeof i.summary === 'string');
}
