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
  add('echo', 'round trips/s', 'lifeline-v1', 'ws', 'roundTripsPerSec', '/s', { op: '>=', value: 0.8 });
  add('echo', 'round trips/s', 'lifeline-v1', 'socketio-ack', 'roundTripsPerSec', '/s', { op: '>=', value: 1.5 });
  add('echo', 'p99 latency', 'lifeline-v1', 'ws', 'latencyMs.p99', 'ms');
  add('echo', 'server CPU us/round trip', 'lifeline-v1', 'ws', 'serverCpuUsPerRoundTrip', 'us');
  add('echo', 'client CPU us/round trip', 'lifeline-v1', 'ws', 'clientCpuUsPerRoundTrip', 'us');
  add('echo', 'client CPU us/round trip', 'lifeline', 'ws', 'clientCpuUsPerRoundTrip', 'us');
  add('echo', 'round trips/s', 'lifeline-v1-server', 'ws', 'roundTripsPerSec', '/s');
  add('echo', 'server CPU us/round trip', 'lifeline-v1-server', 'ws', 'serverCpuUsPerRoundTrip', 'us');
  add('echo', 'round trips/s', 'lifeline-server', 'ws', 'roundTripsPerSec', '/s');
  add('echo', 'p99 latency', 'lifeline-server', 'ws', 'latencyMs.p99', 'ms');
  add('echo', 'round trips/s', 'lifeline', 'socketio', 'roundTripsPerSec', '/s');
  add('echo', 'server CPU us/round trip', 'lifeline', 'ws', 'serverCpuUsPerRoundTrip', 'us');
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

/** The restart storm's absolute targets (no ratio: the baselines are shown beside lifeline). */
export function restartRows(results) {
  const rows = [];
  for (const r of results.filter((x) => x.scenario === 'restart' && x.metrics)) {
    const m = r.metrics;
    const limit = m.params.drainWindowMs + 5000;
    rows.push({
      impl: r.impl,
      back50: m.back50Ms,
      back99: m.back99Ms,
      back100: m.back100Ms,
      neverBack: m.neverBack,
      resumed: m.resumed,
      attempts: m.attempts,
      failed: m.failedAttempts,
      peakToMean: m.herd.peakToMean,
      lost: m.lost,
      published: m.published,
      targets:
        r.impl === 'lifeline'
          ? {
              back100: { limit, met: m.back100Ms !== null && m.back100Ms <= limit },
              herd: { limit: 3, met: m.herd.peakToMean <= 3 },
              lost: { limit: 0, met: m.lost === 0 },
            }
          : undefined,
    });
  }
  return rows;
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
  if (restart.length > 0) {
    table(
      ['restart storm', '50% back', '99% back', '100% back', 'never back', 'resumed', 'attempts', 'failed', 'peak/mean per 100 ms', 'published', 'lost', 'verdict'],
      restart.map((r) => [
        r.impl,
        `${fmt(r.back50)} ms`,
        `${fmt(r.back99)} ms`,
        `${fmt(r.back100)} ms`,
        r.neverBack,
        fmt(r.resumed),
        r.attempts,
        r.failed,
        fmt(r.peakToMean),
        r.published,
        r.lost,
        r.targets
          ? `100% <= ${r.targets.back100.limit} ms: ${verdict(r.targets.back100.met)}; peak/mean <= 3: ${verdict(r.targets.herd.met)}; 0 lost: ${verdict(r.targets.lost.met)}`
          : '',
      ]),
    );
    for (const r of results.filter((x) => x.scenario === 'restart' && x.metrics)) {
      const h = r.metrics.herd;
      lines.push(`${markdown ? '    ' : ''}${r.impl.padEnd(9)} attempts/100 ms from the signal (0..${h.last} ms, peak ${h.peak}): ${sparkline(h.buckets)}`);
    }
    lines.push('');
  }
  return lines.join('\n');
}
