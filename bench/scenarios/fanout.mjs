/**
 * Fan-out: S subscribers of one channel; the server publishes 128-byte messages (send time inside).
 * Two phases on the same connections:
 *
 * 1. steady: R messages per second. Deliveries per second (did it keep up with R x S?) and delivery
 *    latency at the subscribers.
 * 2. max: the server publishes as fast as it can (10 ms of publishing, then I/O, repeat). Deliveries per
 *    second is the capacity of the whole stack on this machine (server and subscribers share the cores).
 *
 * Server CPU per delivery is recorded for both: the server's own cost, whoever was the bottleneck.
 */
import { startLoadgens, startServer, stopLoadgens, usageBetween } from '../lib/context.mjs';
import { Histogram, round, sleep } from '../lib/stats.mjs';

export const name = 'fanout';

export const modes = {
  full: { subscribers: 1000, rate: 50, warmupMs: 2000, measureMs: 10_000, maxWarmupMs: 1000, maxMeasureMs: 5000, rounds: 2 },
  quick: { subscribers: 250, rate: 100, warmupMs: 1000, measureMs: 3000, maxWarmupMs: 500, maxMeasureMs: 2000 },
  smoke: { subscribers: 5, rate: 50, warmupMs: 100, measureMs: 400, maxWarmupMs: 50, maxMeasureMs: 200, betweenMs: 100 },
};

export const implementations = [
  { id: 'lifeline-memory', label: 'lifeline.v1 publish, memory store', server: { implName: 'lifeline-v1', store: 'memory' }, client: 'lifeline-v1', url: (p) => `ws://127.0.0.1:${p}/` },
  { id: 'lifeline-sqlite', label: 'lifeline.v1 publish, sqlite store', server: { implName: 'lifeline-v1', store: 'sqlite' }, client: 'lifeline-v1', url: (p) => `ws://127.0.0.1:${p}/` },
  { id: 'ws', label: 'ws broadcast loop', server: { implName: 'ws' }, client: 'ws', url: (p) => `ws://127.0.0.1:${p}/` },
  { id: 'socketio', label: 'Socket.IO room emit', server: { implName: 'socketio' }, client: 'socketio', url: (p) => `http://127.0.0.1:${p}` },
];

/** Publish at `rate` (0: as fast as possible), and measure one window after a warm-up. */
async function phase(server, loadgen, rate, warmupMs, measureMs) {
  await server.request('publishStart', { rate });
  await sleep(warmupMs);
  const [, u0] = await Promise.all([loadgen.request('windowStart'), server.request('usage')]);
  await sleep(measureMs);
  const [w, u1] = await Promise.all([loadgen.request('windowEnd'), server.request('usage')]);
  const published = await server.request('publishStop', {}, 60_000);
  const usage = usageBetween(u0, u1);
  return { count: w.count, seconds: w.seconds, histogram: w.histogram, cpuUs: usage.cpuUs, ms: usage.ms, eluMs: usage.elu * usage.ms, published: published.published, skipped: published.skipped, clientErrors: w.errors.count };
}

export async function run(impl, params, ctx) {
  const rate = ctx.rate ?? params.rate;
  const server = await startServer(ctx, { ...impl.server, scenario: 'fanout', label: `fanout-${impl.id}` });
  const [loadgen] = startLoadgens(1, ctx);
  try {
    const connected = await loadgen.request('connect', { implName: impl.client, url: impl.url(server.port), scenario: 'fanout', count: params.subscribers }, 120_000);
    if (connected.failed > 0) throw new Error(`${connected.failed} of ${params.subscribers} subscribers failed: ${connected.errors.sample.join('; ')}`);
    const steady = await phase(server, loadgen, rate, params.warmupMs, params.measureMs);
    // Let what is still in flight arrive before the next phase.
    await sleep(params.betweenMs ?? 500);
    const max = await phase(server, loadgen, 0, params.maxWarmupMs, params.maxMeasureMs);
    return metricsOf({ steady, max }, { ...params, rate });
  } finally {
    await stopLoadgens([loadgen]);
    await server.stop();
  }
}

/** Metrics from raw counts (one round, or several summed by {@link combine}). */
function metricsOf(raw, params) {
  const { steady, max } = raw;
  const offered = params.rate * params.subscribers;
  const perSec = steady.count / steady.seconds;
  return {
    deliveredPerSec: round(perSec, 0),
    offeredPerSec: offered,
    keptUp: round(perSec / offered, 3),
    latencyMs: Histogram.from(steady.histogram).summary(),
    serverCpuPct: round((steady.cpuUs / 1000 / steady.ms) * 100, 1),
    serverCpuUsPerDelivery: round(steady.cpuUs / Math.max(1, steady.count), 3),
    maxDeliveredPerSec: round(max.count / max.seconds, 0),
    maxServerCpuPct: round((max.cpuUs / 1000 / max.ms) * 100, 1),
    maxServerElu: round(max.eluMs / max.ms, 3),
    maxServerCpuUsPerDelivery: round(max.cpuUs / Math.max(1, max.count), 3),
    maxLatencyMs: Histogram.from(max.histogram).summary(),
    skippedTicks: steady.skipped,
    clientErrors: steady.clientErrors + max.clientErrors,
    params: { ...params, payloadBytes: 128 },
    raw,
  };
}

function sumPhase(phases) {
  const histogram = phases.reduce((h, r) => h.merge(Histogram.from(r.histogram)), new Histogram()).toJSON();
  const sum = (key) => phases.reduce((s, r) => s + r[key], 0);
  return { count: sum('count'), seconds: sum('seconds'), histogram, cpuUs: sum('cpuUs'), ms: sum('ms'), eluMs: sum('eluMs'), published: sum('published'), skipped: sum('skipped'), clientErrors: sum('clientErrors') };
}

/** Several rounds as one: counts and times summed, latency histograms merged. */
export function combine(rounds) {
  const combined = metricsOf({ steady: sumPhase(rounds.map((m) => m.raw.steady)), max: sumPhase(rounds.map((m) => m.raw.max)) }, rounds[0].params);
  combined.perRound = rounds.map((m) => ({ deliveredPerSec: m.deliveredPerSec, p99: m.latencyMs.p99, maxDeliveredPerSec: m.maxDeliveredPerSec, maxServerCpuUsPerDelivery: m.maxServerCpuUsPerDelivery }));
  return combined;
}
