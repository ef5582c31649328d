/**
 * The benchmarks still run: `bench/run.mjs all --smoke` (tiny counts, real server and load-generator
 * processes) must run every scenario against every implementation and produce well-formed numbers.
 * No timing is asserted (CI machines vary); only that the numbers exist, are finite, are positive where
 * they must be, and that lifeline's restart storm lost nothing.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
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
  restart: ['lifeline', 'socketio', 'rws'],
};

let outDir: string;
let run: Run;
let output = '';

beforeAll(async () => {
  outDir = mkdtempSync(join(tmpdir(), 'lifeline-bench-smoke-'));
  const child = spawn(process.execPath, [RUNNER, 'all', '--smoke', '--out', outDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const files = readdirSync(outDir).filter((f) => f.endsWith('.json'));
  if (files.length !== 1) throw new Error(`expected one result file in ${outDir}, found ${files.length}; output:\n${output}`);
  run = JSON.parse(readFileSync(join(outDir, files[0]!), 'utf8')) as Run;
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

describe('bench/run.mjs all --smoke', () => {
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

  it('restart storm: everyone came back, the herd was counted, and lifeline lost nothing', () => {
    for (const impl of EXPECTED.restart!) {
      const m = entry('restart', impl);
      expect(m.neverBack, `restart/${impl} clients never back`).toBe(0);
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
    const lifeline = entry('restart', 'lifeline');
    expect(lifeline.lost).toBe(0);
  });
});
