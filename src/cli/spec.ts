/**
 * The shape of a command's table: one row per option, from which the parser, `--help`, the `--config`
 * keys and the reference in docs/cli.md are all made, so none of them can drift from the others.
 * Adding an option (or a config key) to a command is adding one row to its table in `specs/`.
 * @packageDocumentation
 */
import { flag, type ValueType } from './values.js';

/** One option of a command. */
export interface OptionSpec<T = unknown> {
  /** The long flag without dashes (`drain-window`); absent for a key that only the config file sets. */
  readonly flag?: string;
  /** A one-letter alias (`p` for `-p`). */
  readonly short?: string;
  /** What kind of value it takes (a switch, a duration, a port ...). */
  readonly type: ValueType<T>;
  /** Also a `--config` file key, named as the row's key (`drainWindowMs`). */
  readonly config?: boolean;
  /** Environment variable read when the flag is not given. */
  readonly env?: string;
  /** The default, shown in help and docs (and applied by the command). */
  readonly default?: T;
  /** The default in words, when it is not a fixed value ("random", "all in --demo"). */
  readonly defaultText?: string;
  /** One or two sentences for help and docs. */
  readonly help: string;
}

/** A positional argument. */
export interface PositionalSpec {
  /** Shown as `<name>`. */
  readonly name: string;
  readonly help: string;
  /** At least one must be given. */
  readonly required: boolean;
  /** Any number may be given (`<url>...`). */
  readonly multiple?: boolean;
}

/** A command: its table of options, and the words around it. */
export interface CommandSpec<O extends Readonly<Record<string, OptionSpec>> = Readonly<Record<string, OptionSpec>>> {
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** Paragraphs for `--help` and the docs. */
  readonly description: readonly string[];
  readonly positionals: readonly PositionalSpec[];
  readonly options: O;
  /** Exit statuses and what they mean. */
  readonly exits: readonly (readonly [status: number, meaning: string])[];
  /** Command lines shown in help and docs. */
  readonly examples: readonly string[];
}

/** The parsed values of a command's options, by row key; absent when neither flag nor environment gave one. */
export type OptionValues<O> = { -readonly [K in keyof O]?: O[K] extends OptionSpec<infer T> ? T : never };

/** Declare a command (checks its shape, keeps its row types). */
export function defineCommand<const O extends Readonly<Record<string, OptionSpec>>>(spec: CommandSpec<O>): CommandSpec<O> {
  return spec;
}

/** What {@link option} and {@link setting} take: the value type alone decides `T`, the default must fit it. */
type Row<T> = Omit<OptionSpec<T>, 'config' | 'default'> & { readonly default?: NoInfer<T> };

/** Declare one row; the type parameter ties `default` to the value type. */
export function option<T>(spec: Row<T>): OptionSpec<T> {
  return spec;
}

/** Declare a row that is also a `--config` key (named as the row's key); with no `flag`, only the config file sets it. */
export function setting<T>(spec: Row<T>): OptionSpec<T> & { readonly config: true } {
  return { ...spec, config: true };
}

/** The `--config` file's type: the {@link setting} rows of a table, by key. */
export type ConfigOf<O> = { -readonly [K in keyof O as O[K] extends { readonly config: true } ? K : never]?: O[K] extends OptionSpec<infer T> ? T : never };

/**
 * How output is written, shared by every command: for people (text; colour only on a terminal, never
 * with NO_COLOR) when stdout is a terminal, JSON lines when it is not; either forced by a flag.
 */
export const OUTPUT_OPTIONS = {
  json: option({ flag: 'json', type: flag, help: 'print JSON lines (the default when stdout is not a terminal)' }),
  text: option({ flag: 'text', type: flag, help: 'print text for people even when stdout is not a terminal' }),
} as const;

/** `--help`, accepted by every command and answered before anything else is checked. */
export const HELP_OPTION = option({ flag: 'help', short: 'h', type: flag, help: 'print this help and exit' });

/** `<name>` or `<name>...`, in brackets when optional. */
export function positionalUsage(p: PositionalSpec): string {
  const word = `<${p.name}>${p.multiple ? '...' : ''}`;
  return p.required ? word : `[${word}]`;
}

/** `-p, --port PORT`, `--demo`, or the config key for a config-only row. */
export function optionLabel(key: string, row: OptionSpec): string {
  if (row.flag === undefined) return key;
  const value = row.type.placeholder === '' ? '' : ` ${row.type.placeholder}`;
  // Long-only flags line up under the long half of `-p, --port`.
  return `${row.short !== undefined ? `-${row.short}, ` : '    '}--${row.flag}${value}`;
}

/** The default as shown: `defaultText`, or the default value through its type. */
export function defaultLabel(row: OptionSpec): string | undefined {
  if (row.defaultText !== undefined) return row.defaultText;
  return row.default === undefined ? undefined : row.type.show(row.default);
}
