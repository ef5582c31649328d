#!/usr/bin/env node
/**
 * lifeline benchmarks against raw `ws`, Socket.IO 4 and reconnecting-websocket, in one invocation.
 *
 *   npm run bench -- <echo|fanout|idle|restart|scaleout|durability|all|a,b> [--quick | --smoke] [options]
 *
 * Every scenario runs each implementation in turn, with the server and the load generator(s) in
 * separate processes on loopback. Needs the compiled library (dist/, built by `npm ci` / `npm run build`).
 *
 * Options:
 *   --quick            smaller counts and windows (`all` in under 5 minutes)
 *   --smoke            tiny counts, a few seconds per scenario (CI: test/integration/bench-smoke.test.ts)
 *   --only a,b         run only these implementations (ids as printed)
 *   --rate N           fan-out and restart-storm publish rate, messages per second
 *   --rounds N         echo, fan-out: rounds per implementation, in alternating order (full mode: 2)
 *   --out DIR          where the JSON result goes (default bench/results)
 *   --profile          run servers and load generators with --cpu-prof (profiles in <out>/profiles;
 *                      summarise one with `node bench/profile-top.mjs <file>`)
 *   --heap-snapshot    idle: write the server's heap snapshot once connected (<out>/heap;
 *                      summarise with `node bench/heap-top.mjs <file>`)
 *   --markdown         print the tables as Markdown
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BENCH_DIR, ROOT, machineFacts } from './lib/context.mjs';
import { killAll } from './lib/ipc.mjs';
import { renderTables } from './lib/report.mjs';
import * as durability from './scenarios/durability.mjs';
import * as echo from './scenarios/echo.mjs';
import * as fanout from './scenarios/fanout.mjs';
import * as idle from './scenarios/idle.mjs';
import * as restart from './scenarios/restart.mjs';
import * as scaleout from './scenarios/scaleout.mjs';

const SCENARIOS = { echo, fanout, idle, restart, scaleout, durability };

function usage(message) {
  if (message) console.error(`bench: ${message}`);
  console.error('usage: npm run bench -- <echo|fanout|idle|restart|scaleout|durability|all|a,b> [--quick | --smoke] [--only ids] [--rate N] [--rounds N] [--out DIR] [--profile] [--heap-snapshot] [--markdown]');
  process.exit(2);
}

const { values, positionals } = parseArgs({
  args: process.argv.slice(2),
  options: {
    quick: { type: 'boolean' },
    smoke: { type: 'boolean' },
    only: { type: 'string' },
    rate: { type: 'string' },
    rounds: { type: 'string' },
    out: { type: 'string' },
    profile: { type: 'boolean' },
    'heap-snapshot': { type: 'boolean' },
    markdown: { type: 'boolean' },
  },
  allowPositionals: true,
  strict: true,
});

const target = positionals[0];
// `all`, one scenario, or several separated by commas (echo,idle), run in the order given.
const chosen = target === 'all' ? Object.keys(SCENARIOS) : (target ?? '').split(',');
if (positionals.length !== 1 || chosen.some((s) => !(s in SCENARIOS))) usage(positionals.length === 0 ? 'which scenario?' : `unknown scenario ${positionals.join(' ')}`);
if (values.quick && values.smoke) usage('--quick or --smoke, not both');
if (!existsSync(join(ROOT, 'dist', 'server', 'index.js'))) usage('dist/ is missing: run `npm run build` first');
const mode = values.smoke ? 'smoke' : values.quick ? 'quick' : 'full';
const only = values.only ? new Set(values.only.split(',')) : undefined;
const outDir = values.out ?? join(BENCH_DIR, 'results');
mkdirSync(outDir, { recursive: true });
const ctx = {
  mode,
  rate: values.rate !== undefined ? Number(values.rate) : undefined,
  profileDir: values.profile ? join(outDir, 'profiles') : undefined,
  heapDir: values['heap-snapshot'] ? join(outDir, 'heap') : undefined,
};
if (ctx.profileDir) mkdirSync(ctx.profileDir, { recursive: true });
if (ctx.heapDir) mkdirSync(ctx.heapDir, { recursive: true });

process.on('SIGINT', () => {
  killAll();
  process.exit(130);
});

const started = new Date();
const facts = machineFacts();
const command = `npm run bench -- ${process.argv.slice(2).join(' ')}`;
console.log(`lifeline bench, ${mode} mode: node ${facts.node}, ws ${facts.versions.ws}, socket.io ${facts.versions['socket.io']}, lifeline ${facts.versions.lifeline} @ ${facts.commit}${facts.srcDirty === true ? ' (src/ modified)' : ''}`);
console.log(`${facts.cores} cores (${facts.cpuModel}), ${facts.ramGiB} GiB RAM, fd limit ${facts.fdLimit}\n`);

const results = [];
for (const scenario of chosen.map((s) => SCENARIOS[s])) {
  const params = scenario.modes[mode];
  const impls = (scenario.implementationsFor?.(mode) ?? scenario.implementations).filter((impl) => !only || only.has(impl.id));
  // Several rounds in alternating order (A B C, C B A, ...), so drifting load on a shared machine
  // hits every implementation alike; the rounds are then combined (see each scenario's `combine`).
  const rounds = values.rounds !== undefined ? Number(values.rounds) : (params.rounds ?? 1);
  if (rounds > 1 && !scenario.combine) usage(`${scenario.name} runs one round only`);
  const entries = new Map(impls.map((impl) => [impl.id, { scenario: scenario.name, impl: impl.id, label: impl.label, mode, rounds: [], loadAvg1: [] }]));
  for (let round = 0; round < rounds; round++) {
    for (const impl of round % 2 === 0 ? impls : [...impls].reverse()) {
      const entry = entries.get(impl.id);
      if (entry.error) continue;
      const t = Date.now();
      process.stdout.write(`${scenario.name.padEnd(8)} ${impl.id.padEnd(16)}${rounds > 1 ? ` #${round + 1}` : ''} `);
      // The machine's load when this run started: other work on a shared machine shows up here.
      const load = Math.round(os.loadavg()[0] * 100) / 100;
      entry.loadAvg1.push(load);
      try {
        const metrics = await scenario.run(impl, params, ctx);
        entry.rounds.push(metrics);
        console.log(`${summaryOf(scenario.name, metrics)}  (${((Date.now() - t) / 1000).toFixed(1)} s, load ${load})`);
      } catch (error) {
        entry.error = error instanceof Error ? error.message : String(error);
        console.log(`FAILED: ${entry.error.split('\n')[0]}`);
        if (process.env.BENCH_VERBOSE) console.error(entry.error);
      }
      entry.seconds = Math.round(((entry.seconds ?? 0) + (Date.now() - t) / 1000) * 10) / 10;
      // Let sockets of the previous run finish closing before the next one measures (smoke mode measures nothing).
      await new Promise((r) => setTimeout(r, mode === 'smoke' ? 50 : 300));
    }
  }
  for (const entry of entries.values()) {
    if (!entry.error) {
      entry.metrics = entry.rounds.length > 1 ? scenario.combine(entry.rounds) : entry.rounds[0];
      if (entry.rounds.length > 1) console.log(`${scenario.name.padEnd(8)} ${entry.impl.padEnd(16)} all rounds: ${summaryOf(scenario.name, entry.metrics)}`);
    }
    for (const m of [entry.metrics, ...entry.rounds]) if (m) delete m.raw;
    if (entry.rounds.length <= 1) delete entry.rounds;
    results.push(entry);
  }
}

console.log('');
console.log(renderTables(results, { markdown: values.markdown === true }));
const elapsed = Math.round((Date.now() - started.getTime()) / 1000);
const file = join(outDir, `${started.toISOString().replace(/[:.]/g, '-')}-${target === 'all' ? 'all' : chosen.join('+')}-${mode}.json`);
writeFileSync(file, `${JSON.stringify({ command, mode, target, startedAt: started.toISOString(), elapsedSeconds: elapsed, facts, results }, null, 2)}\n`);
console.log(`${results.length} runs in ${elapsed} s; results: ${file}`);
killAll();
process.exit(results.some((r) => r.error) ? 1 : 0);

function summaryOf(name, m) {
  switch (name) {
    case 'echo':
      return `${m.roundTripsPerSec.toLocaleString('en-US')} round trips/s, p50 ${m.latencyMs.p50} ms, p99 ${m.latencyMs.p99} ms, server CPU ${m.serverCpuPct}%, client CPU ${m.clientCpuUsPerRoundTrip} us/round trip`;
    case 'fanout':
      return `steady ${m.deliveredPerSec.toLocaleString('en-US')} delivered/s of ${m.offeredPerSec.toLocaleString('en-US')}, p50 ${m.latencyMs.p50} ms, p99 ${m.latencyMs.p99} ms; max ${m.maxDeliveredPerSec.toLocaleString('en-US')}/s at ${m.maxServerCpuUsPerDelivery} us server CPU each (${m.maxServerCpuPct}%)`;
    case 'idle':
      return `${m.rssPerConn} B RSS, ${m.heapPerConn} B heap, ${m.externalPerConn} B external per connection (${m.params.connections} in ${m.connectSeconds} s)`;
    case 'scaleout':
      if (m.skipped) return `skipped: ${m.skipped}`;
      return `${m.deliveriesPerSec.toLocaleString('en-US')} delivered/s of ${m.offeredPerSec.toLocaleString('en-US')}; received/needed per node ${m.nodes.map((n) => n.receivedPerNeeded).join(', ')}; server CPU per delivery ${m.nodes.map((n) => n.serverCpuUsPerDelivery).join(', ')} us; p99 ${m.latencyMs.p99} ms`;
    case 'durability':
      if (m.skipped) return `skipped: ${m.skipped}`;
      return `sequential p50 ${m.sequential.latencyMs.p50} ms, p99 ${m.sequential.latencyMs.p99} ms (${m.sequential.appendsPerSec.toLocaleString('en-US')}/s); ${m.params.concurrency} concurrent: ${m.concurrent.appendsPerSec.toLocaleString('en-US')} appends/s, p50 ${m.concurrent.latencyMs.p50} ms, p99 ${m.concurrent.latencyMs.p99} ms; short of replicas ${m.replicationShort}`;
    case 'restart':
      return `back 50% ${m.back50Ms} ms, 99% ${m.back99Ms} ms, 100% ${m.back100Ms ?? `never (${m.neverBack} missing)`} ms; gap p50 ${m.gapMs.p50} p99 ${m.gapMs.p99} max ${m.gapMs.max} ms; ${m.attempts} attempts (${m.failedAttempts} failed), peak/mean ${m.herd.peakToMean}; probes not upgraded ${m.probe.notUpgraded} of ${m.probe.sent}; lost ${m.lost} of ${m.published}x${m.params.clients}`;
    default:
      return '';
  }
}
