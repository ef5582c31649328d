/**
 * `lifeline probe <url>`: connect once, as a plain client or a `lifeline.v1` one, and report what
 * happened: the handshake (or the HTTP status that refused it), the messages, and the close, explained
 * from the registry. The exit status is the close's reconnect class, for scripts and health checks.
 *
 * Node-only, and it talks to the `ws` package directly: a refused handshake's HTTP status (503 and
 * `Retry-After` during a drain) is invisible through the browser `WebSocket` API the client uses.
 * @packageDocumentation
 */
import { performance } from 'node:perf_hooks';
import type { WelcomeInfo } from '../../client/index.js';
import { requireOptional } from '../../optional-dependency.js';
import { codeLabels, explainCode, type Lang, type ReconnectClass } from '../../codes/index.js';
import { decodeServerFrame, encodeFrame, parseReason, SUBPROTOCOL, type RetryHint, type ServerFrame } from '../../protocol/index.js';
import { outputMode, UsageError, type CliIo, type OutputMode } from '../io.js';
import { readCommandLine } from '../parse.js';
import { PROBE } from '../specs/probe.js';
import { webSocketUrl } from '../values.js';

/**
 * Exit statuses of `lifeline probe`, one per reconnect class, so a script can tell a deploy (3) from a
 * failure (4) from a client that must change (5).
 */
export const ProbeExit = {
  /** Open until the timeout, or closed with 1000. */
  OK: 0,
  /** A bad command line. */
  USAGE: 2,
  /** Reconnect-soon class: 1001, 1012 (a planned restart). */
  RECONNECT_SOON: 3,
  /** Backoff class: 1006, 1011, 1013, 1014, and a refused or failed handshake. */
  BACKOFF: 4,
  /** Stop class: 1002, 1003, 1007-1010, 1015, ...: retrying unchanged cannot help. */
  STOP: 5,
  /** An application code, 3000-4999. */
  APPLICATION: 6,
} as const;

/** What `lifeline probe` was asked to do. */
export interface ProbeOptions {
  /** `ws://` or `wss://` URL. */
  readonly url: string;
  /** Ask for `lifeline.v1` and send `hello`. */
  readonly subprotocol: boolean;
  /** Texts to send once open, in order. */
  readonly send: readonly string[];
  /** Budget of the whole probe, ms. */
  readonly timeoutMs: number;
}

/** How a probe ended. */
export type ProbeOutcome = 'closed' | 'open-at-timeout' | 'refused' | 'failed';

/** The handshake, as the probe saw it. */
export interface ProbeHandshake {
  /** The subprotocol asked for, or null. */
  readonly requested: string | null;
  /** HTTP status of the upgrade response: 101, or the refusal's (503 ...). Absent when no response came. */
  status?: number;
  /** The negotiated subprotocol, or null. */
  subprotocol: string | null;
  /** Milliseconds from the start to the open event. */
  openMs?: number;
  /** A refusal's `Retry-After` header, as sent (seconds, or an HTTP date). */
  retryAfter?: string;
  /** A refusal's body, first 200 characters. */
  body?: string;
  /** Why the connection failed, when it never opened and no HTTP refusal explains it. */
  error?: string;
}

/** The welcome of a `lifeline.v1` server, without the secret resume token (a probe presents none, so `resumed` is false). */
export type ProbeWelcome = Omit<WelcomeInfo, 'authTtlMs'>;

/** The close, as a client sees it, explained from the registry. */
export interface ProbeClose {
  /** Close code (1006 for a failed or refused handshake, or a connection that vanished). */
  readonly code: number;
  /** The reason, as received. */
  readonly reason: string;
  /** Who ended it: a close frame from the server, the network (no close frame), or a handshake that never opened. */
  readonly by: 'server' | 'network' | 'handshake';
  /** Milliseconds from the open to the close. */
  readonly afterOpenMs?: number;
  /** The registry's name of the code. */
  readonly name: string;
  /** The registry's description. */
  readonly description: string;
  /** The registry's "when it happens". */
  readonly when: string;
  /** The registry's advice. */
  readonly fix: string;
  /** The reconnect class. */
  readonly class: ReconnectClass;
  /** Whether a lifeline client would reconnect by default. */
  readonly reconnect: boolean;
  /** The reason's human text, without fields. */
  readonly text: string;
  /** The reason's `incident=` field. */
  readonly incident?: string;
  /** The reason's `retry=` field. */
  readonly retry?: RetryHint;
}

/** Everything one probe saw. */
export interface ProbeReport {
  /** The URL probed. */
  readonly url: string;
  /** How it ended. */
  outcome: ProbeOutcome;
  /** The handshake. */
  readonly handshake: ProbeHandshake;
  /** The `lifeline.v1` welcome, with `--subprotocol`. */
  welcome?: ProbeWelcome;
  /** The `--send` texts actually sent. */
  readonly sent: string[];
  /** How many messages arrived, and the first five (clipped to 200 characters, tokens hidden). */
  readonly messages: { count: number; first: string[] };
  /** Null when the connection was still open at the timeout (the probe then closed it with 1000). */
  close: ProbeClose | null;
  /** The exit status, see {@link ProbeExit}. */
  exit: number;
}

const FIRST_MESSAGES = 5;
const MESSAGE_CHARS = 200;
/** After the timeout, how long the closing handshake the probe starts may take. */
const CLOSE_GRACE_MS = 2000;

function clip(text: string, chars = MESSAGE_CHARS): string {
  return text.length > chars ? `${text.slice(0, chars)}…` : text;
}

/**
 * Parse the command line; undefined after printing `--help`.
 * @throws UsageError for anything malformed
 */
export function parseProbeArgs(args: string[], io: CliIo): (ProbeOptions & { mode: OutputMode; lang: Lang }) | undefined {
  const parsed = readCommandLine(PROBE, args, io);
  if (!parsed) return undefined;
  const { values, positionals } = parsed;
  const timeoutMs = values.timeout ?? PROBE.options.timeout.default!;
  if (timeoutMs <= 0) throw new UsageError('--timeout: must be more than 0');
  return { url: webSocketUrl(positionals[0]!), subprotocol: values.subprotocol === true, send: values.send ?? [], timeoutMs, mode: outputMode(io, values), lang: values.lang ?? 'en' };
}

/** A `lifeline.v1` frame, or undefined for any other text (plain servers send what they like). */
function frameOf(text: string): ServerFrame | undefined {
  try {
    return decodeServerFrame(text);
  } catch {
    return undefined;
  }
}

/** A message as shown in the report: text clipped, binary summarised, resume tokens hidden. */
function showMessage(data: Buffer, isBinary: boolean): string {
  if (isBinary) return `<binary, ${data.byteLength} bytes>`;
  const text = data.toString('utf8');
  const frame = frameOf(text);
  // The resume token is a secret (docs/protocol.md §9): never print it.
  if (frame?.t === 'welcome') return clip(JSON.stringify({ ...frame, token: '<hidden>' }));
  return clip(text);
}

function explainClose(code: number, reason: string, by: ProbeClose['by'], afterOpenMs: number | undefined, lang: Lang): ProbeClose {
  const e = explainCode(code, lang);
  const fields = parseReason(reason);
  return {
    code,
    reason,
    by,
    ...(afterOpenMs !== undefined ? { afterOpenMs } : {}),
    name: e.name,
    description: e.description,
    when: e.when,
    fix: e.fix,
    class: e.reconnect,
    // lifeline's default for application codes is to stop (docs/protocol.md §5).
    reconnect: e.reconnect === 'reconnect-soon' || e.reconnect === 'backoff',
    text: fields.text,
    ...(fields.incident !== undefined ? { incident: fields.incident } : {}),
    ...(fields.retry !== undefined ? { retry: fields.retry } : {}),
  };
}

/** The exit status of a finished probe. */
export function probeExitStatus(report: Pick<ProbeReport, 'outcome' | 'close' | 'handshake'>): number {
  if (report.outcome === 'open-at-timeout') return ProbeExit.OK;
  const { handshake } = report;
  // Asked for lifeline.v1, got a handshake without it: this server does not speak it, and retrying the same
  // server cannot change that (docs/protocol.md §6).
  if (report.outcome === 'failed' && handshake.requested !== null && handshake.status === 101 && handshake.subprotocol !== handshake.requested) return ProbeExit.STOP;
  // A refused or failed handshake counts as 1006 (docs/protocol.md §5): back off.
  if (report.outcome !== 'closed' || !report.close) return ProbeExit.BACKOFF;
  if (report.close.code === 1000) return ProbeExit.OK;
  const byClass: Record<ReconnectClass, number> = {
    'reconnect-soon': ProbeExit.RECONNECT_SOON,
    backoff: ProbeExit.BACKOFF,
    stop: ProbeExit.STOP,
    application: ProbeExit.APPLICATION,
  };
  return byClass[report.close.class];
}

/**
 * Connect once and watch until the server closes the connection or the timeout passes.
 * @param onOpen - called as soon as the connection is open (the text output prints the handshake then)
 */
export function probe(options: ProbeOptions, lang: Lang = 'en', onOpen?: (report: ProbeReport) => void): Promise<ProbeReport> {
  const started = performance.now();
  const report: ProbeReport = {
    url: options.url,
    outcome: 'failed',
    handshake: { requested: options.subprotocol ? SUBPROTOCOL : null, subprotocol: null },
    sent: [],
    messages: { count: 0, first: [] },
    close: null,
    exit: ProbeExit.BACKOFF,
  };
  const { WebSocket } = requireOptional<typeof import('ws')>('ws', 'lifeline probe');
  const ws = new WebSocket(options.url, options.subprotocol ? [SUBPROTOCOL] : [], { perMessageDeflate: false, followRedirects: false });
  let openedAt: number | undefined;
  let timedOut = false;

  return new Promise<ProbeReport>((resolve) => {
    const deadline = setTimeout(() => {
      timedOut = true;
      if (ws.readyState === WebSocket.CONNECTING) {
        if (report.outcome !== 'refused') report.handshake.error ??= `no handshake within ${options.timeoutMs} ms`;
        ws.terminate();
        return;
      }
      if (ws.readyState === WebSocket.OPEN) {
        report.outcome = 'open-at-timeout';
        ws.close(1000, 'probe done');
        // A server that never answers the close must not hold the probe.
        setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
      }
    }, options.timeoutMs);

    ws.on('upgrade', (res) => {
      report.handshake.status = res.statusCode;
      const selected = res.headers['sec-websocket-protocol'];
      report.handshake.subprotocol = typeof selected === 'string' && selected !== '' ? selected : null;
    });
    ws.on('unexpected-response', (_req, res) => {
      report.outcome = 'refused';
      report.handshake.status = res.statusCode;
      const retryAfter = res.headers['retry-after'];
      if (typeof retryAfter === 'string') report.handshake.retryAfter = retryAfter;
      let body = '';
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        report.handshake.body = clip(body.trim());
        ws.terminate();
      };
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (body.length <= MESSAGE_CHARS) body += chunk;
      });
      res.on('end', finish);
      res.on('error', finish);
      setTimeout(finish, 1000).unref();
    });
    ws.on('open', () => {
      openedAt = performance.now();
      report.handshake.openMs = Math.round((openedAt - started) * 10) / 10;
      report.handshake.subprotocol = ws.protocol === '' ? null : ws.protocol;
      report.handshake.status ??= 101;
      onOpen?.(report);
      if (options.subprotocol) ws.send(encodeFrame({ t: 'hello', v: 1 }));
      for (const text of options.send) {
        ws.send(text);
        report.sent.push(text);
      }
    });
    ws.on('message', (data, isBinary) => {
      const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      report.messages.count += 1;
      if (report.messages.first.length < FIRST_MESSAGES) report.messages.first.push(showMessage(bytes, isBinary));
      if (options.subprotocol && !isBinary && report.welcome === undefined) {
        const frame = frameOf(bytes.toString('utf8'));
        if (frame?.t === 'welcome') {
          const { session, resumed, recovered, lost, heartbeatMs, expiresAt } = frame;
          report.welcome = { session, resumed, recovered, lost, heartbeatMs, expiresAt };
        }
      }
    });
    ws.on('error', (error) => {
      // A refusal is already explained by its status; the error ws adds after it says nothing more.
      if (report.outcome !== 'refused' && openedAt === undefined) report.handshake.error ??= error.message;
    });
    ws.on('close', (code, reasonBytes) => {
      clearTimeout(deadline);
      const reason = reasonBytes.toString('utf8');
      if (report.outcome === 'open-at-timeout') {
        report.close = null;
      } else if (openedAt === undefined) {
        // Never opened: a client counts that as 1006 (docs/protocol.md §5).
        report.close = explainClose(1006, '', 'handshake', undefined, lang);
      } else {
        report.outcome = 'closed';
        const afterOpenMs = Math.round(performance.now() - openedAt);
        report.close = explainClose(code, reason, code === 1006 ? 'network' : 'server', afterOpenMs, lang);
      }
      if (timedOut && report.outcome === 'failed') report.handshake.error ??= `no handshake within ${options.timeoutMs} ms`;
      report.exit = probeExitStatus(report);
      resolve(report);
    });
  });
}

/** Words of the text output. */
const WORDS = {
  en: {
    probe: 'probe',
    sep: '; ',
    handshake: 'handshake',
    welcome: 'welcome',
    sent: 'sent',
    received: 'received',
    close: 'close',
    reason: 'reason',
    incident: 'incident',
    retry: 'retry',
    meaning: 'meaning',
    advice: 'advice',
    reconnect: 'reconnect',
    exit: 'exit',
    open: (ms: number, status: number | undefined, sub: string | null) => `open in ${ms} ms (HTTP ${status ?? 101}), subprotocol: ${sub ?? 'none'}`,
    refused: (status: number, retryAfter: string | undefined, body: string | undefined) =>
      `refused: HTTP ${status}${retryAfter !== undefined ? `, Retry-After: ${retryAfter}` : ''}${body ? ` (${JSON.stringify(body)})` : ''}`,
    failed: (error: string | undefined) => `failed: ${error ?? 'no connection'}`,
    noSubprotocol: (requested: string) => `the server does not speak ${requested} (it completed the handshake without it)`,
    session: (w: ProbeWelcome) =>
      `session ${w.session}, ${w.resumed ? `resumed, recovered: ${w.recovered ? 'yes' : 'no'}` : 'new'}${w.lost.length > 0 ? `, lost: ${w.lost.join(' ')}` : ''}, heartbeat ${w.heartbeatMs} ms`,
    messages: (n: number) => `${n} message${n === 1 ? '' : 's'}`,
    by: { server: 'from the server', network: 'no close frame: the connection was lost', handshake: 'the handshake failed; a client counts that as 1006' },
    after: (ms: number) => `, ${ms} ms after open`,
    stillOpen: (ms: number) => `none: still open after ${ms} ms (the probe closed it with 1000)`,
    incidentHint: (id: string) => `${id} (look it up in the server's log)`,
    retryHint: (h: RetryHint) => `come back ${h.minMs === h.maxMs ? `after ${h.minMs}` : `${h.minMs}-${h.maxMs}`} ms after the close (the server's hint)`,
    retryAfterHint: (s: string) => `; not before Retry-After: ${s}`,
    reconnectLine: (would: boolean, label: string, cls: ReconnectClass, after: string) => `${would ? 'yes' : 'no'}: ${label} (${cls})${after}`,
  },
  zh: {
    probe: '探测',
    sep: '；',
    handshake: '握手',
    welcome: '欢迎',
    sent: '已发送',
    received: '已接收',
    close: '关闭',
    reason: '原因',
    incident: '事故编号',
    retry: '重连窗口',
    meaning: '含义',
    advice: '建议',
    reconnect: '重连',
    exit: '退出码',
    open: (ms: number, status: number | undefined, sub: string | null) => `${ms} 毫秒内建立（HTTP ${status ?? 101}），子协议：${sub ?? '无'}`,
    refused: (status: number, retryAfter: string | undefined, body: string | undefined) =>
      `被拒绝：HTTP ${status}${retryAfter !== undefined ? `，Retry-After：${retryAfter}` : ''}${body ? `（${JSON.stringify(body)}）` : ''}`,
    failed: (error: string | undefined) => `失败：${error ?? '无法连接'}`,
    noSubprotocol: (requested: string) => `服务器不支持 ${requested}（握手完成时没有选择它）`,
    session: (w: ProbeWelcome) =>
      `会话 ${w.session}，${w.resumed ? `已恢复，数据完整：${w.recovered ? '是' : '否'}` : '新建'}${w.lost.length > 0 ? `，丢失：${w.lost.join(' ')}` : ''}，心跳 ${w.heartbeatMs} 毫秒`,
    messages: (n: number) => `${n} 条消息`,
    by: { server: '由服务器关闭', network: '没有关闭帧：连接中断', handshake: '握手失败；客户端按 1006 处理' },
    after: (ms: number) => `，建立后 ${ms} 毫秒`,
    stillOpen: (ms: number) => `无：${ms} 毫秒后仍然打开（探测以 1000 关闭）`,
    incidentHint: (id: string) => `${id}（在服务器日志中查找）`,
    retryHint: (h: RetryHint) => `关闭后 ${h.minMs === h.maxMs ? `${h.minMs}` : `${h.minMs}-${h.maxMs}`} 毫秒内重连（服务器的提示）`,
    retryAfterHint: (s: string) => `；不早于 Retry-After：${s}`,
    reconnectLine: (would: boolean, label: string, cls: ReconnectClass, after: string) => `${would ? '是' : '否'}：${label}（${cls}）${after}`,
  },
} as const;

/** Columns a string takes in a terminal: CJK characters count two, so Chinese labels line up too. */
function columns(text: string): number {
  let n = 0;
  for (const ch of text) n += /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/u.test(ch) ? 2 : 1;
  return n;
}

function line(label: string, value: string): string {
  return `  ${label}${' '.repeat(Math.max(1, 11 - columns(label)))}${value}`;
}

/** The first lines of the text output: what is known once the connection is open. */
export function formatProbeStart(report: ProbeReport, lang: Lang): string[] {
  const w = WORDS[lang];
  const { handshake } = report;
  const lines = [`${w.probe} ${report.url}`];
  if (handshake.openMs !== undefined) lines.push(line(w.handshake, w.open(handshake.openMs, handshake.status, handshake.subprotocol)));
  return lines;
}

/** The rest of the text output, once the probe is over. */
export function formatProbeEnd(report: ProbeReport, lang: Lang, timeoutMs: number): string[] {
  const w = WORDS[lang];
  const { handshake, close } = report;
  const lines: string[] = [];
  if (handshake.openMs === undefined) {
    if (report.outcome === 'refused' && handshake.status !== undefined) lines.push(line(w.handshake, w.refused(handshake.status, handshake.retryAfter, handshake.body)));
    else if (report.exit === ProbeExit.STOP && handshake.requested !== null) lines.push(line(w.handshake, w.noSubprotocol(handshake.requested)));
    else lines.push(line(w.handshake, w.failed(handshake.error)));
  }
  if (report.welcome) lines.push(line(w.welcome, w.session(report.welcome)));
  if (report.sent.length > 0) lines.push(line(w.sent, report.sent.map((t) => JSON.stringify(clip(t, 60))).join(' ')));
  if (handshake.openMs !== undefined) {
    lines.push(line(w.received, w.messages(report.messages.count)));
    for (const m of report.messages.first) lines.push(line('', m));
  }
  if (!close) lines.push(line(w.close, w.stillOpen(timeoutMs)));
  else {
    lines.push(line(w.close, `${close.code} ${close.name}${w.sep}${w.by[close.by]}${close.afterOpenMs !== undefined ? w.after(close.afterOpenMs) : ''}`));
    if (close.reason !== '') lines.push(line(w.reason, close.reason));
    if (close.incident !== undefined) lines.push(line(w.incident, w.incidentHint(close.incident)));
    if (close.retry !== undefined) lines.push(line(w.retry, w.retryHint(close.retry)));
    lines.push(line(w.meaning, close.description));
    lines.push(line(w.advice, close.fix));
    const reconnectLabel = codeLabels(lang).reconnect[close.class];
    const after = handshake.retryAfter !== undefined ? w.retryAfterHint(handshake.retryAfter) : '';
    lines.push(line(w.reconnect, w.reconnectLine(close.reconnect, reconnectLabel, close.class, after)));
  }
  lines.push(`${w.exit} ${report.exit}`);
  return lines;
}

/**
 * `lifeline probe <url> [--subprotocol] [--json] [--timeout 10s] [--send TEXT]... [--lang en|zh]`.
 * @returns the exit status, see {@link ProbeExit}
 * @throws UsageError on a bad command line (the dispatcher prints it and exits 2)
 */
export async function runProbe(args: string[], io: CliIo): Promise<number> {
  const parsed = parseProbeArgs(args, io);
  if (!parsed) return ProbeExit.OK;
  const { mode, lang, ...options } = parsed;
  const json = mode === 'json';
  const report = await probe(options, lang, json ? undefined : (r) => io.out(formatProbeStart(r, lang).join('\n')));
  if (json) io.out(JSON.stringify(report));
  else {
    // Never opened: nothing was printed yet.
    const head = report.handshake.openMs === undefined ? formatProbeStart(report, lang) : [];
    io.out([...head, ...formatProbeEnd(report, lang, options.timeoutMs)].join('\n'));
  }
  return report.exit;
}
