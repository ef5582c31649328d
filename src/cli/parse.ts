/**
 * The command-line parser of every command, built from its table: `node:util` `parseArgs` splits the
 * arguments into tokens, and this checks them against the rows, so every mistake is a one-line
 * {@link UsageError} (exit status 2) that says what was expected, with "did you mean" for a near miss.
 * @packageDocumentation
 */
import { parseArgs } from 'node:util';
import { renderHelp } from './help.js';
import { UsageError, type CliIo } from './io.js';
import { HELP_OPTION, positionalUsage, type CommandSpec, type OptionSpec, type OptionValues } from './spec.js';
import { suggestion } from './suggest.js';

/** What a command line said. */
export interface ParsedCommandLine<O> {
  readonly values: OptionValues<O>;
  readonly positionals: string[];
  /** `--help` or `-h` was given: print the help, check nothing else. */
  readonly help: boolean;
}

/** The rows with a flag, by flag name, plus `--help`. */
function flagRows(spec: CommandSpec): Map<string, [key: string, row: OptionSpec]> {
  const rows = new Map<string, [string, OptionSpec]>([['help', ['help', HELP_OPTION]]]);
  for (const [key, row] of Object.entries(spec.options)) if (row.flag !== undefined) rows.set(row.flag, [key, row]);
  return rows;
}

/** The options `parseArgs` is given: exactly the table's flags. Exported for the test that checks help and docs list them all. */
export function parserOptions(spec: CommandSpec): Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [name, [, row]] of flagRows(spec)) {
    options[name] = {
      type: row.type.parse ? 'string' : 'boolean',
      ...(row.short !== undefined ? { short: row.short } : {}),
      ...(row.type.multiple ? { multiple: true } : {}),
    };
  }
  return options;
}

const NEGATIVE_NUMBER = /^-\d/;

/**
 * Parse `args` for `spec`. Environment variables named by rows fill in flags that were not given.
 * @throws UsageError for an unknown or malformed option, a bad value, or the wrong number of positionals
 */
export function parseCommandLine<O extends Readonly<Record<string, OptionSpec>>>(
  spec: CommandSpec<O>,
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>> = {},
): ParsedCommandLine<O> {
  const command = `lifeline ${spec.name}`;
  const rows = flagRows(spec);
  // A negative number is an argument ("explain -3" is a bad code), not a cluster of short options.
  const guarded = args.map((a) => (NEGATIVE_NUMBER.test(a) ? `\u0000${a}` : a));
  const { tokens } = parseArgs({ args: guarded, options: parserOptions(spec), strict: false, allowPositionals: true, tokens: true });
  if (tokens.some((t) => t.kind === 'option' && t.name === 'help')) return { values: {}, positionals: [], help: true };

  const values: Record<string, unknown> = {};
  const positionals: string[] = [];
  const known = [...rows.keys()].map((f) => `--${f}`);
  for (const token of tokens) {
    if (token.kind === 'option-terminator') continue;
    if (token.kind === 'positional') {
      positionals.push(token.value.startsWith('\u0000') ? token.value.slice(1) : token.value);
      continue;
    }
    const found = rows.get(token.name);
    if (!found) {
      const written = token.rawName.startsWith('--') ? token.rawName : `-${token.name}`;
      throw new UsageError(`unknown option ${written} for ${command}${suggestion(written, known)} (see ${command} --help)`);
    }
    const [key, row] = found;
    const name = `--${row.flag}`;
    if (!row.type.parse) {
      if (token.inlineValue) throw new UsageError(`${name} takes no value (got ${token.rawName}=${token.value})`);
      values[key] = true;
      continue;
    }
    // parseArgs takes the next argument as the value even when it is an option: "--port --demo".
    if (token.value === undefined || (!token.inlineValue && token.value.startsWith('-') && !NEGATIVE_NUMBER.test(token.value))) {
      throw new UsageError(`${name} needs a value (${row.type.placeholder})${token.value !== undefined ? `, got the option ${token.value}` : ''}`);
    }
    const raw = token.value.startsWith('\u0000') ? token.value.slice(1) : token.value;
    const parsed = row.type.parse(raw, name);
    values[key] = row.type.multiple ? [...((values[key] as unknown[] | undefined) ?? []), ...(parsed as unknown[])] : parsed;
  }
  for (const [key, row] of Object.entries(spec.options)) {
    const fromEnv = row.env !== undefined ? env[row.env] : undefined;
    if (values[key] === undefined && fromEnv !== undefined && fromEnv !== '' && row.type.parse) values[key] = row.type.parse(fromEnv, row.env!);
  }

  const required = spec.positionals.filter((p) => p.required).length;
  const unlimited = spec.positionals.some((p) => p.multiple);
  const usage = `usage: ${command}${spec.positionals.map((p) => ` ${positionalUsage(p)}`).join('')} [options]`;
  if (positionals.length < required) {
    const missing = spec.positionals[positionals.length]!;
    throw new UsageError(`missing <${missing.name}>: ${missing.help} (${usage})`);
  }
  if (!unlimited && positionals.length > spec.positionals.length) {
    throw new UsageError(`unexpected argument${positionals.length - spec.positionals.length > 1 ? 's' : ''}: ${positionals.slice(spec.positionals.length).join(' ')} (${usage})`);
  }
  return { values: values as OptionValues<O>, positionals, help: false };
}

/**
 * {@link parseCommandLine} for a command's entry point: with `--help`, the help is printed and the
 * result is undefined (exit status 0); otherwise the parsed command line, environment included.
 */
export function readCommandLine<O extends Readonly<Record<string, OptionSpec>>>(spec: CommandSpec<O>, args: readonly string[], io: CliIo): ParsedCommandLine<O> | undefined {
  const parsed = parseCommandLine(spec, args, io.env ?? {});
  if (!parsed.help) return parsed;
  io.out(renderHelp(spec));
  return undefined;
}
