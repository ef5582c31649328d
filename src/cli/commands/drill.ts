import { parseArgs } from 'node:util';
import { parseDuration } from '../args.js';
import { runDrill, type DrillReport } from '../drill/run-drill.js';
import { UsageError, type CliIo } from '../io.js';

function positiveInt(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new UsageError(`${flag}: expected a positive integer, got "${value}"`);
  return Number(value);
}

function rate(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || !(n >= 0) || n > 10_000) throw new UsageError(`${flag}: expected a rate in messages per second, got "${value}"`);
  return n;
}

/** Render the report as a table for people. */
export function formatDrillReport(report: DrillReport): string {
  const cols = ['channel', 'subs', 'published', 'http', 'clients', 'delivered', 'lost', 'dup', 'order', 'reconn', 'resumed', 'not-rec', 'worst-gap'];
  const rows = [...report.channels, { ...report.totals, channel: 'TOTAL' }].map((c) => [
    c.channel, c.subscribers, c.published, c.publishedHttp, c.publishedByClients, c.delivered, c.lost, c.duplicated, c.outOfOrder, c.reconnects, c.resumed, c.notRecovered, `${c.worstGapMs}ms`,
  ].map(String));
  const widths = cols.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [
    line(cols),
    ...rows.map(line),
    '',
    `publish retries: ${report.publishRetries}   client publishes rejected: ${report.clientRejects}   unacknowledged: ${report.unacknowledged}   duration: ${Math.round(report.durationMs / 1000)}s`,
    report.ok ? 'result: OK (0 lost, 0 duplicated, 0 out of order, 0 unacknowledged)' : 'result: FAILED (messages were lost, duplicated, reordered or never acknowledged)',
  ].join('\n');
}

/**
 * `lifeline drill <url>... [--clients 50] [--channels 5] [--duration 30s] [--rate 10] [--client-rate 1]
 *  [--publish-key KEY] [--publish-url URL] [--settle 15s] [--json]`: exit 0 when nothing was lost.
 */
export async function runDrillCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      clients: { type: 'string' },
      channels: { type: 'string' },
      duration: { type: 'string' },
      rate: { type: 'string' },
      'client-rate': { type: 'string' },
      'publish-key': { type: 'string' },
      'publish-url': { type: 'string' },
      settle: { type: 'string' },
      prefix: { type: 'string' },
      json: { type: 'boolean' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length === 0) throw new UsageError('drill needs a server URL, e.g. lifeline drill ws://127.0.0.1:8080/ (several: clients are spread over them)');
  for (const u of positionals) if (!/^wss?:\/\//.test(u)) throw new UsageError(`not a WebSocket URL: "${u}"`);
  const url = positionals;
  const publishKey = values['publish-key'] ?? process.env.LIFELINE_PUBLISH_KEY;
  if (!publishKey) throw new UsageError('a publish key is needed: --publish-key KEY or LIFELINE_PUBLISH_KEY');
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  try {
    const report = await runDrill({
      url,
      publishKey,
      ...(values['publish-url'] !== undefined ? { publishUrl: values['publish-url'] } : {}),
      ...(values.prefix !== undefined ? { prefix: values.prefix } : {}),
      clients: positiveInt('--clients', values.clients, 50),
      channels: positiveInt('--channels', values.channels, 5),
      durationMs: values.duration === undefined ? 30_000 : parseDuration('--duration', values.duration),
      rate: rate('--rate', values.rate, 10),
      clientRate: rate('--client-rate', values['client-rate'], 1),
      settleMs: values.settle === undefined ? 15_000 : parseDuration('--settle', values.settle),
      signal: controller.signal,
      onProgress: values.json ? () => {} : (line) => io.err(line),
    });
    io.out(values.json ? JSON.stringify(report, null, 2) : formatDrillReport(report));
    return report.ok ? 0 : 1;
  } finally {
    process.off('SIGINT', onSignal);
  }
}
