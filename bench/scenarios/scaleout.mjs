/**
 * Multi-node fan-out (issue 15): N server nodes share one Redis (a 3-master Redis Cluster, or one
 * standalone Redis, started for the run); C channels, each subscribed by S clients of one node (channel
 * i's clients on node i mod N); every node publishes to every channel in turn, R messages per second in
 * all, so most of what a node publishes is for the clients of others.
 *
 * Per node: appends received from Redis (lifeline's `fanout.received`; Socket.IO's sharded messages on
 * its subscriber connection), the appends its own clients need, their ratio (interest: about 1; the
 * broadcast design: N), deliveries per second at its clients, server CPU per delivery, and latency.
 * Baseline: Socket.IO 4 with `@socket.io/redis-adapter`'s sharded adapter (one shard channel per room),
 * same load; skipped, with one line, when that package is not installed.
 */
import { createRequire } from 'node:module';
import { startLoadgens, startServer, stopLoadgens, usageBetween } from '../lib/context.mjs';
import { redisMissing, startRedis } from '../lib/redis.mjs';
import { Histogram, round, sleep } from '../lib/stats.mjs';

export const name = 'scaleout';

export const modes = {
  full: { channels: 1000, subscribersPerChannel: 1, rate: 2000, warmupMs: 2000, measureMs: 8000 },
  quick: { channels: 1000, subscribersPerChannel: 1, rate: 1000, warmupMs: 1500, measureMs: 4000 },
  smoke: { channels: 12, subscribersPerChannel: 1, rate: 60, warmupMs: 300, measureMs: 800, only: ['lifeline-cluster-3', 'lifeline-redis-2', 'socketio-cluster-3'] },
};

const lifeline = (redis, nodes, fanout = 'interest') => ({
  id: `lifeline-${redis}-${nodes}${fanout === 'broadcast' ? '-broadcast' : ''}`,
  label: `lifeline.v1, ${nodes} node${nodes > 1 ? 's' : ''}, ${redis === 'cluster' ? 'Redis Cluster (3 masters)' : 'one Redis'}, ${fanout} fan-out`,
  redis,
  nodes,
  server: { implName: 'lifeline-v1', store: redis === 'cluster' ? 'redis-cluster' : 'redis', fanout },
  client: 'lifeline-v1',
  url: (p) => `ws://127.0.0.1:${p}/`,
});

const socketio = (redis, nodes) => ({
  id: `socketio-${redis}-${nodes}`,
  label: `Socket.IO sharded Redis adapter, ${nodes} nodes, ${redis === 'cluster' ? 'Redis Cluster (3 masters)' : 'one Redis'}`,
  redis,
  nodes,
  server: { implName: 'socketio-sharded' },
  client: 'socketio',
  url: (p) => `http://127.0.0.1:${p}`,
});

export const implementations = [
  lifeline('cluster', 1),
  lifeline('cluster', 2),
  lifeline('cluster', 3),
  lifeline('redis', 1),
  lifeline('redis', 2),
  lifeline('redis', 3),
  lifeline('redis', 3, 'broadcast'),
  socketio('cluster', 3),
  socketio('redis', 3),
];

/** The implementations a mode runs (smoke: a few, to keep CI short). */
export function implementationsFor(mode) {
  const only = modes[mode].only;
  return only ? implementations.filter((impl) => only.includes(impl.id)) : implementations;
}

/** The counts of every node at one instant. */
async function snapshot(servers) {
  return Promise.all(servers.map(async (s) => ({ stats: await s.request('scaleoutStats'), usage: await s.request('usage') })));
}

/** Whether a package resolves from here (the Socket.IO baseline's adapter is an optional dev dependency). */
function installed(pkg) {
  try {
    createRequire(import.meta.url).resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

export async function run(impl, params, ctx) {
  const missing = redisMissing();
  if (missing) return { skipped: missing };
  if (impl.server.implName === 'socketio-sharded' && !installed('@socket.io/redis-adapter')) {
    return { skipped: '@socket.io/redis-adapter is not installed (npm install -D @socket.io/redis-adapter@8.3.0)' };
  }
  const rate = ctx.rate ?? params.rate;
  const N = impl.nodes;
  const redis = await startRedis(impl.redis === 'cluster' ? 3 : 0);
  const channels = Array.from({ length: params.channels }, (_, i) => `room.${i}`);
  const servers = [];
  let loadgens = [];
  try {
    for (let node = 0; node < N; node++) {
      const config = { ...impl.server, scenario: 'scaleout', label: `scaleout-${impl.id}-${node}`, channels, nodes: N, node, redis: { kind: redis.kind, urls: redis.urls, prefix: 'bench:', fanout: impl.server.fanout } };
      try {
        servers.push(await startServer(ctx, config));
      } catch (error) {
        const message = String(error?.message ?? error);
        const skipped = /SKIPPED: ([^\n]*)/.exec(message);
        if (skipped) return { skipped: skipped[1] };
        throw error;
      }
    }
    loadgens = startLoadgens(N, ctx);
    await Promise.all(
      loadgens.map(async (lg, node) => {
        const own = channels.filter((_, i) => i % N === node);
        const count = own.length * params.subscribersPerChannel;
        const connected = await lg.request('connect', { implName: impl.client, url: impl.url(servers[node].port), scenario: 'scaleout', count, channels: own }, 120_000);
        if (connected.failed > 0) throw new Error(`node ${node}: ${connected.failed} of ${count} subscribers failed: ${connected.errors.sample.join('; ')}`);
      }),
    );
    await Promise.all(servers.map((s) => s.request('publishStart', { rate: rate / N })));
    await sleep(params.warmupMs);
    const [before] = await Promise.all([snapshot(servers), ...loadgens.map((lg) => lg.request('windowStart'))]);
    await sleep(params.measureMs);
    const windows = await Promise.all(loadgens.map((lg) => lg.request('windowEnd')));
    const after = await snapshot(servers);
    await Promise.all(servers.map((s) => s.request('publishStop', {}, 60_000)));
    return metricsOf(impl, params, rate, redis, before, after, windows);
  } finally {
    await stopLoadgens(loadgens);
    await Promise.all(servers.map((s) => s.stop()));
    await redis.stop();
  }
}

function metricsOf(impl, params, rate, redis, before, after, windows) {
  const N = impl.nodes;
  const published = before[0].stats.publishedTo.map((_, k) => after.reduce((sum, a, s) => sum + a.stats.publishedTo[k] - before[s].stats.publishedTo[k], 0));
  const nodes = after.map((a, k) => {
    const usage = usageBetween(before[k].usage, a.usage);
    const w = windows[k];
    const received = a.stats.received - before[k].stats.received;
    const needed = published[k];
    return {
      node: k,
      receivedFromRedis: received,
      neededByClients: needed,
      receivedPerNeeded: needed > 0 ? round(received / needed, 3) : null,
      deliveriesPerSec: round(w.count / w.seconds, 0),
      serverCpuPct: round((usage.cpuUs / 1000 / usage.ms) * 100, 1),
      serverCpuUsPerDelivery: round(usage.cpuUs / Math.max(1, w.count), 2),
      latencyMs: Histogram.from(w.histogram).summary(),
      clientErrors: w.errors.count,
    };
  });
  const all = windows.reduce((h, w) => h.merge(Histogram.from(w.histogram)), new Histogram());
  const ratios = nodes.map((n) => n.receivedPerNeeded).filter((r) => r !== null);
  return {
    nodes,
    worstReceivedPerNeeded: ratios.length > 0 ? Math.max(...ratios) : null,
    deliveriesPerSec: round(nodes.reduce((s, n) => s + n.deliveriesPerSec, 0), 0),
    offeredPerSec: rate * params.subscribersPerChannel,
    latencyMs: all.summary(),
    redis: redis.kind,
    redisStartMs: redis.startMs,
    params: { ...params, rate, nodes: N, payloadBytes: 128 },
  };
}
