/**
 * `lifeline drill <url>...`: run a drill (see {@link runDrill}) and print its report: a table and the
 * checks for people, one JSON object for machines. Live progress on stderr when it is a terminal.
 * @packageDocumentation
 */
import { runDrill, type DrillProgress, type DrillReport } from '../drill/run-drill.js';
import { colourFor, outputMode, styles, UsageError, type CliIo, type Styles } from '../io.js';
import { readCommandLine } from '../parse.js';
import { DRILL } from '../specs/drill.js';
import { webSocketUrl } from '../values.js';

/** Render the report as a table and a list of checks, for people. */
export function formatDrillReport(report: DrillReport, style: Styles = styles(false)): string {
  const cols = ['channel', 'subs', 'published', 'http', 'clients', 'delivered', 'lost', 'dup', 'order', 'reconn', 'resumed', 'not-rec', 'worst-gap'];
  const rows = [...report.channels, { ...report.totals, channel: 'TOTAL' }].map((c) => [
    c.channel, c.subscribers, c.published, c.publishedHttp, c.publishedByClients, c.delivered, c.lost, c.duplicated, c.outOfOrder, c.reconnects, c.resumed, c.notRecovered, `${c.worstGapMs}ms`,
  ].map(String));
  const widths = cols.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const failed = report.checks.filter((c) => !c.ok);
  return [
    style.bold(line(cols)),
    ...rows.map(line),
    '',
    `publish retries: ${report.publishRetries}   client publishes rejected: ${report.clientRejects}   unacknowledged: ${report.unacknowledged}   restarts seen: ${report.restartsSeen}   duration: ${Math.round(report.durationMs / 1000)}s`,
    ...report.checks.map((c) => `  ${c.ok ? style.green('ok  ') : style.red('FAIL')} ${c.name}: ${c.detail}`),
    report.ok
      ? style.green('result: OK (0 lost, 0 duplicated, 0 out of order, 0 unacknowledged; every direction tested)')
      : style.red(`result: FAILED (${failed.map((c) => c.name).join(', ')})`),
  ].join('\n');
}

/** One progress line, for people. */
export function formatProgress(p: DrillProgress): string {
  const head = p.phase === 'subscribing' ? `subscribing ${p.subscribed}/${p.clients}` : p.phase;
  return `drill ${Math.round(p.elapsedMs / 1000)}s ${head}: published ${p.published}, delivered ${p.delivered}, reconnects ${p.reconnects}, retries ${p.publishRetries}, rejected ${p.clientRejects}`;
}

/** On a terminal: one line rewritten every second. Text to a pipe: a line every 5 s. JSON: nothing. */
function progressWriter(io: CliIo, json: boolean): { write(p: DrillProgress): void; end(): void } {
  if (io.stderrIsTTY && io.status) {
    const status = io.status.bind(io);
    return { write: (p) => status(formatProgress(p)), end: () => status('') };
  }
  let last = -Infinity;
  return {
    write: (p) => {
      if (json || p.elapsedMs - last < 5000) return;
      last = p.elapsedMs;
      io.err(formatProgress(p));
    },
    end: () => {},
  };
}

/**
 * `lifeline drill <url>... [options]`: exit 0 when nothing was lost and something was tested.
 * @throws UsageError on a bad command line (the dispatcher prints it and exits 2)
 */
export async function runDrillCommand(args: string[], io: CliIo): Promise<number> {
  const parsed = readCommandLine(DRILL, args, io);
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const defaults = DRILL.options;
  const url = positionals.map(webSocketUrl);
  if (!values.publishKey) throw new UsageError('a publish key is needed: --publish-key KEY or LIFELINE_PUBLISH_KEY (the one the server was started with)');
  const rate = values.rate ?? defaults.rate.default!;
  const clientRate = values.clientRate ?? defaults.clientRate.default!;
  if (rate === 0 && clientRate === 0) throw new UsageError('--rate 0 and --client-rate 0: nothing would be published, so nothing would be tested');
  const mode = outputMode(io, values);
  const progress = progressWriter(io, mode === 'json');
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  let report: DrillReport;
  try {
    report = await runDrill({
      url,
      publishKey: values.publishKey,
      ...(values.publishUrl !== undefined ? { publishUrl: values.publishUrl } : {}),
      ...(values.prefix !== undefined ? { prefix: values.prefix } : {}),
      clients: values.clients ?? defaults.clients.default!,
      channels: values.channels ?? defaults.channels.default!,
      durationMs: values.duration ?? defaults.duration.default!,
      rate,
      clientRate,
      settleMs: values.settle ?? defaults.settle.default!,
      expectRestarts: values.expectRestarts ?? defaults.expectRestarts.default!,
      signal: controller.signal,
      onProgress: (p) => progress.write(p),
    });
  } finally {
    progress.end();
    process.off('SIGINT', onSignal);
  }
  io.out(mode === 'json' ? JSON.stringify(report) : formatDrillReport(report, styles(colourFor(io, 'stdout'))));
  return report.ok ? 0 : 1;
}
