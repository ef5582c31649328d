import { UsageError, type CliIo } from '../io.js';

/** `lifeline probe <url>` — placeholder until the probe lands. */
export async function runProbe(_args: string[], _io: CliIo): Promise<number> {
  throw new UsageError('probe is not available yet');
}
