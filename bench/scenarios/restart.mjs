/**
 * Restart storm: N clients subscribed to one channel receive a numbered stream (published over HTTP
 * by the runner, R per second, each publish retried until acknowledged). Then a planned restart of
 * the server process:
 *
 * - lifeline: the real `lifeline serve` CLI (sqlite store). SIGTERM -> it drains, closing every
 *   connection with 1012 at random moments across the drain window and refusing upgrades with 503 ->
 *   exits 0 -> a new process on the same port and data directory. Clients are `createSession`s
 *   (default options): "back" means welcomed on the new process with the session resumed.
 * - baselines (a `ws` server with reconnecting-websocket clients; a Socket.IO server with its
 *   client's default reconnection): SIGTERM ends the process at once ("kill") -> a new process.
 *   "Back" means connected again.
 *
 * Measured from the signal: when 50%, 99% and 100% of clients are back, reconnect attempts per
 * 100 ms (the herd's shape), failed attempts, and acknowledged messages some client never got.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, split, startLoadgens, startServer, stopLoadgens } from '../lib/context.mjs';
import { spawnChild } from '../lib/ipc.mjs';
import { makePayload } from '../lib/payload.mjs';
import { monoMs, quantileOf, round, sleep } from '../lib/stats.mjs';

export const name = 'restart';

const BIN = fileURLToPath(new URL('../../bin/lifeline.js', import.meta.url));
const KEY = 'bench-publish-key-0123456789abcdef';
const BUCKET_MS = 100;

export const modes = {
  full: { clients: 5000, perProcess: 2500, drainWindowMs: 5000, retryHint: { minMs: 1000, maxMs: 5000 }, rate: 10, steadyMs: 2000, timeoutMs: 40_000 },
  quick: { clients: 1000, perProcess: 1000, drainWindowMs: 5000, retryHint: { minMs: 1000, maxMs: 5000 }, rate: 10, steadyMs: 1000, timeoutMs: 30_000 },
  smoke: { clients: 20, perProcess: 20, drainWindowMs: 500, retryHint: { minMs: 100, maxMs: 500 }, rate: 20, steadyMs: 300, timeoutMs: 20_000 },
};

export const implementations = [
  { id: 'lifeline', label: 'lifeline serve (sqlite) + createSession: SIGTERM drain, 1012, resume', kind: 'lifeline', client: 'lifeline-v1', url: (p) => `ws://127.0.0.1:${p}/` },
  { id: 'socketio', label: 'Socket.IO 4 + client default reconnection: kill + restart', kind: 'socketio', client: 'socketio', url: (p) => `http://127.0.0.1:${p}` },
  { id: 'rws', label: 'ws + reconnecting-websocket defaults: kill + restart', kind: 'ws', client: 'rws', url: (p) => `ws://127.0.0.1:${p}/` },
];

/** One generation of the server process, lifeline's CLI or a bench server. */
async function startGeneration(impl, port, params, ctx) {
  if (impl.kind === 'lifeline') {
    const config = join(ctx.dataDir, 'config.json');
    writeFileSync(config, JSON.stringify({ drainWindowMs: params.drainWindowMs, retryHint: params.retryHint }));
    let resolveListening;
    const listening = new Promise((resolve) => (resolveListening = resolve));
    const execArgv = ctx.profileDir ? ['--cpu-prof', '--cpu-prof-dir', ctx.profileDir] : [];
    const proc = spawnChild(process.execPath, [...execArgv, BIN, 'serve', '--port', String(port), '--store', 'sqlite', '--data-dir', ctx.dataDir, '--publish-key', KEY, '--config', config, '--log-level', 'info'], {
      onLine: (line) => {
        if (line.includes('"listening"')) resolveListening();
      },
    });
    const exited = proc.exited.then((e) => {
      resolveListening();
      return e;
    });
    await Promise.race([listening, sleep(30_000)]);
    if (proc.child.exitCode !== null) throw new Error(`lifeline serve exited at start:\n${proc.tail.join('\n')}`);
    return { signal: (s) => proc.kill(s), exited, tail: proc.tail };
  }
  const server = await startServer(ctx, { implName: impl.kind, scenario: 'restart', port, label: `restart-${impl.id}` });
  return { signal: (s) => server.kill(s), exited: server.exited, tail: server.tail };
}

function post(port, body, headers) {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/publish', method: 'POST', headers: { 'content-type': 'application/json', ...headers }, agent: false, timeout: 1000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(false));
    req.end(body);
  });
}

/** Publish n = 1, 2, ... at `rate` per second; each is retried (same n, same idempotency key) until acknowledged. */
function startPublisher(impl, port, rate) {
  const state = { acked: [], attempts: 0, stopped: false };
  state.done = (async () => {
    let n = 0;
    const interval = 1000 / rate;
    let next = monoMs();
    while (!state.stopped) {
      n += 1;
      const payload = makePayload(n, 128);
      for (;;) {
        state.attempts += 1;
        const ok =
          impl.kind === 'lifeline'
            ? await post(port, JSON.stringify({ channel: 'bench', data: payload, idempotencyKey: `bench-${n}` }), { authorization: `Bearer ${KEY}` })
            : await post(port, JSON.stringify(payload));
        if (ok) break;
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

export async function run(impl, params, ctx) {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'lifeline-bench-restart-'));
  const local = { ...ctx, dataDir };
  let generation = await startGeneration(impl, port, params, local);
  const procs = Math.max(1, Math.ceil(params.clients / params.perProcess));
  const loadgens = startLoadgens(procs, ctx);
  const everyone = (type, payload, timeout) => Promise.all(loadgens.map((lg) => lg.request(type, payload, timeout)));
  let publisher;
  try {
    const connected = await Promise.all(
      split(params.clients, procs).map((count, i) => loadgens[i].request('connect', { implName: impl.client, url: impl.url(port), scenario: 'restart', count, concurrency: 50 }, 300_000)),
    );
    const failed = connected.reduce((s, r) => s + r.failed, 0);
    if (failed > 0) throw new Error(`${failed} of ${params.clients} clients failed to connect: ${connected.flatMap((r) => r.errors.sample).join('; ')}`);

    publisher = startPublisher(impl, port, params.rate);
    await sleep(params.steadyMs);

    // Arm the clients, then signal at exactly t0.
    const t0 = monoMs() + 100;
    await everyone('arm', { at: t0 });
    await sleep(Math.max(0, t0 - monoMs()));
    generation.signal('SIGTERM');
    const exit = await generation.exited;
    const downAt = monoMs() - t0;
    generation = await startGeneration(impl, port, params, local);
    const upAt = monoMs() - t0;

    // Until every client is back, or the timeout.
    let back = 0;
    while (monoMs() - t0 < params.timeoutMs) {
      back = (await everyone('status', {})).reduce((s, r) => s + r.back, 0);
      if (back === params.clients) break;
      await sleep(100);
    }
    // Keep the stream going a little, then stop it and let every client catch up with the last message.
    await sleep(1000);
    publisher.stopped = true;
    await publisher.done;
    const lastN = publisher.acked.at(-1);
    const settleUntil = monoMs() + 5000;
    while (monoMs() < settleUntil) {
      const caughtUp = (await everyone('status', { lastN })).reduce((s, r) => s + r.caughtUp, 0);
      if (caughtUp === params.clients) break;
      await sleep(100);
    }

    const results = await everyone('restartResult', { acked: publisher.acked }, 60_000);
    const backTimes = results.flatMap((r) => r.backTimes);
    const attemptTimes = results.flatMap((r) => r.attemptTimes);
    const sum = (key) => results.reduce((s, r) => s + r[key], 0);
    const neverBack = sum('neverBack');
    const attempts = sum('attempts');
    // Socket.IO reports failed attempts itself; for the WebSocket-counting clients a failure is an attempt that never opened.
    const failedAttempts = impl.client === 'socketio' ? sum('failedReported') : attempts - sum('opens');
    const herd = herdShape(attemptTimes);
    const q = (p) => (backTimes.length ? round(quantileOf(backTimes, p), 0) : null);
    return {
      back50Ms: q(0.5),
      back99Ms: q(0.99),
      back100Ms: neverBack === 0 ? q(1) : null,
      neverBack,
      resumed: impl.kind === 'lifeline' ? sum('resumed') : null,
      notRecovered: impl.kind === 'lifeline' ? sum('recoveries') : null,
      attempts,
      failedAttempts,
      herd: { ...herd, bucketMs: BUCKET_MS },
      published: publisher.acked.length,
      publishAttempts: publisher.attempts,
      lost: sum('lost'),
      clientsWithLoss: sum('clientsWithLoss'),
      duplicates: sum('duplicates'),
      oldProcessExitedMs: round(downAt, 0),
      oldProcessExit: exit,
      newProcessListeningMs: round(upAt, 0),
      clientErrors: results.reduce((s, r) => s + r.errors.count, 0),
      params,
    };
  } finally {
    if (publisher) {
      publisher.stopped = true;
      await publisher.done;
    }
    await stopLoadgens(loadgens);
    // SIGTERM first (its clients are gone, so lifeline exits at once, writing its CPU profile if asked), then SIGKILL.
    generation.signal('SIGTERM');
    const timer = setTimeout(() => generation.signal('SIGKILL'), 10_000);
    await generation.exited;
    clearTimeout(timer);
    rmSync(dataDir, { recursive: true, force: true });
  }
}
