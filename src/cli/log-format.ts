/**
 * `lifeline serve`'s log for people: pino writes one JSON object per line, and on a terminal this
 * destination turns each into a short line (time, level, message, fields), with the stack of an error
 * and the URLs of the `listening` entry on lines of their own. Off a terminal pino's JSON goes out as it is.
 * @packageDocumentation
 */
import type { Styles } from './io.js';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
/** Fields every entry has, or that the line shows in its own place. */
const HIDDEN = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'err', 'urls']);

function value(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v) ?? String(v);
}

/** One log entry (a parsed pino line) as text for people. */
export function formatLogEntry(entry: Record<string, unknown>, style: Styles): string {
  const level = typeof entry.level === 'number' ? entry.level : 30;
  const name = (LEVELS[level] ?? String(level)).padEnd(5);
  const tint = level >= 50 ? style.red : level >= 40 ? style.yellow : level >= 30 ? style.cyan : style.dim;
  const time = new Date(typeof entry.time === 'number' ? entry.time : Date.now()).toTimeString().slice(0, 8);
  const fields = Object.entries(entry)
    .filter(([k]) => !HIDDEN.has(k))
    .map(([k, v]) => style.dim(`${k}=${value(v)}`));
  const lines = [[style.dim(time), tint(name), String(entry.msg ?? ''), ...fields].join(' ')];
  const urls = entry.urls;
  if (typeof urls === 'object' && urls !== null) {
    const width = Math.max(...Object.keys(urls).map((k) => k.length));
    for (const [k, u] of Object.entries(urls)) lines.push(`         ${k.padEnd(width)}  ${style.bold(String(u))}`);
  }
  const err = entry.err as { stack?: unknown; message?: unknown } | undefined;
  if (err && typeof err === 'object') lines.push(...String(err.stack ?? err.message ?? '').split('\n').map((l) => `         ${style.dim(l)}`));
  return lines.join('\n');
}

/** A pino destination that writes each entry as text for people through `write`. */
export function textLogDestination(write: (text: string) => void, style: Styles): { write(line: string): void } {
  return {
    write(line) {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        write(line);
        return;
      }
      write(`${formatLogEntry(entry, style)}\n`);
    },
  };
}
