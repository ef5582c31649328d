import { LifelineError } from '../errors.js';

/** Where a CLI command writes; injected so commands are testable without spawning a process. */
export interface CliIo {
  /** Write one or more lines to standard output. */
  out(text: string): void;
  /** Write one or more lines to standard error. */
  err(text: string): void;
}

/** A bad command line: printed as one line, exit status 2, never a stack trace. */
export class UsageError extends LifelineError {
  constructor(message: string, options?: ErrorOptions) {
    super('LIFELINE_ERR_USAGE', message, options);
  }
}

/** The process's own standard streams. */
export const processIo: CliIo = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
};
