/**
 * Prometheus metrics for a lifeline server (a `LifelineServer`, or any `ServerCore`), with prom-client: connections, closes by code, 1011
 * incidents, drains, sessions, message counts, the outbound queue, store latency and availability.
 *
 * Every label has a small, fixed set of values: close codes outside 1000-1015 are folded into `3xxx`,
 * `4xxx` and `other`, and nothing per connection, per session or per incident is ever a label (ids
 * belong in logs, where `lifeline` puts them).
 * @packageDocumentation
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Counter, Histogram, Registry } from 'prom-client';
import { requireOptional } from '../../optional-dependency.js';
import { pathOf } from '../node/http.js';
import type { StoreLatencyLabel } from './instrument-store.js';
import type { ServerCore } from '../core/server-core.js';

/** prom-client, loaded on first use (an optional dependency of lifeline). */
const promClient = (): typeof import('prom-client') => requireOptional('prom-client', 'lifeline metrics');

/** Options of {@link createMetrics}. */
export interface MetricsOptions {
  /**
   * Registry to register the metrics in, e.g. the application's own. Two servers in one registry need
   * different prefixes (metric names must be unique).
   * @default a new registry owned by the metrics (never prom-client's global one)
   */
  registry?: Registry;
  /** Prefix of every metric name. @default 'lifeline_' */
  prefix?: string;
  /**
   * Also collect prom-client's default process metrics (CPU, memory, event loop lag, GC), under their
   * usual unprefixed names. Leave it off when the application collects them already.
   * @default false
   */
  collectDefault?: boolean;
  /**
   * The store latency histogram, when the store was wrapped with `instrumentStore` before the server
   * existed (make it with {@link createStoreLatencyHistogram} in the same registry).
   * @default a new histogram in the registry, available as {@link LifelineMetrics.storeLatency}
   */
  storeLatency?: Histogram<StoreLatencyLabel>;
  /** Path the {@link LifelineMetrics.route} answers. @default '/metrics' */
  path?: string;
  /** Told when a scrape fails (the route answers 500). @default ignore */
  onError?: (error: unknown) => void;
  /**
   * Who may scrape through {@link LifelineMetrics.route}: return false to answer 401. Counts and
   * incident totals are operators' business, not every client's. @default everyone
   */
  authorize?: (req: IncomingMessage) => boolean;
}

/** What {@link createMetrics} returns. */
export interface LifelineMetrics {
  /** The registry holding the metrics. */
  readonly registry: Registry;
  /** Content-Type of {@link LifelineMetrics.metrics}'s text (Prometheus text format 0.0.4). */
  readonly contentType: string;
  /** The store latency histogram; pass it to `instrumentStore`. */
  readonly storeLatency: Histogram<StoreLatencyLabel>;
  /** Every metric of the registry in the Prometheus text format, collected now. */
  metrics(): Promise<string>;
  /**
   * An HTTP route for `server.addRoute`: answers `GET` (and `HEAD`) on the metrics path and returns
   * true; returns false for any other request.
   */
  route(req: IncomingMessage, res: ServerResponse): boolean;
  /** Stop listening to the server and remove these metrics from the registry. Idempotent. */
  close(): void;
}

/** Options of {@link createStoreLatencyHistogram}. */
export interface StoreLatencyOptions {
  /** Registry to register the histogram in. @default a new registry */
  registry?: Registry;
  /** Prefix of the metric name. @default 'lifeline_' */
  prefix?: string;
}

const DEFAULT_PREFIX = 'lifeline_';

/** Seconds. Store calls run from microseconds (memory) to milliseconds (sqlite, redis) to seconds when sick. */
const STORE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
/** Seconds. A drain lasts the drain window plus grace and close timeouts: seconds to a couple of minutes. */
const DRAIN_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300];

/**
 * The `code` label of a close code: itself for the registered codes 1000-1015 (1005 and 1006 included:
 * servers see them when a peer closes without a code or vanishes), `3xxx` and `4xxx` for the library
 * and application ranges, `other` for anything else. At most 19 values, whatever peers send.
 */
export function closeCodeLabel(code: number): string {
  if (Number.isInteger(code) && code >= 1000 && code <= 1015) return String(code);
  if (Number.isInteger(code) && code >= 3000 && code <= 3999) return '3xxx';
  if (Number.isInteger(code) && code >= 4000 && code <= 4999) return '4xxx';
  return 'other';
}

/** The durability counts of a store that keeps them (the Redis store), read without importing it. */
function durabilityOf(store: unknown): { replicationShort: number; fenceEvicted: number } | undefined {
  const read = (store as { durabilityStats?: () => { replicationShort: number; fenceEvicted: number } }).durabilityStats;
  return typeof read === 'function' ? read.call(store) : undefined;
}

/** Operation names the server reports store failures under; anything unexpected becomes `other`. */
function operationLabel(operation: string): string {
  return /^[A-Za-z][A-Za-z0-9_]{0,31}$/.test(operation) ? operation : 'other';
}

/**
 * The store latency histogram (`<prefix>store_operation_duration_seconds`, labels `operation` and
 * `result`), for `instrumentStore`. Make it before the store and the server, then hand it to
 * {@link createMetrics} as `storeLatency`.
 */
export function createStoreLatencyHistogram(options: StoreLatencyOptions = {}): Histogram<StoreLatencyLabel> {
  const { Histogram, Registry } = promClient();
  return new Histogram({
    name: `${options.prefix ?? DEFAULT_PREFIX}store_operation_duration_seconds`,
    help: 'Time store operations took, in seconds, by operation (the Store method) and result (ok or error).',
    labelNames: ['operation', 'result'],
    buckets: STORE_BUCKETS,
    registers: [options.registry ?? new Registry()],
  });
}

/**
 * Some counts exist only as running totals in `server.stats()` (messages, replays, protocol errors,
 * refused upgrades). They are monotonic, so they are exposed as counters, not gauges: `rate()` and
 * `increase()` are only correct on counters (they detect resets), and tooling checks that `_total`
 * names are counters. prom-client counters cannot be set, so at each scrape the counter is advanced by
 * what the total grew since the previous scrape; the exposed value then equals the server's total.
 */
class TotalMirror {
  private readonly seen = new WeakMap<Counter<string>, Map<string, number>>();

  /** Advance `counter` (for `labels`) to `total`. A total that went down (never, for one server) is taken as the new base. */
  advance(counter: Counter<string>, total: number, labels: Record<string, string> = {}): void {
    let byLabels = this.seen.get(counter);
    if (!byLabels) this.seen.set(counter, (byLabels = new Map()));
    const key = JSON.stringify(labels);
    const last = byLabels.get(key) ?? 0;
    byLabels.set(key, total);
    if (total > last) counter.inc(labels, total - last);
  }
}

/**
 * Create Prometheus metrics for `server`. Counters fed by events count from the moment this is called:
 * call it before the server accepts connections.
 *
 * Metric names (with the default prefix `lifeline_`):
 * - `connections_open` (gauge), `connections_opened_total`
 * - `connection_closes_total{code, closed_by}`: `code` as in {@link closeCodeLabel}, `closed_by` server|client|transport
 * - `sessions_total{outcome}`: `lifeline.v1` hellos answered, created|resumed|not_recovered
 * - `incidents_total{handler}`: handler failures, each closed one connection with 1011; connection|message|close
 * - `drains_total{kind}`, `drain_duration_seconds{kind}` (histogram): restart|shutdown
 * - `messages_received_total`, `messages_sent_total`, `replayed_messages_total`, `published_messages_total`
 * - `outbound_buffered_bytes`, `outbound_buffered_max_bytes` (gauges over open connections, at scrape time)
 * - `store_operation_duration_seconds{operation, result}` (histogram), `store_errors_total{operation}`, `store_available` (gauge)
 * - `store_rollbacks_total` (channels whose epoch the store's rollback fence rotated), `store_replication_short_total`
 *   (Redis, durability replicas: appends answered "outcome unknown" for want of replicas), `store_fence_evictions_total`
 *   (Redis: channels the fence forgot to stay within its bound)
 * - `slow_consumers_total`, `dead_peers_total`, `protocol_errors_total{code}`, `refused_upgrades_total`,
 *   `refused_upgrades_by_reason_total{reason}`
 * - bounds: `unsent_messages_total{reason}`, `inbound_paused_connections`, `inbound_pauses_total`,
 *   `inbound_overflows_total`, `admitting_upgrades`, `replay_bytes_in_flight`, `replay_budget_bytes`,
 *   `replay_waits_total`, `protocol_refusals_total{reason}`, `accept_errors_total`, `hello_timeouts_total`,
 *   `fanout_received_total`, `fanout_unwanted_total`, `fanout_catch_ups_total`,
 *   `store_records{kind}` (when the store counts them)
 * - presence: `presence_members_held`, `presence_events_waiting` (gauges), `presence_joins_total`, `presence_leaves_total`,
 *   `presence_expired_total`, `presence_queries_total`, `presence_events_sent_total`, `presence_events_coalesced_total`,
 *   `presence_lease_lapses_total`, `presence_resyncs_total`, `presence_recovered_total`, `presence_resync_failures_total`
 *
 * @example
 * ```ts
 * const metrics = createMetrics(server);
 * server.addRoute(metrics.route);   // GET /metrics on the server's own port
 * ```
 */
export function createMetrics(server: ServerCore, options: MetricsOptions = {}): LifelineMetrics {
  const { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } = promClient();
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const ownsRegistry = options.registry === undefined;
  const registry = options.registry ?? new Registry();
  const registers = [registry];
  const path = options.path ?? '/metrics';
  const names: string[] = [];
  const name = (suffix: string): string => {
    const full = `${prefix}${suffix}`;
    names.push(full);
    return full;
  };
  const totals = new TotalMirror();

  new Gauge({
    name: name('connections_open'),
    help: 'WebSocket connections open now.',
    registers,
    collect() {
      this.set(server.connections.size);
    },
  });
  const opened = new Counter({ name: name('connections_opened_total'), help: 'WebSocket connections accepted.', registers });
  const closes = new Counter({
    name: name('connection_closes_total'),
    help: 'Connections closed, by close code (1000-1015; 3xxx, 4xxx, other for the rest) and by the side that started the close (server, client, transport).',
    labelNames: ['code', 'closed_by'],
    registers,
  });
  // Outcomes partition the hellos answered, so sum() over `outcome` is the number of hellos.
  const sessions = new Counter({
    name: name('sessions_total'),
    help: 'lifeline.v1 hellos answered, by outcome: created (a new session), resumed (everything recovered), not_recovered (a resume that could not restore everything).',
    labelNames: ['outcome'],
    registers,
  });
  const incidents = new Counter({
    name: name('incidents_total'),
    help: 'Handler failures, each of which closed one connection with 1011 and an incident id (in the log), by handler.',
    labelNames: ['handler'],
    registers,
  });
  const drains = new Counter({ name: name('drains_total'), help: 'Drains started, by kind: restart (SIGHUP, connections cycled with 1012) or shutdown.', labelNames: ['kind'], registers });
  const drainDuration = new Histogram({
    name: name('drain_duration_seconds'),
    help: 'How long drains took, from start until every drained connection was closed, in seconds, by kind.',
    labelNames: ['kind'],
    buckets: DRAIN_BUCKETS,
    registers,
  });
  const slowConsumers = new Counter({ name: name('slow_consumers_total'), help: 'Peers closed with 1013 for not reading their output (backpressure).', registers });
  const deadPeers = new Counter({ name: name('dead_peers_total'), help: 'Peers terminated for not answering heartbeats.', registers });

  const mirrored = (suffix: string, help: string, read: () => number) =>
    new Counter({
      name: name(suffix),
      help,
      registers,
      collect() {
        totals.advance(this, read());
      },
    });
  mirrored('messages_received_total', 'WebSocket messages received.', () => server.stats().messagesIn);
  mirrored('messages_sent_total', 'WebSocket messages sent.', () => server.stats().messagesOut);
  mirrored('replayed_messages_total', 'Channel messages sent from history (replays and catch-ups).', () => server.stats().replayed);
  mirrored('published_messages_total', 'Channel messages appended to the store by this process (duplicates excluded).', () => server.stats().published);
  mirrored('refused_upgrades_total', 'WebSocket upgrades refused (503 while draining, 401 by the authenticate hook).', () => server.stats().refusedUpgrades);
  new Counter({
    name: name('protocol_errors_total'),
    help: 'Peers closed for breaking the WebSocket protocol, by the close code it caused (1002, 1007, 1009).',
    labelNames: ['code'],
    registers,
    collect() {
      const byLabel = new Map<string, number>();
      for (const [code, count] of Object.entries(server.stats().protocolErrors)) {
        const label = closeCodeLabel(Number(code));
        byLabel.set(label, (byLabel.get(label) ?? 0) + count);
      }
      for (const [code, total] of byLabel) totals.advance(this, total, { code });
    },
  });
  new Counter({
    name: name('store_errors_total'),
    help: 'Store operations the server saw fail, by operation.',
    labelNames: ['operation'],
    registers,
    collect() {
      for (const [operation, total] of Object.entries(server.stats().storeErrors)) totals.advance(this, total, { operation: operationLabel(operation) });
    },
  });

  // Every bound the server keeps, with what it refused or held because of it.
  const labelled = (suffix: string, help: string, label: string, read: () => Record<string, number>, known: readonly string[] = []) => {
    const counter = new Counter({
      name: name(suffix),
      help,
      labelNames: [label],
      registers,
      collect() {
        for (const [value, total] of Object.entries(read())) totals.advance(this, total, { [label]: operationLabel(value) });
      },
    });
    for (const value of known) counter.inc({ [label]: value }, 0);
  };
  labelled('unsent_messages_total', 'Messages a handler or the server tried to send that could not go out, by reason: closing (the close handshake had started) or slow-consumer.', 'reason', () => server.stats().unsent, ['closing', 'slow-consumer']);
  labelled('refused_upgrades_by_reason_total', 'WebSocket upgrades refused, by reason: draining, origin, connections (maxConnections), admission (maxPendingUpgrades), auth.', 'reason', () => server.stats().refusedByReason, ['draining', 'origin', 'connections', 'admission', 'auth']);
  labelled(
    'protocol_refusals_total',
    'lifeline.v1 requests refused by a bound or answered as unknown, by reason (conflicts, forgottenIds, outcomeUnknown, subscriptionLimit, channelLimit, reservedRefused, takeovers, authRefused, credentialsExpired, presenceFull, presenceInfoLimit, presenceQueryLimit, presenceUnavailable).',
    'reason',
    () => server.stats().protocol,
  );
  mirrored('inbound_pauses_total', 'Times the server stopped reading a socket because its queue of unhandled messages was full (inbound backpressure).', () => server.stats().inbound.pauses);
  mirrored('inbound_overflows_total', 'Connections closed (1008) because their queue of unhandled messages passed its hard bound.', () => server.stats().inbound.overflows);
  mirrored('replay_waits_total', 'History replays that waited for room in the server-wide replay budget.', () => server.stats().replay.waits);
  mirrored('accept_errors_total', 'Failed accepts of the listening socket (EMFILE/ENFILE: out of file descriptors).', () => server.stats().acceptErrors);
  mirrored('hello_timeouts_total', 'lifeline.v1 connections closed (1008) for not sending hello in time.', () => server.stats().helloTimeouts);
  mirrored('fanout_received_total', 'Channel messages a shared store (Redis) delivered to this process, from every process.', () => server.stats().fanout.received);
  mirrored('fanout_unwanted_total', 'Of fanout_received_total, messages of channels no subscriber of this process needed (interest fan-out keeps this near 0).', () => server.stats().fanout.unwanted);
  mirrored('store_rollbacks_total', "Channels whose epoch the store's rollback fence rotated: the store showed less of the channel than this process had seen committed (a failover to a replica that was behind); their readers are told their history is incomplete.", () => server.stats().storeRollbacks);
  mirrored('store_replication_short_total', 'Appends a Redis store with durability replicas answered "outcome unknown" because fewer replicas than asked acknowledged them in time (the publisher resends).', () => durabilityOf(server.store)?.replicationShort ?? 0);
  mirrored('store_fence_evictions_total', "Channels a Redis store's rollback fence forgot to stay within its bound (100,000 channels, least recently seen first): until seen again, a rollback of theirs is not recognised by this process.", () => durabilityOf(server.store)?.fenceEvicted ?? 0);
  mirrored('fanout_catch_ups_total', 'Channels read again from history after the store reported a broken delivery (a Redis reconnect, failover or slot move).', () => server.stats().fanout.catchUps);
  const gauge = (suffix: string, help: string, read: () => number) =>
    new Gauge({
      name: name(suffix),
      help,
      registers,
      collect() {
        this.set(read());
      },
    });
  // Presence on this process (a shared store: each process counts what it learned and claimed).
  gauge('presence_members_held', 'Presence memberships held by the connections of this process now (members within their grace are held by nobody).', () => server.stats().presence.held);
  gauge('presence_events_waiting', 'Presence changes waiting for the per-channel event rate (presenceEventsPerSecond), coalesced per member.', () => server.presenceWaiting);
  mirrored('presence_joins_total', 'Presence joins this process learned of (new members; a resume that continues a membership is none).', () => server.stats().presence.joins);
  mirrored('presence_leaves_total', 'Presence leaves this process learned of (a session ended, or was not resumed within presenceGraceMs).', () => server.stats().presence.leaves);
  mirrored('presence_expired_total', "Presence leaves this process's sweeps claimed: members not resumed within the grace period, or held by a node whose lease ran out.", () => server.stats().presence.expired);
  mirrored('presence_queries_total', 'Presence queries answered (presence frames and server.presence()).', () => server.stats().presence.queries);
  mirrored('presence_events_sent_total', 'join/leave frames written to watching connections (one per connection).', () => server.stats().presence.eventsSent);
  mirrored('presence_events_coalesced_total', 'Presence changes that never went out on their own under the event rate: replaced or cancelled by a later change of the same member.', () => server.stats().presence.coalesced);
  mirrored('presence_lease_lapses_total', "Times this process's presence lease had run out when it renewed it (its members were joined again).", () => server.stats().presence.leaseLapses);
  mirrored('presence_resyncs_total', "Watched channels whose members this process read again because it may have missed changes (a delivery restored after a break, a gap in a channel's changes).", () => server.stats().presence.resyncs);
  mirrored('presence_recovered_total', 'Presence changes told to watchers from such a read: what a broken delivery would otherwise have lost.', () => server.stats().presence.recovered);
  mirrored('presence_resync_failures_total', 'Such reads that failed (tried again at the next sweep): until one succeeds, the channel\'s watchers on this process may lack changes.', () => server.stats().presence.resyncFailures);
  gauge('inbound_paused_connections', 'Connections whose socket the server is not reading now (inbound backpressure).', () => server.stats().inbound.paused);
  gauge('admitting_upgrades', 'Upgrades being admitted now (authenticate running); bounded by maxPendingUpgrades.', () => server.stats().admitting);
  gauge('replay_bytes_in_flight', 'Bytes of history replay held for sending now, across all connections.', () => server.stats().replay.bytesInFlight);
  gauge('replay_budget_bytes', 'The server-wide bound on replay_bytes_in_flight (maxReplayBytes).', () => server.stats().replay.budgetBytes);
  new Gauge({
    name: name('store_records'),
    help: 'Records the store holds, by kind (channels, messages, sessions, sessionChannels, claims, keys), where the engine counts them.',
    labelNames: ['kind'],
    registers,
    async collect() {
      const stats = await server.store.stats?.().catch(() => undefined);
      for (const [kind, count] of Object.entries(stats ?? {})) if (typeof count === 'number') this.set({ kind }, count);
    },
  });

  // Computed at scrape time: the queue is a property of the open connections, not a stream of events.
  const buffered = (): number[] => [...server.connections].map((connection) => connection.bufferedAmount);
  new Gauge({
    name: name('outbound_buffered_bytes'),
    help: 'Bytes queued for all open connections, waiting to be written (outbound queue depth).',
    registers,
    collect() {
      this.set(buffered().reduce((sum, n) => sum + n, 0));
    },
  });
  new Gauge({
    name: name('outbound_buffered_max_bytes'),
    help: 'Most bytes queued for any one open connection, waiting to be written.',
    registers,
    collect() {
      this.set(buffered().reduce((max, n) => (n > max ? n : max), 0));
    },
  });
  new Gauge({
    name: name('store_available'),
    help: 'Whether the store can serve (1) or not (0); while 0 the server is not ready and refuses publishes.',
    registers,
    collect() {
      this.set(server.store.available === false ? 0 : 1);
    },
  });

  let storeLatency = options.storeLatency;
  if (storeLatency === undefined) {
    storeLatency = createStoreLatencyHistogram({ registry, prefix });
    names.push(`${prefix}store_operation_duration_seconds`);
  }

  // Series that are known in advance start at 0, so rate() and alerts work before the first event.
  for (const handler of ['connection', 'message', 'close']) incidents.inc({ handler }, 0);
  for (const outcome of ['created', 'resumed', 'not_recovered']) sessions.inc({ outcome }, 0);
  for (const kind of ['restart', 'shutdown']) {
    drains.inc({ kind }, 0);
    drainDuration.zero({ kind });
  }

  const unsubscribe = [
    server.on('connection', () => opened.inc()),
    server.on('close', ({ code, closedBy }) => closes.inc({ code: closeCodeLabel(code), closed_by: closedBy })),
    server.on('incident', ({ handler }) => incidents.inc({ handler })),
    server.on('session', ({ resumed, recovered, lost }) => {
      // The same test as the server's `notRecovered`: a resume attempt (a token or positions) that lost something.
      const outcome = !recovered && (resumed || lost.length > 0) ? 'not_recovered' : resumed ? 'resumed' : 'created';
      sessions.inc({ outcome });
    }),
    server.on('drain-start', ({ kind }) => drains.inc({ kind })),
    server.on('drain-end', ({ kind, durationMs }) => drainDuration.observe({ kind }, durationMs / 1000)),
    server.on('slow-consumer', () => slowConsumers.inc()),
    server.on('dead-peer', () => deadPeers.inc()),
  ];

  if (options.collectDefault) {
    // Unprefixed on purpose: process_* and nodejs_* are what every Node dashboard expects.
    collectDefaultMetrics({ register: registry });
  }

  let closed = false;
  const { onError } = options;
  return {
    registry,
    contentType: registry.contentType,
    storeLatency,
    metrics: () => registry.metrics(),
    route(req, res) {
      if (pathOf(req) !== path || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
      if (options.authorize && !options.authorize(req)) {
        res.writeHead(401, { 'content-type': 'text/plain; charset=utf-8', 'www-authenticate': 'Bearer', 'cache-control': 'no-store' });
        res.end('metrics need the admin token (Authorization: Bearer <token>)\n');
        return true;
      }
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
          res.end(req.method === 'HEAD' ? undefined : text);
        },
        (error: unknown) => {
          onError?.(error);
          if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
          res.end('metrics unavailable\n');
        },
      );
      return true;
    },
    close() {
      if (closed) return;
      closed = true;
      for (const off of unsubscribe) off();
      if (ownsRegistry) registry.clear();
      else for (const metric of names) registry.removeSingleMetric(metric);
    },
  };
}
