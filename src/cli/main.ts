/**
 * The `lifeline` command: explain and compare close codes, serve.
 * @packageDocumentation
 */
import { LifelineError } from '../errors.js';
import { processIo, UsageError, type CliIo } from './io.js';

const USAGE = `usage: lifeline <command> [options]

commands:
  explain <code> [--lang en|zh] [--json]        what a close code means and what to do about it
  compare <a> <b> [--lang en|zh] [--json]       two close codes side by side
  serve [--port N] [--host H] [--demo] [--drain-window 5s] [--config FILE]
        [--store sqlite|memory] [--data-dir DIR] [--publish-key KEY] [--client-publish PATTERN]
                                                run a server (SIGTERM drains with 1012, SIGHUP reloads)
  drill <url> [--clients 50] [--channels 5] [--duration 30s] [--rate 10] [--client-rate 1]
        [--publish-key KEY] [--json]            count every message across restarts; exit 1 on any loss
  probe <url> [--subprotocol] [--json] [--timeout 10s] [--send TEXT]
                                                connect once, report the handshake, messages and the close
  help                                          this text`;

type Command = (args: string[], io: CliIo) => number | Promise<number>;

// Loaded on demand, so `serve` does not pay for the registry texts' formatting code and vice versa.
const COMMANDS: Record<string, () => Promise<Command>> = {
  explain: async () => (await import('./commands/explain.js')).runExplain,
  compare: async () => (await import('./commands/explain.js')).runCompare,
  serve: async () => (await import('./commands/serve.js')).runServe,
  drill: async () => (await import('./commands/drill.js')).runDrillCommand,
  probe: async () => (await import('./commands/probe.js')).runProbe,
};

/**
 * Run the CLI with `argv` (without node and script). Returns the exit status; a bad argument is one
 * line on stderr and status 2, never a stack trace.
 */
export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    io.out(USAGE);
    return name === undefined ? 2 : 0;
  }
  const load = COMMANDS[name];
  if (!load) {
    io.err(`lifeline: unknown command "${name}" (try: lifeline help)`);
    return 2;
  }
  try {
    const command = await load();
    return await command(rest, io);
  } catch (error) {
    // parseArgs reports unknown or malformed options with a TypeError carrying an ERR_PARSE_ARGS_* code.
    const code = (error as { code?: unknown }).code;
    if (error instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'))) {
      io.err(`lifeline: ${(error as Error).message}`);
      return 2;
    }
    if (error instanceof LifelineError) {
      io.err(`lifeline: ${error.message} (${error.code})`);
      return 1;
    }
    throw error;
  }
}
