/**
 * Ratios (lifeline / baseline) and the targets, computed from one run's results, printed as a
 * plain table (terminal) or Markdown (RESULTS.md).
 */
import { round } from './stats.mjs';

function metric(results, scenario, impl, path) {
  const r = results.find((x) => x.scenario === scenario && x.impl === impl);
  if (!r || !r.metrics) return undefined;
  let v = r.metrics;
  for (const key of path.split('.')) v = v?.[key];
  return typeof v === 'number' ? v : undefined;
}

function ratio(a, b) {
  return a === undefined || b === undefined || b === 0 ? undefined : round(a / b, 2);
}

/**
 * Rows of the ratio table: what is compared, the two values, their ratio, the target (if the issue
 * sets one) and whether it was met.
 */
export function ratioRows(results) {
  const rows = [];
  const add = (scenario, what, impl, base, path, unit, target) => {
    const a = metric(results, scenario, impl, path);
    const b = metric(results, scenario, base, path);
    if (a === undefined && b === undefined) return;
    const r = ratio(a, b);
    let met;
    if (target && r !== undefined) met = target.op === '>=' ? r >= target.value : r <= target.value;
    rows.push({ scenario, what, impl, base, a, b, unit, ratio: r, target: target ? `${target.op} ${target.value}x` : '', met });
  };
  add('echo', 'round trips/s', 'lifeline', 'ws', 'roundTripsPerSec', '/s', { op: '>=', value: 0.9 });
  add('echo', 'p99 latency', 'lifeline', 'ws', 'latencyMs.p99', 'ms', { op: '<=', value: 1.2 });
  // Issue 14's targets for the acked path: >= 0.8x raw ws, >= 1.5x Socket.IO's emitWithAck (its fair baseline).
  add('echo', 'round trips/s', 'lifeline-v1', 'ws', 'roundTripsPerSec', '/s', { op: '>=', value: 0.8 });
  add('echo', 'p99 latency', 'lifeline-v1', 'ws', 'latencyMs.p99', 'ms');
  add('echo', 'round trips/s (acked)', 'lifeline-v1', 'socketio-ack', 'roundTripsPerSec', '/s', { op: '>=', value: 1.5 });
  add('echo', 'p99 latency (acked)', 'lifeline-v1', 'socketio-ack', 'latencyMs.p99', 'ms');
  add('echo', 'round trips/s', 'lifeline-server', 'ws', 'roundTripsPerSec', '/s');
  add('echo', 'p99 latency', 'lifeline-server', 'ws', 'latencyMs.p99', 'ms');
  add('echo', 'round trips/s', 'lifeline', 'socketio', 'roundTripsPerSec', '/s');
  add('echo', 'server CPU us/round trip', 'lifeline', 'ws', 'serverCpuUsPerRoundTrip', 'us');
  add('echo', 'client CPU us/round trip', 'lifeline', 'ws', 'clientCpuUsPerRoundTrip', 'us');
  add('echo', 'client CPU us/round trip', 'lifeline-v1', 'ws', 'clientCpuUsPerRoundTrip', 'us');
  add('echo', 'client CPU us/round trip (acked)', 'lifeline-v1', 'socketio-ack', 'clientCpuUsPerRoundTrip', 'us');
  add('fanout', 'delivered/s at steady rate', 'lifeline-memory', 'ws', 'deliveredPerSec', '/s', { op: '>=', value: 0.9 });
  add('fanout', 'delivered/s at steady rate', 'lifeline-sqlite', 'ws', 'deliveredPerSec', '/s', { op: '>=', value: 0.5 });
  add('fanout', 'p99 delivery latency (steady)', 'lifeline-memory', 'ws', 'latencyMs.p99', 'ms');
  add('fanout', 'p99 delivery latency (steady)', 'lifeline-sqlite', 'ws', 'latencyMs.p99', 'ms');
  add('fanout', 'max delivered/s', 'lifeline-memory', 'ws', 'maxDeliveredPerSec', '/s', { op: '>=', value: 0.9 });
  add('fanout', 'max delivered/s', 'lifeline-sqlite', 'ws', 'maxDeliveredPerSec', '/s', { op: '>=', value: 0.5 });
  add('fanout', 'server CPU us/delivery (max)', 'lifeline-memory', 'ws', 'maxServerCpuUsPerDelivery', 'us');
  add('fanout', 'server CPU us/delivery (max)', 'lifeline-sqlite', 'ws', 'maxServerCpuUsPerDelivery', 'us');
  add('fanout', 'max delivered/s', 'lifeline-memory', 'socketio', 'maxDeliveredPerSec', '/s');
  add('idle', 'RSS/connection', 'lifeline', 'ws', 'rssPerConn', 'B', { op: '<=', value: 1.25 });
  add('idle', 'RSS/connection', 'lifeline', 'socketio', 'rssPerConn', 'B', { op: '<=', value: 0.5 });
  add('idle', 'heap+external/connection', 'lifeline', 'ws', 'heapPlusExternalPerConn', 'B', { op: '<=', value: 1.25 });
  add('idle', 'heap+external/connection', 'lifeline', 'socketio', 'heapPlusExternalPerConn', 'B', { op: '<=', value: 0.5 });
  add('idle', 'RSS/connection', 'lifeline-v1', 'ws', 'rssPerConn', 'B', { op: '<=', value: 1.5 });
  add('idle', 'RSS/connection', 'lifeline-v1', 'socketio', 'rssPerConn', 'B');
  add('idle', 'heap+external/connection', 'lifeline-v1', 'ws', 'heapPlusExternalPerConn', 'B');
  add('idle', 'heap+external/connection', 'lifeline-v1', 'socketio', 'heapPlusExternalPerConn', 'B');
  return rows;
}

/**
 * Issue 14's absolute targets per restart variant (none for the baselines, shown beside lifeline).
 * `lifeline-zerodark` is held to the zero-dark targets whatever `serve` does on SIGHUP today.
 */
function restartTargets(impl, m) {
  const window = m.params.drainWindowMs;
  const checks = [];
  const check = (label, met) => checks.push({ label, met });
  if (impl === 'lifeline') {
    check(`100% back <= ${window + 5000} ms`, m.back100Ms !== null && m.back100Ms <= window + 5000);
    check('peak/mean <= 3', m.herd.peakToMean <= 3);
    check('0 lost', m.lost === 0);
  } else if (impl === 'lifeline-zerodark') {
    check('p99 gap <= 1 s', m.gapMs.p99 !== null && m.gapMs.p99 <= 1000);
    check('max gap <= 2 s', m.gapMs.max !== null && m.gapMs.max <= 2000);
    check(`100% back <= ${window + 1000} ms`, m.back100Ms !== null && m.back100Ms <= window + 1000);
    check('0 failed attempts', m.failedAttempts === 0);
    check('peak/mean <= 2', m.herd.peakToMean <= 2);
    check('0 lost', m.lost === 0);
    check('prober never refused', m.probe.notUpgraded === 0);
  } else if (impl === 'lifeline-workers') {
    check('0 lost', m.lost === 0);
  }
  return checks;
}

/** One row per restart-storm run: return times, gaps, the herd, the prober, losses and the targets. */
export function restartRows(results) {
  const rows = [];
  for (const r of results.filter((x) => x.scenario === 'restart' && x.metrics)) {
    const m = r.metrics;
    rows.push({
      impl: r.impl,
      back50: m.back50Ms,
      back99: m.back99Ms,
      back100: m.back100Ms,
      neverBack: m.neverBack,
      gap50: m.gapMs.p50,
      gap99: m.gapMs.p99,
      gapMax: m.gapMs.max,
      resumed: m.resumed,
      attempts: m.attempts,
      failed: m.failedAttempts,
      peakToMean: m.herd.peakToMean,
      steadyP99: m.steadyLatencyMs?.p99,
      probesFailed: m.probe.notUpgraded,
      probes: m.probe.sent,
      lost: m.lost,
      published: m.published,
      targets: restartTargets(r.impl, m),
    });
  }
  return rows;
}

/** Every echo implementation with its server's and its client side's CPU per round trip. */
export function echoRows(results) {
  const echo = results.filter((x) => x.scenario === 'echo' && x.metrics);
  const wsClient = echo.find((x) => x.impl === 'ws')?.metrics.clientCpuUsPerRoundTrip;
  return echo.map((r) => ({
    impl: r.impl,
    roundTrips: r.metrics.roundTripsPerSec,
    p50: r.metrics.latencyMs.p50,
    p99: r.metrics.latencyMs.p99,
    serverCpu: r.metrics.serverCpuUsPerRoundTrip,
    clientCpu: r.metrics.clientCpuUsPerRoundTrip,
    clientVsWs: ratio(r.metrics.clientCpuUsPerRoundTrip, wsClient),
  }));
}

/** A compact picture of the herd: one character per 100 ms bucket, height by attempts. */
export function sparkline(buckets, width = 120) {
  if (!buckets || buckets.length === 0) return '';
  const step = Math.max(1, Math.ceil(buckets.length / width));
  const merged = [];
  for (let i = 0; i < buckets.length; i += step) merged.push(buckets.slice(i, i + step).reduce((a, b) => a + b, 0));
  const max = Math.max(...merged);
  const bars = ' ▁▂▃▄▅▆▇█';
  return merged.map((v) => (v === 0 ? '·' : bars[Math.max(1, Math.ceil((v / max) * 8))])).join('');
}

const fmt = (v) => (v === undefined || v === null ? '—' : typeof v === 'number' ? (Math.abs(v) >= 1000 ? Math.round(v).toLocaleString('en-US') : String(v)) : String(v));
const verdict = (met) => (met === undefined ? '' : met ? 'met' : 'MISSED');

/** The ratio table and the restart table as text (`markdown` for RESULTS.md). */
export function renderTables(results, { markdown = false } = {}) {
  const rows = ratioRows(results);
  const echo = echoRows(results);
  const restart = restartRows(results);
  const lines = [];
  const table = (header, body) => {
    if (markdown) {
      lines.push(`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`);
      for (const row of body) lines.push(`| ${row.join(' | ')} |`);
    } else {
      const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => String(row[i]).length)));
      const line = (cells) => cells.map((c, i) => String(c).padEnd(widths[i])).join('  ');
      lines.push(line(header), widths.map((w) => '-'.repeat(w)).join('  '));
      for (const row of body) lines.push(line(row));
    }
    lines.push('');
  };
  if (rows.length > 0) {
    table(
      ['scenario', 'metric', 'lifeline variant', 'value', 'baseline', 'value', 'ratio', 'target', 'verdict'],
      rows.map((r) => [r.scenario, r.what, r.impl, `${fmt(r.a)} ${r.unit}`, r.base, `${fmt(r.b)} ${r.unit}`, fmt(r.ratio), r.target, verdict(r.met)]),
    );
  }
  if (echo.length > 0) {
    table(
      ['echo', 'round trips/s', 'p50', 'p99', 'server CPU/round trip', 'client CPU/round trip', 'client CPU vs ws client'],
      echo.map((r) => [r.impl, fmt(r.roundTrips), `${fmt(r.p50)} ms`, `${fmt(r.p99)} ms`, `${fmt(r.serverCpu)} us`, `${fmt(r.clientCpu)} us`, `${fmt(r.clientVsWs)}x`]),
    );
  }
  const scaleout = results.filter((x) => x.scenario === 'scaleout' && x.metrics);
  if (scaleout.length > 0) {
    table(
      ['multi-node fan-out', 'node', 'received from Redis', 'needed by its clients', 'received/needed', 'delivered/s', 'server CPU', 'us/delivery', 'p50', 'p99', 'target <= 1.1'],
      scaleout.flatMap((r) =>
        r.metrics.skipped
          ? [[r.impl, '—', `skipped: ${r.metrics.skipped}`, '', '', '', '', '', '', '', '']]
          : r.metrics.nodes.map((n) => [
              r.impl,
              n.node,
              fmt(n.receivedFromRedis),
              fmt(n.neededByClients),
              fmt(n.receivedPerNeeded),
              fmt(n.deliveriesPerSec),
              `${fmt(n.serverCpuPct)}%`,
              fmt(n.serverCpuUsPerDelivery),
              `${fmt(n.latencyMs.p50)} ms`,
              `${fmt(n.latencyMs.p99)} ms`,
              r.impl.startsWith('lifeline') && !r.impl.endsWith('broadcast') ? verdict(n.receivedPerNeeded !== null && n.receivedPerNeeded <= 1.1) : '',
            ]),
      ),
    );
  }
  const durability = results.filter((x) => x.scenario === 'durability' && x.metrics && !x.metrics.skipped);
  if (durability.length > 0) {
    const base = durability.find((r) => r.impl === 'primary')?.metrics;
    const vs = (value, baseline) => (baseline ? `${fmt(Math.round((value / baseline) * 100) / 100)}x` : '');
    table(
      ['durability (Redis store)', 'sequential p50', 'p99', 'sequential appends/s', 'concurrent appends/s', 'concurrent p50', 'p99', 'p50 vs primary', 'appends/s vs primary', 'short of replicas'],
      durability.map((r) => {
        const m = r.metrics;
        return [
          r.impl,
          `${fmt(m.sequential.latencyMs.p50)} ms`,
          `${fmt(m.sequential.latencyMs.p99)} ms`,
          fmt(m.sequential.appendsPerSec),
          fmt(m.concurrent.appendsPerSec),
          `${fmt(m.concurrent.latencyMs.p50)} ms`,
          `${fmt(m.concurrent.latencyMs.p99)} ms`,
          vs(m.sequential.latencyMs.p50, base?.sequential.latencyMs.p50),
          vs(m.concurrent.appendsPerSec, base?.concurrent.appendsPerSec),
          m.replicationShort,
        ];
      }),
    );
  }
  if (restart.length > 0) {
    table(
      ['restart storm', '50% back', '99% back', '100% back', 'never back', 'gap p50', 'gap p99', 'gap max', 'resumed', 'attempts', 'failed', 'peak/mean per 100 ms', 'probes not upgraded', 'published', 'lost', 'delivery p99 before', 'verdict'],
      restart.map((r) => [
        r.impl,
        `${fmt(r.back50)} ms`,
        `${fmt(r.back99)} ms`,
        `${fmt(r.back100)} ms`,
        r.neverBack,
        `${fmt(r.gap50)} ms`,
        `${fmt(r.gap99)} ms`,
        `${fmt(r.gapMax)} ms`,
        fmt(r.resumed),
        r.attempts,
        r.failed,
        fmt(r.peakToMean),
        `${r.probesFailed} of ${r.probes}`,
        r.published,
        r.lost,
        `${fmt(r.steadyP99)} ms`,
        r.targets.map((t) => `${t.label}: ${verdict(t.met)}`).join('; '),
      ]),
    );
    for (const r of results.filter((x) => x.scenario === 'restart' && x.metrics)) {
      const h = r.metrics.herd;
      lines.push(`${markdown ? '    ' : ''}${r.impl.padEnd(18)} attempts/100 ms from the signal (0..${h.last} ms, peak ${h.peak}): ${sparkline(h.buckets)}`);
    }
    const first = results.find((x) => x.scenario === 'restart' && x.metrics)?.metrics;
    if (first) lines.push('', `gap resolution about ${first.gapResolutionMs} ms (publisher at ${first.params.rate}/s; the measured publish intervals are in the JSON, publishIntervalMs)`);
    lines.push('');
  }
  return lines.join('\n');
}
