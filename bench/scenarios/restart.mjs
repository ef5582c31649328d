/**
 * Restart storm: N clients subscribed to one channel receive a numbered stream (published over HTTP
 * by the runner, R per second, each publish retried until acknowledged; every message carries the
 * time it was published). Then a planned restart, one of two kinds:
 *
 * - `cold`: SIGTERM, then a new process on the same port (and data directory) once the old one exited.
 *   lifeline: the real `lifeline serve` (sqlite store) drains, closing every connection with 1012 at
 *   random moments across the drain window and refusing upgrades with 503, exits 0. Baselines (Socket.IO,
 *   with and without its connection state recovery; `ws` with reconnecting-websocket clients): the
 *   process ends at once.
 * - `hup`: SIGHUP to the serving process, which stays up or hands over by itself.
 *   `lifeline-workers`: `serve --workers 2` on Redis, a rolling restart (a new worker listens before
 *   an old one drains). `lifeline-zerodark`: a single `serve` on sqlite; today SIGHUP is an in-process
 *   reload that cycles every connection with 1012 across the drain window; when `serve` restarts
 *   zero-dark on SIGHUP (a successor ready before the old process drains), this variant measures that,
 *   unchanged. `socketio-csr-cycle`: a Socket.IO server closing every connection in-process, the one
 *   case its connection state recovery covers.
 *
 * Clients are lifeline `createSession`s with default options ("back" = welcomed again), Socket.IO
 * clients ("back" = connected) and reconnecting-websocket ("back" = open). Measured from the signal:
 * when 50/99/100% are back, each client's gap (lib/restart-record.mjs: last message before its close
 * to its first live message after it is back), reconnect attempts per 100 ms (the herd), failed
 * attempts, messages lost, and what a prober opening a fresh connection every 50 ms got.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, split, startLoadgens, startServer, stopLoadgens } from '../lib/context.mjs';
import { makePayload } from '../lib/payload.mjs';
import { redisAt, startServe } from '../lib/serve-process.mjs';
import { Histogram, monoMs, quantileOf, round, sleep } from '../lib/stats.mjs';

export const name = 'restart';

const KEY = 'bench-publish-key-0123456789abcdef';
const BUCKET_MS = 100;
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
/**
 * The publisher's one kept-alive connection, as a producer posting to a service would hold: a new TCP
 * connection per publish would queue in the accept backlog behind a reconnection storm and delay the
 * first live message by hundreds of ms (seen with Socket.IO). A connection that died with its server
 * fails the request, which is retried on a new one.
 */
const PUBLISH_AGENT = new Agent({ keepAlive: true, maxSockets: 1 });

/**
 * `rate`: the publisher's messages per second, which sets the gap's resolution (about 1/rate). Both
 * sizes offer 50,000 deliveries/s, the steady rate every implementation keeps up with on two cores
 * (fan-out scenario): 10/s with 5,000 clients (resolution 100 ms, a tenth of the 1 s p99 target) and
 * 50/s with 1,000 (20 ms). 20/s with 5,000 clients would be 100,000 deliveries/s, Socket.IO's whole-stack
 * capacity here (fan-out max 95-100k/s): its baseline would be measured saturated. `--rate` overrides.
 * Smoke mode scales every delay by a tenth (drain window, retry hint, the baselines' reconnection
 * delays), so a storm takes a second or two.
 */
export const modes = {
  full: { clients: 5000, perProcess: 2500, drainWindowMs: 5000, retryHint: { minMs: 1000, maxMs: 5000 }, rate: 10, steadyMs: 2000, tailMs: 1000, settleMs: 5000, probeEveryMs: 50, probeTimeoutMs: 2000, timeoutMs: 40_000 },
  quick: { clients: 1000, perProcess: 1000, drainWindowMs: 5000, retryHint: { minMs: 1000, maxMs: 5000 }, rate: 50, steadyMs: 1000, tailMs: 1000, settleMs: 5000, probeEveryMs: 50, probeTimeoutMs: 2000, timeoutMs: 30_000 },
  smoke: {
    clients: 20,
    perProcess: 20,
    drainWindowMs: 500,
    retryHint: { minMs: 100, maxMs: 500 },
    rate: 50,
    steadyMs: 250,
    tailMs: 150,
    settleMs: 2000,
    probeEveryMs: 50,
    probeTimeoutMs: 1000,
    timeoutMs: 20_000,
    clientOptions: { rwsMinDelayMs: [100, 500], socketIo: { reconnectionDelay: 100, reconnectionDelayMax: 500 } },
  },
};

const wsUrl = (p) => `ws://127.0.0.1:${p}/`;
const ioUrl = (p) => `http://127.0.0.1:${p}`;
// The prober's plain WebSocket upgrade into Socket.IO's engine (what its client does first).
const ioProbeUrl = (p) => `ws://127.0.0.1:${p}/socket.io/?EIO=4&transport=websocket`;

export const implementations = [
  { id: 'lifeline', label: 'lifeline serve (sqlite) + createSession: cold restart (SIGTERM drain, 1012, new process)', serve: {}, restart: 'cold', client: 'lifeline-v1', resumes: true, url: wsUrl, probeUrl: wsUrl },
  {
    id: 'lifeline-zerodark',
    label: 'lifeline serve (sqlite) + SIGHUP: in-process reload today (cycles connections with 1012); the zero-dark restart once serve does that',
    serve: {},
    restart: 'hup',
    client: 'lifeline-v1',
    resumes: true,
    url: wsUrl,
    probeUrl: wsUrl,
  },
  { id: 'lifeline-workers', label: 'lifeline serve --workers 2 (redis) + SIGHUP: rolling restart', serve: { workers: 2 }, restart: 'hup', client: 'lifeline-v1', resumes: true, url: wsUrl, probeUrl: wsUrl },
  { id: 'socketio', label: 'Socket.IO 4 + client default reconnection: kill + restart', server: { implName: 'socketio' }, restart: 'cold', client: 'socketio', url: ioUrl, probeUrl: ioProbeUrl },
  {
    id: 'socketio-csr',
    label: 'Socket.IO 4 with connectionStateRecovery: kill + restart (its recovery state is in the killed process)',
    server: { implName: 'socketio', recovery: true },
    restart: 'cold',
    client: 'socketio',
    resumes: true,
    url: ioUrl,
    probeUrl: ioProbeUrl,
  },
  {
    id: 'socketio-csr-cycle',
    label: 'Socket.IO 4 with connectionStateRecovery: every connection closed in-process (SIGHUP), no restart',
    server: { implName: 'socketio', recovery: true, cycleOnHup: true },
    restart: 'hup',
    client: 'socketio',
    resumes: true,
    url: ioUrl,
    probeUrl: ioProbeUrl,
  },
  { id: 'rws', label: 'ws + reconnecting-websocket defaults: kill + restart', server: { implName: 'ws' }, restart: 'cold', client: 'rws', url: wsUrl, probeUrl: wsUrl },
];

/**
 * One generation of the server: `lifeline serve` or a bench server. Returns `{ signal, exited, stop,
 * arm, milestones }`.
 */
async function startGeneration(impl, port, params, local, t0) {
  if (impl.serve) {
    const config = join(local.dataDir, 'config.json');
    writeFileSync(config, JSON.stringify({ drainWindowMs: params.drainWindowMs, retryHint: params.retryHint }));
    const args = ['--port', String(port), '--data-dir', local.dataDir, '--publish-key', KEY, '--config', config];
    if (impl.serve.workers) args.push('--workers', String(impl.serve.workers), '--store', REDIS_URL, '--redis-prefix', local.redisPrefix);
    else args.push('--store', 'sqlite');
    return startServe({ args, dataDir: local.dataDir, workers: Boolean(impl.serve.workers), profileDir: local.profileDir, t0 });
  }
  const server = await startServer(local, { ...impl.server, scenario: 'restart', port, label: `restart-${impl.id}` });
  return {
    signal: (s) => server.kill(s),
    exited: server.exited,
    milestones: undefined,
    arm() {},
    async stop() {
      server.kill('SIGTERM');
      const timer = setTimeout(() => server.kill('SIGKILL'), 10_000);
      await server.exited;
      clearTimeout(timer);
    },
  };
}

/** POST to /publish; resolves with the HTTP status, 0 when the request failed (refused, reset, timed out). */
function post(port, body, headers) {
  return new Promise((resolve) => {
    // A refused or reset connection fails at once; the timeout is for a server too busy to answer (a
    // short one would only add retries to its load).
    const req = request({ host: '127.0.0.1', port, path: '/publish', method: 'POST', headers: { 'content-type': 'application/json', ...headers }, agent: PUBLISH_AGENT, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

/**
 * Publish n = 1, 2, ... at `rate` per second; each is retried (same n, same idempotency key) until
 * acknowledged. Every attempt carries a fresh publish time, so the one the server stores says when it
 * was sent. `ackedTs`: the time of each acknowledged attempt (the publish intervals actually achieved).
 */
function startPublisher(impl, port, rate) {
  const state = { acked: [], ackedTs: [], attempts: 0, stopped: false };
  state.done = (async () => {
    let n = 0;
    const interval = 1000 / rate;
    let next = monoMs();
    while (!state.stopped) {
      n += 1;
      let firstTs;
      for (;;) {
        state.attempts += 1;
        const payload = makePayload(n, 128);
        firstTs ??= payload.ts;
        const status = impl.serve
          ? await post(port, JSON.stringify({ channel: 'bench', data: payload, idempotencyKey: `bench-${n}` }), { authorization: `Bearer ${KEY}` })
          : await post(port, JSON.stringify(payload));
        if (status === 200) {
          state.ackedTs.push(payload.ts);
          break;
        }
        // 409: an earlier attempt of this n was stored (its answer was lost, e.g. a connection reset at a
        // hand-over) and this one carries another publish time, so other content under the same key.
        // That earlier attempt is the message: acknowledged, as of the first attempt's time.
        if (status === 409 && impl.serve) {
          state.ackedTs.push(firstTs);
          break;
        }
        if (state.stopped) return;
        await sleep(50);
      }
      state.acked.push(n);
      next += interval;
      const wait = next - monoMs();
      if (wait > 0) await sleep(wait);
      else next = monoMs();
    }
  })();
  return state;
}

/** Attempts per 100 ms bucket from the signal on, and how peaked the herd is. */
export function herdShape(attemptTimes) {
  if (attemptTimes.length === 0) return { buckets: [], peak: 0, mean: 0, peakToMean: 0, first: null, last: null };
  let last = 0;
  for (const t of attemptTimes) if (t > last) last = t;
  const buckets = new Array(Math.floor(last / BUCKET_MS) + 1).fill(0);
  let firstBucket = buckets.length;
  for (const t of attemptTimes) {
    const b = Math.floor(t / BUCKET_MS);
    buckets[b] += 1;
    if (b < firstBucket) firstBucket = b;
  }
  const span = buckets.length - firstBucket;
  const mean = attemptTimes.length / span;
  const peak = Math.max(...buckets);
  return { buckets, peak, mean: round(mean, 1), peakToMean: round(peak / mean, 2), first: firstBucket * BUCKET_MS, last: round(last, 0) };
}

/** p50, p99 and max of a list (ms, rounded), nulls for an empty one. */
function spread(values) {
  const q = (p) => (values.length ? round(quantileOf(values, p), 0) : null);
  return { p50: q(0.5), p99: q(0.99), max: q(1), count: values.length };
}

/** Intervals between consecutive accepted publishes from `t0` on: the gap's actual resolution. */
function publishIntervals(ackedTs, t0) {
  const intervals = [];
  for (let i = 1; i < ackedTs.length; i++) if (ackedTs[i] >= t0) intervals.push(ackedTs[i] - ackedTs[i - 1]);
  return spread(intervals);
}

export async function run(impl, params, ctx) {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'lifeline-bench-restart-'));
  const local = { ...ctx, dataDir, redisPrefix: `bench-restart-${process.pid}-${Date.now()}:` };
  const redis = impl.serve?.workers ? await redisAt(REDIS_URL) : undefined;
  let generation;
  let loadgens = [];
  let prober;
  let publisher;
  try {
    generation = await startGeneration(impl, port, params, local);
    const procs = Math.max(1, Math.ceil(params.clients / params.perProcess));
    loadgens = startLoadgens(procs, ctx);
    [prober] = startLoadgens(1, ctx, 'prober');
    const everyone = (type, payload, timeout) => Promise.all(loadgens.map((lg) => lg.request(type, payload, timeout)));
    const clientOptions = params.clientOptions ?? {};
    const connected = await Promise.all(
      split(params.clients, procs).map((count, i) =>
        loadgens[i].request('connect', { implName: impl.client, url: impl.url(port), scenario: 'restart', count, concurrency: 50, clientOptions }, 300_000),
      ),
    );
    const failed = connected.reduce((s, r) => s + r.failed, 0);
    if (failed > 0) throw new Error(`${failed} of ${params.clients} clients failed to connect: ${connected.flatMap((r) => r.errors.sample).join('; ')}`);

    const rate = ctx.rate ?? params.rate;
    publisher = startPublisher(impl, port, rate);
    // The signal comes at t0, after the steady phase; the prober runs from now until everyone is back.
    const t0 = monoMs() + params.steadyMs;
    await prober.request('probeStart', { url: impl.probeUrl(port), everyMs: params.probeEveryMs, timeoutMs: params.probeTimeoutMs, at: t0 });
    await sleep(Math.max(0, t0 - 100 - monoMs()));
    await everyone('arm', { at: t0 });
    generation.arm(t0);
    await sleep(Math.max(0, t0 - monoMs()));

    let exit;
    let downAt;
    let upAt;
    const milestones = [];
    if (impl.restart === 'cold') {
      generation.signal('SIGTERM');
      exit = await generation.exited;
      downAt = monoMs() - t0;
      if (generation.milestones) milestones.push(...generation.milestones);
      generation = await startGeneration(impl, port, params, local, t0);
      upAt = monoMs() - t0;
    } else {
      generation.signal('SIGHUP');
    }

    // Until every client is back and has had its first live message (its gap is measured; a server
    // slow to accept publishes delays that), or the timeout.
    while (monoMs() - t0 < params.timeoutMs) {
      const status = await everyone('status', {});
      const count = (key) => status.reduce((s, r) => s + r[key], 0);
      if (count('back') === params.clients && count('live') === params.clients) break;
      await sleep(100);
    }
    // Keep the stream going a little, then stop it and let every client catch up with the last message.
    await sleep(params.tailMs);
    const probe = await prober.request('probeStop', {}, 30_000);
    publisher.stopped = true;
    await publisher.done;
    const lastN = publisher.acked.at(-1);
    const settleUntil = monoMs() + params.settleMs;
    while (monoMs() < settleUntil) {
      const caughtUp = (await everyone('status', { lastN })).reduce((s, r) => s + r.caughtUp, 0);
      if (caughtUp === params.clients) break;
      await sleep(100);
    }
    if (generation.milestones) milestones.push(...generation.milestones);

    const results = await everyone('restartResult', { acked: publisher.acked }, 60_000);
    const backTimes = results.flatMap((r) => r.backTimes);
    const gaps = results.flatMap((r) => r.gaps);
    const attemptTimes = results.flatMap((r) => r.attemptTimes);
    const closeTimes = results.flatMap((r) => r.closeTimes);
    const sum = (key) => results.reduce((s, r) => s + r[key], 0);
    const neverBack = sum('neverBack');
    const attempts = sum('attempts');
    // Socket.IO reports failed attempts itself; for the WebSocket-counting clients a failure is an attempt that never opened.
    const failedAttempts = impl.client === 'socketio' ? sum('failedReported') : attempts - sum('opens');
    const herd = herdShape(attemptTimes);
    const q = (p) => (backTimes.length ? round(quantileOf(backTimes, p), 0) : null);
    const steady = results.reduce((h, r) => h.merge(Histogram.from(r.steadyLatency)), new Histogram());
    return {
      restart: impl.restart,
      back50Ms: q(0.5),
      back99Ms: q(0.99),
      back100Ms: neverBack === 0 ? q(1) : null,
      neverBack,
      neverClosed: sum('neverClosed'),
      closedMoreThanOnce: sum('closedMoreThanOnce'),
      gapMs: { ...spread(gaps), noLiveMessage: sum('noLiveMessage'), noMessageBeforeClose: sum('noMessageBeforeClose') },
      gapResolutionMs: round(1000 / rate, 0),
      publishIntervalMs: publishIntervals(publisher.ackedTs, t0),
      steadyLatencyMs: steady.summary(),
      resumed: impl.resumes ? sum('resumed') : null,
      notRecovered: impl.serve ? sum('recoveries') : null,
      attempts,
      failedAttempts,
      herd: { ...herd, bucketMs: BUCKET_MS },
      // Closes per 100 ms from the signal: how the server spread them (a drain's window, a kill's instant).
      closes: (({ buckets, first, last }) => ({ buckets, first, last, bucketMs: BUCKET_MS }))(herdShape(closeTimes)),
      probe,
      published: publisher.acked.length,
      publishAttempts: publisher.attempts,
      lost: sum('lost'),
      clientsWithLoss: sum('clientsWithLoss'),
      duplicates: sum('duplicates'),
      oldProcessExitedMs: downAt === undefined ? null : round(downAt, 0),
      oldProcessExit: exit ?? null,
      newProcessListeningMs: upAt === undefined ? null : round(upAt, 0),
      milestones: generation.milestones ? milestones : null,
      clientErrors: results.reduce((s, r) => s + r.errors.count, 0),
      params: { ...params, rate },
    };
  } finally {
    if (publisher) {
      publisher.stopped = true;
      await publisher.done;
    }
    await stopLoadgens(prober ? [...loadgens, prober] : loadgens);
    // Its clients are gone, so lifeline exits at once (writing its CPU profile, if asked).
    await generation?.stop();
    if (redis) {
      await redis.dropPrefix(local.redisPrefix).catch(() => {});
      await redis.close();
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
}
