/**
 * docs/cli.md, generated from the same tables as the parser and `--help` (`npm run docs:cli` writes
 * it; a test fails when the file and the tables disagree).
 * @packageDocumentation
 */
import { usageLine } from './help.js';
import { defaultLabel, HELP_OPTION, optionLabel, positionalUsage, type CommandSpec, type OptionSpec } from './spec.js';

/** A table cell: pipes escaped, code in backticks. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

function code(text: string): string {
  return text === '' ? '' : `\`${cell(text)}\``;
}

function table(head: readonly string[], rows: readonly (readonly string[])[]): string[] {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
}

/** A sentence: the help text with a full stop. */
function sentence(text: string): string {
  return cell(/[.!?]$/.test(text) ? text : `${text}.`);
}

/** A default in words stays words; a value is code. */
function defaultCell(row: OptionSpec): string {
  return row.defaultText !== undefined ? cell(row.defaultText) : code(defaultLabel(row) ?? '');
}

function optionRow(key: string, row: OptionSpec, hasConfig: boolean): string[] {
  const notes = row.env !== undefined ? ` Environment: \`${row.env}\`.` : '';
  return [code(optionLabel(key, row).trim()), ...(hasConfig ? [row.config ? code(key) : ''] : []), defaultCell(row), `${sentence(row.help)}${notes}`];
}

function section(spec: CommandSpec): string[] {
  const entries = Object.entries(spec.options);
  const hasConfig = entries.some(([, row]) => row.config);
  const flags = entries.filter(([, row]) => row.flag !== undefined);
  const configOnly = entries.filter(([, row]) => row.flag === undefined);
  const out = ['', `## \`lifeline ${spec.name}\``, '', `${spec.summary[0]!.toUpperCase()}${spec.summary.slice(1)}.`, '', '```', usageLine(spec), '```'];
  for (const p of spec.description) out.push('', p);
  if (spec.positionals.length > 0) out.push('', ...table(['Argument', 'Meaning'], spec.positionals.map((p) => [code(positionalUsage(p)), cell(p.help)])));
  out.push('', '### Options', '', ...table(['Flag', ...(hasConfig ? ['Config key'] : []), 'Default', 'Meaning'], [...flags.map(([key, row]) => optionRow(key, row, hasConfig)), optionRow('help', HELP_OPTION, hasConfig)]));
  if (configOnly.length > 0) {
    out.push('', '### Config keys without a flag', '', 'Set in the `--config` file only.', '');
    out.push(...table(['Config key', 'Value', 'Default', 'Meaning'], configOnly.map(([key, row]) => [code(key), code(row.type.placeholder), defaultCell(row), sentence(row.help)])));
  }
  out.push('', '### Exit status', '', ...table(['Status', 'When'], spec.exits.map(([status, meaning]) => [String(status), cell(meaning)])));
  out.push('', '### Examples', '', '```sh', ...spec.examples, '```');
  return out;
}

/** The whole of docs/cli.md. */
export function renderReference(commands: readonly CommandSpec[]): string {
  return [
    '# The `lifeline` command',
    '',
    '<!-- Generated from the option tables in src/cli/specs/ by `npm run docs:cli`. Edit the tables, not this file: a test fails when the two differ. -->',
    '',
    '`npx lifeline <command> [options]` after `npm install lifeline`. `serve` and `probe` need the optional',
    'dependencies a default install has (`--omit=optional` leaves them out); `--store redis://…` needs `ioredis`.',
    '',
    '- **Help**: `lifeline <command> --help` or `lifeline help <command>`; `lifeline --help` lists the commands; `lifeline --version`.',
    '- **Output**: text for people when stdout is a terminal (coloured there, unless `NO_COLOR` is set), JSON lines',
    '  (one object per line) when it is not; `--json` or `--text` chooses either way.',
    '- **Mistakes**: an unknown command or option, a missing or malformed value, is one line on stderr (with',
    '  "did you mean" for a near miss) and exit status 2.',
    '- **Config** (`serve --config FILE`): a JSON object whose keys are the *Config key* column below; a flag',
    '  on the command line wins over its key; SIGHUP re-reads the file. Durations are milliseconds or strings',
    '  such as `"5s"`. An unknown key or a value of the wrong type is a usage error.',
    '',
    '| Command | What it does |',
    '|---|---|',
    ...commands.map((c) => `| [\`${c.name}\`](#lifeline-${c.name}) | ${cell(c.summary)} |`),
    ...commands.flatMap(section),
    '',
  ].join('\n');
}
