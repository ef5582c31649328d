/**
 * The registry: the facts of every registered code, of lifeline.v1's own codes, and of every range of
 * 0-4999 (`facts.ts`) joined with their texts in every language (`texts-*.ts`). This file holds no prose.
 * @packageDocumentation
 */
import { CloseCode, LifelineCloseCode, type CloseCodeKey, type LifelineCloseCodeKey } from './close-code.js';
import { LIFELINE_FACTS, RANGE_FACTS, REGISTERED_FACTS, type EntryFacts } from './facts.js';
import { assertCloseCode } from './errors.js';
import type { Locale } from './locale.js';
import { en } from './texts-en.js';
import { zh } from './texts-zh.js';
import type { CodeText, Lang, RegistryEntry } from './types.js';

export { LIFELINE_FACTS, RANGE_FACTS, REGISTERED_FACTS, type EntryFacts } from './facts.js';

const LOCALES: Readonly<Record<Lang, Locale>> = { en, zh };

function textsOf(pick: (locale: Locale) => CodeText): Readonly<Record<Lang, CodeText>> {
  return Object.freeze({ en: Object.freeze(pick(en)), zh: Object.freeze(pick(zh)) });
}

/** One frozen entry per code of `codes`, in code order, with its facts and texts. */
function singleEntries<K extends CloseCodeKey | LifelineCloseCodeKey>(
  kind: 'registered' | 'lifeline',
  codes: Readonly<Record<K, number>>,
  facts: Readonly<Record<K, EntryFacts>>,
): readonly RegistryEntry[] {
  const keys = Object.keys(codes) as K[];
  const entries = keys.map((key): RegistryEntry => {
    const code = codes[key];
    return Object.freeze({ kind, from: code, to: code, key, ...facts[key], texts: textsOf((l) => l.codes[key]) });
  });
  return Object.freeze(entries.sort((a, b) => a.from - b.from));
}

const REGISTERED = singleEntries('registered', CloseCode, REGISTERED_FACTS);
const LIFELINE = singleEntries('lifeline', LifelineCloseCode, LIFELINE_FACTS);

/** Each range, split around the single codes inside it, so the entries cover 0..4999 exactly once. */
const RANGES: readonly RegistryEntry[] = Object.freeze(
  RANGE_FACTS.flatMap((r): RegistryEntry[] => {
    const texts = textsOf((l) => l.ranges[r.kind]);
    const pieces: RegistryEntry[] = [];
    let from: number = r.from;
    for (const own of LIFELINE) {
      if (own.from < from || own.from > r.to) continue;
      if (own.from > from) pieces.push(Object.freeze({ ...r, from, to: own.from - 1, texts }));
      from = own.to + 1;
    }
    if (from <= r.to) pieces.push(Object.freeze({ ...r, from, to: r.to, texts }));
    return pieces;
  }),
);

const BY_CODE = new Map<number, RegistryEntry>([...REGISTERED, ...LIFELINE].map((e) => [e.from, e]));

/**
 * The registry entry covering `code`: its own entry for 1000-1015 and lifeline's codes, otherwise its range.
 * Entries are frozen and shared; two codes of one range return the same object.
 * @throws InvalidCloseCodeError when `code` is not an integer in 0..4999
 */
export function lookupEntry(code: number): RegistryEntry {
  const c = assertCloseCode(code);
  const own = BY_CODE.get(c);
  if (own) return own;
  const range = RANGES.find((r) => c >= r.from && c <= r.to);
  // The ranges and the single codes cover 0..4999 without gaps; a test checks every code.
  if (!range) throw new Error(`registry has no entry for ${c}`);
  return range;
}

/** The 16 registered entries (1000-1015), in code order. */
export function registeredCodes(): readonly RegistryEntry[] {
  return REGISTERED;
}

/** lifeline.v1's own codes ({@link LifelineCloseCode}), in code order. */
export function lifelineCodes(): readonly RegistryEntry[] {
  return LIFELINE;
}

/** Every entry: the single codes and the ranges, in code order. Together they cover 0..4999 exactly once. */
export function registryEntries(): readonly RegistryEntry[] {
  return [...RANGES, ...REGISTERED, ...LIFELINE].sort((a, b) => a.from - b.from);
}

/**
 * The texts of one language.
 * @throws RangeError for a language the registry does not carry
 */
export function localeOf(lang: Lang): Locale {
  if (typeof lang !== 'string' || !Object.hasOwn(LOCALES, lang)) throw new RangeError(`unknown language: ${String(lang)} (expected ${Object.keys(LOCALES).join(' or ')})`);
  return LOCALES[lang];
}
