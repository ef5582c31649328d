/**
 * The benchmarks still run: `bench/run.mjs <scenarios> --smoke` (tiny counts, real server and
 * load-generator processes; `restart` and `echo,fanout,idle` in two runners at once) must run every
 * scenario against every implementation and produce well-formed numbers.
 * No timing is asserted (CI machines vary); only that the numbers exist, are finite, are positive where
 * they must be, and that lifeline's restart storms (cold, SIGHUP, --workers on Redis) lost nothing.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const RUNNER = fileURLToPath(new URL('../../bench/run.mjs', import.meta.url));

interface Latency {
  count: number;
  p50: number;
  p99: number;
}
interface Entry {
  scenario: string;
  impl: string;
  error?: string;
  metrics?: Record<string, unknown> & { latencyMs?: Latency };
}
interface Run {
  mode: string;
  facts: { node: string; versions: Record<string, string>; cores: number };
  results: Entry[];
}

const EXPECTED: Record<string, string[]> = {
  echo: ['lifeline', 'lifeline-v1', 'lifeline-server', 'lifeline-v1-server', 'ws', 'socketio', 'socketio-ack'],
  fanout: ['lifeline-memory', 'lifeline-sqlite', 'ws', 'socketio'],
  idle: ['lifeline', 'lifeline-v1', 'ws', 'socketio'],
  restart: ['lifeline', 'lifeline-zerodark', 'lifeline-workers', 'socketio', 'socketio-csr', 'socketio-csr-cycle', 'rws'],
  scaleout: ['lifeline-cluster-3', 'lifeline-redis-2', 'socketio-cluster-3'],
  durability: ['primary', 'replicas'],
};

/** The restart variants whose clients resume: nothing published may be missing at any of them. */
const LIFELINE_RESTARTS = ['lifeline', 'lifeline-zerodark', 'lifeline-workers'];

let outDir: string;
let run: Run;
let output = '';

/** Run the bench runner on `scenarios` in smoke mode; resolves with its result file. */
async function smoke(scenarios: string, out: string): Promise<Run> {
  const child = spawn(process.execPath, [RUNNER, scenarios, '--smoke', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const files = readdirSync(out).filter((f) => f.endsWith('.json'));
  if (files.length !== 1) throw new Error(`expected one result file in ${out}, found ${files.length}; output:\n${output}`);
  return JSON.parse(readFileSync(join(out, files[0]!), 'utf8')) as Run;
}

beforeAll(async () => {
  outDir = mkdtempSync(join(tmpdir(), 'lifeline-bench-smoke-'));
  // Two runners side by side: the restart storms mostly wait for reconnections, the others mostly
  // compute, so together they take about as long as the longer one. Nothing here is timed.
  mkdirSync(join(outDir, 'restart'));
  mkdirSync(join(outDir, 'rest'));
  const [storms, rest] = await Promise.all([smoke('restart', join(outDir, 'restart')), smoke('echo,fanout,idle,scaleout,durability', join(outDir, 'rest'))]);
  run = { ...rest, results: [...rest.results, ...storms.results] };
}, 240_000);

afterAll(() => {
  if (outDir) rmSync(outDir, { recursive: true, force: true });
});

function entry(scenario: string, impl: string): Record<string, unknown> & { latencyMs?: Latency } {
  const found = run.results.find((r) => r.scenario === scenario && r.impl === impl);
  expect(found, `${scenario}/${impl} missing; output:\n${output}`).toBeDefined();
  expect(found!.error, `${scenario}/${impl} failed`).toBeUndefined();
  return found!.metrics!;
}

function positive(value: unknown, what: string): void {
  expect(typeof value, what).toBe('number');
  expect(Number.isFinite(value), `${what} finite`).toBe(true);
  expect(value as number, what).toBeGreaterThan(0);
}

function finite(value: unknown, what: string): void {
  expect(typeof value, what).toBe('number');
  expect(Number.isFinite(value), `${what} finite`).toBe(true);
}

describe('bench/run.mjs --smoke: every scenario, every implementation', () => {
  it('records the versions and the machine', () => {
    expect(run.mode).toBe('smoke');
    expect(run.facts.node).toMatch(/^v\d+/);
    expect(run.facts.versions.ws).toMatch(/^\d+\./);
    expect(run.facts.versions['socket.io']).toMatch(/^4\./);
    expect(run.facts.cores).toBeGreaterThan(0);
  });

  it('ran every scenario against every implementation, and nothing else failed', () => {
    const ran = run.results.map((r) => `${r.scenario}/${r.impl}`).sort();
    const expected = Object.entries(EXPECTED).flatMap(([s, impls]) => impls.map((i) => `${s}/${i}`)).sort();
    expect(ran).toEqual(expected);
    expect(run.results.filter((r) => r.error).map((r) => `${r.scenario}/${r.impl}: ${r.error}`)).toEqual([]);
  });

  it('echo: round trips per second and latencies', () => {
    for (const impl of EXPECTED.echo!) {
      const m = entry('echo', impl);
      positive(m.roundTripsPerSec, `echo/${impl} round trips/s`);
      positive(m.latencyMs!.count, `echo/${impl} samples`);
      positive(m.latencyMs!.p50, `echo/${impl} p50`);
      positive(m.latencyMs!.p99, `echo/${impl} p99`);
      expect(m.latencyMs!.p99).toBeGreaterThanOrEqual(m.latencyMs!.p50);
      finite(m.serverCpuPct, `echo/${impl} server CPU`);
      // The load generator's own CPU over the window, per round trip: the client side's cost.
      positive(m.clientCpuUsPerRoundTrip, `echo/${impl} client CPU per round trip`);
    }
  });

  it('fan-out: deliveries per second and delivery latencies', () => {
    for (const impl of EXPECTED.fanout!) {
      const m = entry('fanout', impl);
      positive(m.deliveredPerSec, `fanout/${impl} delivered/s`);
      positive(m.maxDeliveredPerSec, `fanout/${impl} max delivered/s`);
      positive(m.latencyMs!.p50, `fanout/${impl} p50`);
      positive(m.latencyMs!.p99, `fanout/${impl} p99`);
    }
  });

  it('idle: memory per connection, read after garbage collection', () => {
    for (const impl of EXPECTED.idle!) {
      const m = entry('idle', impl);
      expect(m.gcExposed, `idle/${impl} ran with --expose-gc`).toBe(true);
      finite(m.rssPerConn, `idle/${impl} RSS per connection`);
      positive(m.heapPerConn, `idle/${impl} heap per connection`);
      finite(m.externalPerConn, `idle/${impl} external per connection`);
    }
  });

  it('multi-node fan-out: per node, appends received from Redis against those its clients need (the Socket.IO baseline may be skipped)', () => {
    for (const impl of EXPECTED.scaleout!) {
      const m = entry('scaleout', impl) as Record<string, unknown> & { skipped?: string; nodes?: Record<string, number | null>[] };
      if (m.skipped !== undefined) {
        // Only an optional baseline may be skipped, and it says why in one line.
        expect(impl.startsWith('socketio'), `scaleout/${impl} skipped: ${m.skipped}`).toBe(true);
        expect(m.skipped).toMatch(/not installed|redis-server/);
        continue;
      }
      expect(m.nodes!.length).toBe(Number(impl.at(-1)));
      for (const n of m.nodes!) {
        positive(n.receivedFromRedis, `scaleout/${impl} node ${n.node} received`);
        positive(n.neededByClients, `scaleout/${impl} node ${n.node} needed`);
        positive(n.deliveriesPerSec, `scaleout/${impl} node ${n.node} delivered/s`);
        finite(n.serverCpuUsPerDelivery, `scaleout/${impl} node ${n.node} CPU per delivery`);
        // Interest: a node receives what its clients need, give or take the few messages in flight at the
        // window's edges (broadcast would be about nodes x needed).
        if (impl.startsWith('lifeline')) expect(n.receivedFromRedis!, `scaleout/${impl} node ${n.node} received`).toBeLessThanOrEqual(n.neededByClients! * 1.1 + 3);
      }
    }
  });

  it('durability: publish latency and throughput acknowledged by the primary, and by a replica too', () => {
    for (const impl of EXPECTED.durability!) {
      const m = entry('durability', impl) as Record<string, unknown> & { sequential: { appendsPerSec: number; latencyMs: Latency }; concurrent: { appendsPerSec: number; latencyMs: Latency }; replicationShort: number };
      positive(m.sequential.appendsPerSec, `durability/${impl} sequential appends/s`);
      positive(m.sequential.latencyMs.p50, `durability/${impl} sequential p50`);
      positive(m.concurrent.appendsPerSec, `durability/${impl} concurrent appends/s`);
      expect(m.concurrent.latencyMs.p99).toBeGreaterThanOrEqual(m.concurrent.latencyMs.p50);
      // A healthy replica acknowledges everything: nothing was answered "outcome unknown".
      expect(m.replicationShort, `durability/${impl} short of replicas`).toBe(0);
    }
  });

  it('restart storm: everyone came back, the herd was counted, and lifeline lost nothing', () => {
    for (const impl of EXPECTED.restart!) {
      const m = entry('restart', impl);
      expect(m.neverBack, `restart/${impl} clients never back`).toBe(0);
      expect(m.neverClosed, `restart/${impl} clients the restart never closed`).toBe(0);
      finite(m.back50Ms, `restart/${impl} 50% back`);
      finite(m.back100Ms, `restart/${impl} 100% back`);
      positive(m.attempts, `restart/${impl} reconnect attempts`);
      finite(m.failedAttempts, `restart/${impl} failed attempts`);
      positive(m.published, `restart/${impl} published`);
      finite(m.lost, `restart/${impl} lost`);
      const herd = m.herd as { buckets: number[]; peakToMean: number };
      expect(herd.buckets.length).toBeGreaterThan(0);
      positive(herd.peakToMean, `restart/${impl} peak/mean`);
    }
    for (const impl of LIFELINE_RESTARTS) {
      const m = entry('restart', impl);
      expect(m.lost, `restart/${impl} lost`).toBe(0);
      expect(m.resumed, `restart/${impl} resumed`).toBe((m.params as { clients: number }).clients);
    }
  });

  it('restart storm: a gap for every client, and the prober accounted for every probe', () => {
    for (const impl of EXPECTED.restart!) {
      const m = entry('restart', impl);
      const clients = (m.params as { clients: number }).clients;
      const gap = m.gapMs as { p50: number; p99: number; max: number; count: number; noLiveMessage: number };
      // Every client was closed, came back and caught up with the last message (published after all
      // were back, so live): each one's gap was measured.
      expect(gap.count, `restart/${impl} clients with a gap`).toBe(clients);
      expect(gap.noLiveMessage, `restart/${impl} outages without a live message`).toBe(0);
      positive(gap.p50, `restart/${impl} gap p50`);
      expect(gap.p99).toBeGreaterThanOrEqual(gap.p50);
      expect(gap.max).toBeGreaterThanOrEqual(gap.p99);
      const probe = m.probe as { sent: number; upgraded: number; notUpgraded: number };
      positive(probe.sent, `restart/${impl} probes`);
      expect(probe.upgraded + probe.notUpgraded, `restart/${impl} probes accounted for`).toBe(probe.sent);
    }
  });
});
