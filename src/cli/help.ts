/**
 * `--help` for people, from the same tables the parser uses.
 * @packageDocumentation
 */
import { defaultLabel, HELP_OPTION, optionLabel, positionalUsage, type CommandSpec, type OptionSpec } from './spec.js';

const WIDTH = 100;

/** Wrap `text` to `WIDTH` columns, every line after the first indented by `indent`. */
function wrap(text: string, indent: number, first = indent): string {
  const words = text.split(/\s+/).filter(Boolean);
  const lines: string[] = [];
  let line = '';
  let room = WIDTH - first;
  for (const word of words) {
    if (line !== '' && line.length + 1 + word.length > room) {
      lines.push(line);
      line = word;
      room = WIDTH - indent;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  lines.push(line);
  return lines.join(`\n${' '.repeat(indent)}`);
}

function rowHelp(key: string, row: OptionSpec, withConfig: boolean): string {
  const notes = [defaultLabel(row) !== undefined ? `default ${defaultLabel(row)}` : undefined, row.env !== undefined ? `env ${row.env}` : undefined, withConfig && row.config ? `config ${key}` : undefined].filter(Boolean);
  return notes.length > 0 ? `${row.help} (${notes.join('; ')})` : row.help;
}

function rows(entries: readonly (readonly [label: string, help: string])[]): string[] {
  const width = Math.min(30, Math.max(...entries.map(([label]) => label.length)) + 2);
  return entries.map(([label, help]) => {
    const head = `  ${label}`;
    return head.length + 1 > width + 2 ? `${head}\n${' '.repeat(width + 2)}${wrap(help, width + 2)}` : `${head.padEnd(width + 2)}${wrap(help, width + 2)}`;
  });
}

/** The usage line of a command. */
export function usageLine(spec: CommandSpec): string {
  return `lifeline ${spec.name}${spec.positionals.map((p) => ` ${positionalUsage(p)}`).join('')} [options]`;
}

/** `lifeline <command> --help`. */
export function renderHelp(spec: CommandSpec): string {
  const entries = Object.entries(spec.options);
  const flags = entries.filter(([, row]) => row.flag !== undefined);
  const configOnly = entries.filter(([, row]) => row.flag === undefined);
  const hasConfig = entries.some(([, row]) => row.config);
  const env = entries.filter(([, row]) => row.env !== undefined);
  const out = [`usage: ${usageLine(spec)}`, '', wrap(spec.summary, 0), ...spec.description.flatMap((p) => ['', wrap(p, 0)])];
  if (spec.positionals.length > 0) out.push('', 'arguments:', ...rows(spec.positionals.map((p) => [positionalUsage(p), p.help])));
  out.push('', 'options:', ...rows([...flags.map(([key, row]) => [optionLabel(key, row), rowHelp(key, row, hasConfig)] as const), [optionLabel('help', HELP_OPTION), HELP_OPTION.help]]));
  if (hasConfig) {
    out.push('', wrap('config file (--config FILE): a JSON object; a flag given on the command line wins over its key. Keys without a flag:', 0));
    out.push(...rows(configOnly.map(([key, row]) => [`${key} ${row.type.placeholder}`, rowHelp(key, row, false)])));
  }
  if (env.length > 0) out.push('', 'environment:', ...rows(env.map(([, row]) => [row.env!, `the same as --${row.flag}`])));
  if (spec.exits.length > 0) out.push('', 'exit status:', ...rows(spec.exits.map(([status, meaning]) => [String(status), meaning])));
  if (spec.examples.length > 0) out.push('', 'examples:', ...spec.examples.map((e) => `  ${e}`));
  return out.join('\n');
}

/** `lifeline --help`: every command, one line each. */
export function renderOverview(commands: readonly CommandSpec[], version: string): string {
  return [
    `lifeline ${version}: WebSocket connections that survive failures and deploys`,
    '',
    'usage: lifeline <command> [options]',
    '',
    'commands:',
    ...rows([...commands.map((c) => [c.name, c.summary] as const), ['help [command]', 'this text, or the help of one command'], ['version', 'print the version (also --version, -V)']]),
    '',
    wrap('Every command takes --help. Output is text for people on a terminal (colour unless NO_COLOR is set) and JSON lines otherwise; --json and --text choose. A usage error is one line on stderr and exit status 2.', 0),
    '',
    'Reference: docs/cli.md',
  ].join('\n');
}
