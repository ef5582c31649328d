/**
 * What the dashboard's server side publishes and its page reads: shared names and the shape of one
 * stats snapshot. Pure data and a type guard; no Node APIs, so the browser code imports it too.
 * @packageDocumentation
 */

/** Channels starting with this are the server's own: only admin connections may subscribe, nobody may publish. */
export const RESERVED_PREFIX = '$lifeline.';

/** The channel `server.stats()` snapshots are published on, once a second. */
export const STATS_CHANNEL = '$lifeline.stats';

/** Each 1011 incident is also published here (stored, shared across nodes), so operators can search older ones. */
export const INCIDENTS_CHANNEL = '$lifeline.incidents';

/** Query parameter the dashboard page adds to its WebSocket URL, so the crash button never picks it. */
export const DASHBOARD_MARK = 'lifeline-dashboard';

/** The channel the `--demo` page subscribes to (and the e2e tests publish to). */
export const DEMO_CHANNEL = 'demo';

/** Path prefix of the dashboard's static files and JSON. */
export const ASSET_PREFIX = '/_lifeline/';

/** Request header every admin POST must carry: a cross-site form cannot set it, so it defeats CSRF. */
export const ADMIN_HEADER = 'x-lifeline-admin';

/**
 * The counters a snapshot carries (a subset of the server's `ServerStats`, JSON-shaped). `open`, `opened`
 * and `closesByCode` leave out the dashboards' own connections (counted in `dashboards`), so a page
 * watching an idle server reads 0; the message counters are the process's own and include them.
 */
export interface SnapshotStats {
  readonly open: number;
  readonly opened: number;
  /** Closes by code since the process started; JSON turns the keys into strings. */
  readonly closesByCode: Readonly<Record<string, number>>;
  /** Dashboard connections open right now (not in `open`). */
  readonly dashboards?: number;
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

/** One process as the nodes view shows it. */
export interface NodeInfo {
  readonly pid: number;
  readonly host: string;
  /** The server's state: `running`, `restarting`, `draining`, `stopped`. */
  readonly state: string;
  /** What `/readyz` says: running (or restarting) with its store available. */
  readonly ready: boolean;
  /** Open connections, dashboards included (this is the process's load). */
  readonly connections: number;
  /** Resident set size, bytes. */
  readonly rssBytes: number;
  /** Event-loop delay over the last interval, ms: mean and maximum. */
  readonly eventLoopLagMs: { readonly mean: number; readonly max: number };
  /** CPU time (user + system) over the last interval, as a percentage of one core. */
  readonly cpuPercent: number;
  /** Since the process started, ms. */
  readonly uptimeMs: number;
  readonly store: string;
}

/** A planned restart (or shutdown) in progress or just finished, as the restart view shows it. */
export interface DrainProgress {
  /** Distinguishes drains of one process (its start time, ms since the epoch). */
  readonly startedAt: number;
  readonly kind: 'restart' | 'shutdown';
  readonly code: number;
  /** Set once the drain finished. */
  readonly endedAt?: number;
  /** Connections to be closed when it started (dashboards left out). */
  readonly targets: number;
  /** How many of them have closed so far. */
  readonly closed: number;
  /** Of the targets, how many were `lifeline.v1` sessions (the ones that can be recognised coming back). */
  readonly sessions: number;
  /** Of those sessions, how many resumed since (on this process). */
  readonly back: number;
  /** Connections opened since the drain started (dashboards left out): resumes, plain clients and new ones. */
  readonly opened: number;
  /** The drain window and reconnect hint in force, ms. */
  readonly drainWindowMs: number;
}

/** An incident as stored on {@link INCIDENTS_CHANNEL}. */
export interface LoggedIncident extends SnapshotIncident {
  readonly v: 1;
  /** `host:pid` of the process it happened in. */
  readonly source: string;
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
  /** The process itself (memory, event loop, CPU). */
  readonly node?: NodeInfo;
  /** The latest drain of this process, while running and for a while after. */
  readonly drain?: DrainProgress;
}

/** What `GET /_lifeline/info` answers. */
export interface DashboardInfo {
  /** `--demo`: the crash button and the `/demo` page exist. */
  readonly demo: boolean;
  /** `open` (demo without a token) or `token` (the admin token protects it). */
  readonly access: 'open' | 'token';
  readonly statsChannel: string;
  readonly demoChannel: string;
  /** `host:pid` of the process that answered: the console's lists and actions are per process. */
  readonly source: string;
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
