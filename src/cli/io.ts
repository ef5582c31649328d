import { LifelineError } from '../errors.js';

/** Where a CLI command writes; injected so commands are testable without spawning a process. */
export interface CliIo {
  /** Write one or more lines to standard output. */
  out(text: string): void;
  /** Write one or more lines to standard error. */
  err(text: string): void;
  /** Whether standard output is a terminal (text for people) or not (JSON lines). @default false */
  readonly stdoutIsTTY?: boolean;
  /** Whether standard error is a terminal (live progress, colour). @default false */
  readonly stderrIsTTY?: boolean;
  /** The environment (`NO_COLOR`, `LIFELINE_PUBLISH_KEY` ...). @default no variables */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Replace the last line written to stderr (a live progress line); only called when stderr is a terminal. */
  status?(text: string): void;
}

/** A bad command line: printed as one line, exit status 2, never a stack trace. */
export class UsageError extends LifelineError<'LIFELINE_ERR_USAGE'> {
  constructor(message: string, options?: ErrorOptions) {
    super('LIFELINE_ERR_USAGE', message, options);
  }
}

/** How a command prints: for people, or JSON lines for machines. */
export type OutputMode = 'text' | 'json';

/**
 * Text on a terminal, JSON lines otherwise; `--json` or `--text` decides instead.
 * @throws UsageError for both flags at once
 */
export function outputMode(io: CliIo, flags: { readonly json?: boolean | undefined; readonly text?: boolean | undefined }): OutputMode {
  if (flags.json && flags.text) throw new UsageError('--json and --text contradict each other: give one');
  if (flags.json) return 'json';
  if (flags.text) return 'text';
  return io.stdoutIsTTY ? 'text' : 'json';
}

/** Whether to colour what goes to a stream: only a terminal, never with NO_COLOR set (no-color.org) or TERM=dumb. */
export function colourFor(io: CliIo, stream: 'stdout' | 'stderr'): boolean {
  const tty = stream === 'stdout' ? io.stdoutIsTTY : io.stderrIsTTY;
  const env = io.env ?? {};
  return tty === true && (env.NO_COLOR ?? '') === '' && env.TERM !== 'dumb';
}

/** ANSI styles, or the identity when colour is off. */
export interface Styles {
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  cyan(text: string): string;
}

/** {@link Styles} for a stream that is (`true`) or is not coloured. */
export function styles(colour: boolean): Styles {
  const sgr = (open: number, close: number) => (text: string) => (colour ? `\u001b[${open}m${text}\u001b[${close}m` : text);
  return { bold: sgr(1, 22), dim: sgr(2, 22), red: sgr(31, 39), green: sgr(32, 39), yellow: sgr(33, 39), cyan: sgr(36, 39) };
}

function line(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
}

/** The process's own standard streams. */
export const processIo: CliIo = {
  out: (text) => process.stdout.write(line(text)),
  err: (text) => process.stderr.write(line(text)),
  get stdoutIsTTY() {
    return process.stdout.isTTY === true;
  },
  get stderrIsTTY() {
    return process.stderr.isTTY === true;
  },
  env: process.env,
  // Carriage return and "erase to end of line": the next status overwrites this one in place.
  status: (text) => process.stderr.write(`\r${text}\u001b[K`),
};
