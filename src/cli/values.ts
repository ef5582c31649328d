/**
 * The kinds of value a command-line option (or a `--config` key) takes: how its text is parsed, how a
 * JSON config value is checked, how its default is shown. Every error is a {@link UsageError} that
 * names the option, so a bad value is one line and exit status 2.
 * @packageDocumentation
 */
import { UsageError } from './io.js';
import { suggestion } from './suggest.js';

/** One kind of value. */
export interface ValueType<T> {
  /** Placeholder in help and docs: `N`, `DURATION`, `KEY` ... */
  readonly placeholder: string;
  /** Parse a flag's (or an environment variable's) text; absent for config-only kinds. */
  parse?(text: string, name: string): T;
  /** Check a value from the JSON config file. */
  fromJson(value: unknown, name: string): T;
  /** How a value (a default) is written in help and docs. */
  show(value: T): string;
  /** Repeatable flag (`--send A --send B`), collected in order. */
  readonly multiple?: boolean;
}

function fail(name: string, expected: string, got: unknown): never {
  throw new UsageError(`${name}: expected ${expected}, got ${typeof got === 'string' ? JSON.stringify(got) : JSON.stringify(got) ?? String(got)}`);
}

/** Parse a duration: `1500` (milliseconds), `1500ms`, `5s`, `2m`, `1h`. @throws UsageError on anything else */
export function parseDuration(name: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new UsageError(`${name}: not a duration: "${text}" (examples: 500ms, 5s, 2m, 1h)`);
  const unit = { s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 's' | 'm' | 'h'] ?? 1;
  return Math.round(Number(m[1]) * unit);
}

/** Milliseconds as people write them: `5s`, `1500ms`, `2m`, `1h`. */
export function showDuration(ms: number): string {
  if (ms !== 0 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms !== 0 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms !== 0 && ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** A string. */
export function text(placeholder: string): ValueType<string> {
  return {
    placeholder,
    parse: (value) => value,
    fromJson: (value, name) => (typeof value === 'string' ? value : fail(name, 'a string', value)),
    show: (value) => value,
  };
}

/** A repeatable string flag; in the config file, an array of strings. */
export function texts(placeholder: string): ValueType<string[]> {
  return {
    placeholder,
    multiple: true,
    parse: (value) => [value],
    fromJson: (value, name) => (Array.isArray(value) && value.every((v) => typeof v === 'string') ? value : fail(name, 'an array of strings', value)),
    show: (value) => value.join(', '),
  };
}

/** An on/off switch: a flag without a value; `true`/`false` in the config file. */
export const flag: ValueType<boolean> = {
  placeholder: '',
  fromJson: (value, name) => (typeof value === 'boolean' ? value : fail(name, 'true or false', value)),
  show: (value) => String(value),
};

/** An integer in [min, max]. */
export function integer(placeholder: string, min: number, max: number): ValueType<number> {
  const check = (value: number, name: string, raw: unknown): number => (Number.isSafeInteger(value) && value >= min && value <= max ? value : fail(name, `an integer ${min}-${max}`, raw));
  return {
    placeholder,
    parse: (value, name) => check(/^\d+$/.test(value) ? Number(value) : Number.NaN, name, value),
    fromJson: (value, name) => check(typeof value === 'number' ? value : Number.NaN, name, value),
    show: String,
  };
}

/** A TCP port, 0-65535 (0 picks a free one). */
export const port: ValueType<number> = { ...integer('N', 0, 65535), placeholder: 'PORT' };

/** A number of messages per second, 0-10000. */
export const rate: ValueType<number> = {
  placeholder: 'N',
  parse: (value, name) => (/^\d+(\.\d+)?$/.test(value) && Number(value) <= 10_000 ? Number(value) : fail(name, 'messages per second, 0-10000', value)),
  fromJson: (value, name) => (typeof value === 'number' && value >= 0 && value <= 10_000 ? value : fail(name, 'messages per second, 0-10000', value)),
  show: String,
};

/** A duration in milliseconds: `5s`, `500ms`, `2m` on the command line; a number (ms) or such a string in the config. */
export const duration: ValueType<number> = {
  placeholder: 'DURATION',
  parse: (value, name) => parseDuration(name, value),
  fromJson: (value, name) => {
    if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
    if (typeof value === 'string') return parseDuration(name, value);
    return fail(name, 'milliseconds (a number) or a duration such as "5s"', value);
  },
  show: showDuration,
};

/** One of a fixed set of words (or numbers), with "did you mean" for a near miss. */
export function oneOf<const T extends string | number>(choices: readonly T[]): ValueType<T> {
  const words = choices.map(String);
  const pick = (value: unknown, name: string): T => {
    const i = words.indexOf(String(value));
    if (i !== -1 && (typeof value === 'string' || typeof value === typeof choices[i])) return choices[i]!;
    const hint = typeof value === 'string' ? suggestion(value, words) : '';
    throw new UsageError(`${name}: expected ${words.join(', ')}; got ${JSON.stringify(value)}${hint}`);
  };
  return { placeholder: words.join('|'), parse: (value, name) => pick(value, name), fromJson: (value, name) => pick(value, name), show: String };
}

/** A `{minMs, maxMs}` window: `1000-5000ms` or `1s-5s` on the command line, the object in the config. */
export const window: ValueType<{ minMs: number; maxMs: number }> = {
  placeholder: 'MIN-MAX',
  parse: (value, name) => {
    const m = /^(\d+(?:\.\d+)?(?:ms|s|m)?)-(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value.trim());
    if (!m) throw new UsageError(`${name}: expected a window such as 1000-5000ms or 1s-5s, got "${value}"`);
    const unit = m[3] ?? '';
    const minText = /[a-z]$/.test(m[1]!) ? m[1]! : `${m[1]}${unit}`;
    return { minMs: parseDuration(name, minText), maxMs: parseDuration(name, `${m[2]}${unit}`) };
  },
  fromJson: (value, name) => {
    const w = value as { minMs?: unknown; maxMs?: unknown } | null;
    if (typeof w === 'object' && w !== null && typeof w.minMs === 'number' && typeof w.maxMs === 'number') return { minMs: w.minMs, maxMs: w.maxMs };
    return fail(name, '{"minMs": N, "maxMs": N}', value);
  },
  show: (w) => `${w.minMs}-${w.maxMs}ms`,
};

/** A JSON object of numbers (config only), e.g. `{"maxCount": 1000}`: the `required` keys must be there, the `optional` ones may. */
export function numbers<R extends string, O extends string = never>(placeholder: string, required: readonly R[], optional: readonly O[] = []): ValueType<Record<R, number> & Partial<Record<O, number>>> {
  const keys: readonly string[] = [...required, ...optional];
  const expected = `an object of numbers: ${keys.map((k) => ((required as readonly string[]).includes(k) ? k : `${k}?`)).join(', ')}`;
  return {
    placeholder,
    fromJson: (value, name) => {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail(name, expected, value);
      const fine = Object.entries(value).every(([k, v]) => keys.includes(k) && typeof v === 'number' && Number.isFinite(v)) && required.every((k) => k in value);
      return fine ? (value as Record<R, number> & Partial<Record<O, number>>) : fail(name, expected, value);
    },
    show: (value) => JSON.stringify(value),
  };
}

/** A `ws://` or `wss://` URL, as given. @throws UsageError for anything else */
export function webSocketUrl(text: string): string {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (url?.protocol !== 'ws:' && url?.protocol !== 'wss:') throw new UsageError(`not a WebSocket URL: "${text}" (expected ws://host:port/ or wss://...)`);
  return text;
}

/** A size in bytes: `1048576`, `512KiB`, `8MiB`, `1GiB` (and KB/MB/GB as powers of 1000). */
export const bytes: ValueType<number> = {
  placeholder: 'BYTES',
  parse: (value, name) => parseBytes(name, value),
  fromJson: (value, name) => (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : typeof value === 'string' ? parseBytes(name, value) : fail(name, 'a number of bytes', value)),
  show: (value) => (value >= 1024 * 1024 && value % (1024 * 1024) === 0 ? `${value / 1024 / 1024}MiB` : value >= 1024 && value % 1024 === 0 ? `${value / 1024}KiB` : String(value)),
};

function parseBytes(name: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|KB|MB|GB)?$/.exec(text.trim());
  if (!m) throw new UsageError(`${name}: not a size: "${text}" (examples: 65536, 512KiB, 8MiB)`);
  const unit = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, KB: 1e3, MB: 1e6, GB: 1e9 }[(m[2] ?? 'B') as 'B'];
  return Math.round(Number(m[1]) * unit);
}

/** A message rate limit: `RATE` or `RATE/BURST` on the command line, `{messagesPerSecond, burst}` in the config file. */
export const rateLimit: ValueType<{ messagesPerSecond: number; burst: number }> = {
  placeholder: 'RATE[/BURST]',
  parse: (value, name) => {
    const m = /^(\d+(?:\.\d+)?)(?:\/(\d+))?$/.exec(value.trim());
    if (!m || Number(m[1]) <= 0) throw new UsageError(`${name}: expected messages per second, optionally /burst (examples: 100, 100/200), got "${value}"`);
    const messagesPerSecond = Number(m[1]);
    return { messagesPerSecond, burst: m[2] === undefined ? Math.max(1, Math.ceil(2 * messagesPerSecond)) : Number(m[2]) };
  },
  fromJson: (value, name) => {
    const v = value as { messagesPerSecond?: unknown; burst?: unknown } | null;
    if (typeof v === 'object' && v !== null && typeof v.messagesPerSecond === 'number' && v.messagesPerSecond > 0 && typeof v.burst === 'number' && v.burst >= 1) {
      return { messagesPerSecond: v.messagesPerSecond, burst: v.burst };
    }
    return fail(name, 'an object {messagesPerSecond > 0, burst >= 1}', value);
  },
  show: (value) => `${value.messagesPerSecond}/${value.burst}`,
};
