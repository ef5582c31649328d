/**
 * The `lifeline` command: serve, drill, probe, explain and compare close codes.
 * @packageDocumentation
 */
import { LifelineError } from '../errors.js';
import { renderHelp, renderOverview } from './help.js';
import { processIo, UsageError, type CliIo } from './io.js';
import type { CommandSpec } from './spec.js';
import { COMMAND_SPECS } from './specs/index.js';
import { suggestion } from './suggest.js';
import { version } from './version.js';

type Command = (args: string[], io: CliIo) => number | Promise<number>;

// Loaded on demand, so `explain` does not load the server and `serve` not the registry's formatting.
const COMMANDS: Record<string, () => Promise<Command>> = {
  explain: async () => (await import('./commands/explain.js')).runExplain,
  compare: async () => (await import('./commands/explain.js')).runCompare,
  serve: async () => (await import('./commands/serve.js')).runServe,
  drill: async () => (await import('./commands/drill.js')).runDrillCommand,
  probe: async () => (await import('./commands/probe.js')).runProbe,
};

export { version } from './version.js';

function specOf(name: string): CommandSpec | undefined {
  return COMMAND_SPECS.find((c) => c.name === name);
}

function unknownCommand(name: string): UsageError {
  const names = [...COMMAND_SPECS.map((c) => c.name), 'help', 'version'];
  return new UsageError(`unknown command "${name}"${suggestion(name, names)} (see lifeline --help)`);
}

async function dispatch(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    // Not a request for help: still a usage error, but the list of commands is what the person needs.
    io.out(renderOverview(COMMAND_SPECS, version()));
    throw new UsageError('no command given');
  }
  if (name === '--help' || name === '-h') {
    io.out(renderOverview(COMMAND_SPECS, version()));
    return 0;
  }
  if (name === 'help') {
    if (rest.length > 1) throw new UsageError(`help takes at most one command, got: ${rest.join(' ')}`);
    if (rest[0] === undefined) io.out(renderOverview(COMMAND_SPECS, version()));
    else {
      const spec = specOf(rest[0]);
      if (!spec) throw unknownCommand(rest[0]);
      io.out(renderHelp(spec));
    }
    return 0;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    if (rest.length > 0) throw new UsageError(`${name} takes no arguments, got: ${rest.join(' ')}`);
    io.out(version());
    return 0;
  }
  if (name.startsWith('-')) throw new UsageError(`unknown option ${name}${suggestion(name, ['--help', '--version'])}: options come after the command (see lifeline --help)`);
  const load = COMMANDS[name];
  if (!load) throw unknownCommand(name);
  return (await load())(rest, io);
}

/**
 * Run the CLI with `argv` (without node and script). Returns the exit status; a bad argument is one
 * line on stderr and status 2, never a stack trace.
 */
export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`lifeline: ${error.message}`);
      return 2;
    }
    if (error instanceof LifelineError) {
      io.err(`lifeline: ${error.message} (${error.code})`);
      return 1;
    }
    throw error;
  }
}

