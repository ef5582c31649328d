/**
 * The registry: the facts of every registered code and every range of 0-4999 (`facts.ts`) joined
 * with their texts in every language (`texts-*.ts`). This file holds no prose.
 * @packageDocumentation
 */
import { CloseCode, type CloseCodeKey } from './close-code.js';
import { RANGE_FACTS, REGISTERED_FACTS } from './facts.js';
import { assertCloseCode } from './errors.js';
import type { Locale } from './locale.js';
import { en } from './texts-en.js';
import { zh } from './texts-zh.js';
import type { CodeText, Lang, RegistryEntry } from './types.js';

export { RANGE_FACTS, REGISTERED_FACTS, type EntryFacts } from './facts.js';

const LOCALES: Readonly<Record<Lang, Locale>> = { en, zh };

function textsOf(pick: (locale: Locale) => CodeText): Readonly<Record<Lang, CodeText>> {
  return Object.freeze({ en: Object.freeze(pick(en)), zh: Object.freeze(pick(zh)) });
}

const REGISTERED: readonly RegistryEntry[] = Object.freeze(
  (Object.keys(CloseCode) as CloseCodeKey[])
    .map((key): RegistryEntry => {
      const code = CloseCode[key];
      return Object.freeze({ kind: 'registered', from: code, to: code, key, ...REGISTERED_FACTS[key], texts: textsOf((l) => l.codes[key]) });
    })
    .sort((a, b) => a.from - b.from),
);

const RANGES: readonly RegistryEntry[] = Object.freeze(
  RANGE_FACTS.map((r): RegistryEntry => Object.freeze({ ...r, texts: textsOf((l) => l.ranges[r.kind]) })),
);

const BY_REGISTERED_CODE = new Map<number, RegistryEntry>(REGISTERED.map((e) => [e.from, e]));

/**
 * The registry entry covering `code`: its own entry for 1000-1015, otherwise its range.
 * Entries are frozen and shared; two codes of one range return the same object.
 * @throws InvalidCloseCodeError when `code` is not an integer in 0..4999
 */
export function lookupEntry(code: number): RegistryEntry {
  const c = assertCloseCode(code);
  const own = BY_REGISTERED_CODE.get(c);
  if (own) return own;
  const range = RANGES.find((r) => c >= r.from && c <= r.to);
  // The ranges and the registered codes cover 0..4999 without gaps; a test checks every code.
  if (!range) throw new Error(`registry has no entry for ${c}`);
  return range;
}

/** The 16 registered entries (1000-1015), in code order. */
export function registeredCodes(): readonly RegistryEntry[] {
  return REGISTERED;
}

/** Every entry: the registered codes and the ranges, in code order. Together they cover 0..4999 exactly once. */
export function registryEntries(): readonly RegistryEntry[] {
  return [...RANGES, ...REGISTERED].sort((a, b) => a.from - b.from);
}

/**
 * The texts of one language.
 * @throws RangeError for a language the registry does not carry
 */
export function localeOf(lang: Lang): Locale {
  if (typeof lang !== 'string' || !Object.hasOwn(LOCALES, lang)) throw new RangeError(`unknown language: ${String(lang)} (expected ${Object.keys(LOCALES).join(' or ')})`);
  return LOCALES[lang];
}
