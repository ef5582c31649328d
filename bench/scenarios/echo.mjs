/**
 * Echo: N clients each keep K 64-byte messages in flight; the server sends each one back (or, for the
 * acked implementations, acknowledges it after its handler ran).
 * Measures round trips per second and round-trip latency (client side), and the CPU per round trip of
 * the server process and of the load-generator process (the client side).
 */
import { startLoadgens, startServer, stopLoadgens, usageBetween } from '../lib/context.mjs';
import { Histogram, round, sleep } from '../lib/stats.mjs';

export const name = 'echo';

export const modes = {
  full: { clients: 100, inflight: 16, warmupMs: 2000, measureMs: 10_000, rounds: 2 },
  quick: { clients: 100, inflight: 16, warmupMs: 1000, measureMs: 3000 },
  smoke: { clients: 4, inflight: 4, warmupMs: 100, measureMs: 300 },
};

export const implementations = [
  { id: 'lifeline', label: 'lifeline (plain, onMessage echo)', server: { implName: 'lifeline', variant: 'plain' }, client: 'lifeline', url: (p) => `ws://127.0.0.1:${p}/` },
  { id: 'lifeline-v1', label: 'lifeline.v1 (acked msg: send -> handler -> ack)', server: { implName: 'lifeline-v1', variant: 'v1', store: 'memory' }, client: 'lifeline-v1', acked: true, url: (p) => `ws://127.0.0.1:${p}/` },
  // Diagnostic: lifeline's server with the raw `ws` client, to separate the server's cost from the client's.
  { id: 'lifeline-server', label: 'lifeline server (plain) + raw ws client', server: { implName: 'lifeline', variant: 'plain' }, client: 'ws', url: (p) => `ws://127.0.0.1:${p}/` },
  // Diagnostic: the lifeline.v1 server (acked msg, memory store) with a raw `ws` client sending `msg` frames.
  { id: 'lifeline-v1-server', label: 'lifeline.v1 server (acked msg) + raw ws client', server: { implName: 'lifeline-v1', variant: 'v1', store: 'memory' }, client: 'v1-raw', url: (p) => `ws://127.0.0.1:${p}/` },
  { id: 'ws', label: 'ws (raw server + client)', server: { implName: 'ws' }, client: 'ws', url: (p) => `ws://127.0.0.1:${p}/` },
  { id: 'socketio', label: 'Socket.IO 4 (websocket transport)', server: { implName: 'socketio' }, client: 'socketio', url: (p) => `http://127.0.0.1:${p}` },
  // The fair baseline of lifeline-v1: an acknowledged message (emitWithAck -> handler -> ack callback).
  { id: 'socketio-ack', label: 'Socket.IO 4 emitWithAck (handler, then ack)', server: { implName: 'socketio' }, client: 'socketio-ack', acked: true, url: (p) => `http://127.0.0.1:${p}` },
];

export async function run(impl, params, ctx) {
  const server = await startServer(ctx, { ...impl.server, scenario: 'echo', label: `echo-${impl.id}` });
  const [loadgen] = startLoadgens(1, ctx);
  try {
    const connected = await loadgen.request('connect', { implName: impl.client, url: impl.url(server.port), scenario: 'echo', count: params.clients }, 60_000);
    if (connected.failed > 0) throw new Error(`${connected.failed} of ${params.clients} clients failed to connect: ${connected.errors.sample.join('; ')}`);
    await loadgen.request('echoStart', { inflight: params.inflight, acked: impl.acked === true });
    await sleep(params.warmupMs);
    const [, u0] = await Promise.all([loadgen.request('windowStart'), server.request('usage')]);
    await sleep(params.measureMs);
    const [w, u1] = await Promise.all([loadgen.request('windowEnd'), server.request('usage')]);
    await loadgen.request('stopLoad');
    const usage = usageBetween(u0, u1);
    return metricsOf({ count: w.count, seconds: w.seconds, histogram: w.histogram, cpuUs: usage.cpuUs, clientCpuUs: w.cpuUs, ms: usage.ms, eluMs: usage.elu * usage.ms, clientErrors: w.errors.count }, params);
  } finally {
    await stopLoadgens([loadgen]);
    await server.stop();
  }
}

/** Metrics from raw counts (one round, or several summed by {@link combine}). */
function metricsOf(raw, params) {
  return {
    roundTripsPerSec: round(raw.count / raw.seconds, 0),
    latencyMs: Histogram.from(raw.histogram).summary(),
    serverCpuPct: round((raw.cpuUs / 1000 / raw.ms) * 100, 1),
    serverElu: round(raw.eluMs / raw.ms, 3),
    serverCpuUsPerRoundTrip: round(raw.cpuUs / Math.max(1, raw.count), 2),
    // The load generator's own CPU (all its clients) per round trip: one send and one reply or ack.
    clientCpuUsPerRoundTrip: round(raw.clientCpuUs / Math.max(1, raw.count), 2),
    clientErrors: raw.clientErrors,
    params: { ...params, payloadBytes: 64 },
    raw,
  };
}

/** Several rounds as one: counts and times summed, latency histograms merged. */
export function combine(rounds) {
  const raws = rounds.map((m) => m.raw);
  const histogram = raws.reduce((h, r) => h.merge(Histogram.from(r.histogram)), new Histogram()).toJSON();
  const sum = (key) => raws.reduce((s, r) => s + r[key], 0);
  const combined = metricsOf(
    { count: sum('count'), seconds: sum('seconds'), histogram, cpuUs: sum('cpuUs'), clientCpuUs: sum('clientCpuUs'), ms: sum('ms'), eluMs: sum('eluMs'), clientErrors: sum('clientErrors') },
    rounds[0].params,
  );
  combined.perRound = rounds.map((m) => ({ roundTripsPerSec: m.roundTripsPerSec, p99: m.latencyMs.p99, serverCpuUsPerRoundTrip: m.serverCpuUsPerRoundTrip, clientCpuUsPerRoundTrip: m.clientCpuUsPerRoundTrip }));
  return combined;
}
