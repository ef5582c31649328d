/**
 * One code explained in one language.
 * @packageDocumentation
 */
import { assertCloseCode } from './errors.js';
import { localeOf, lookupEntry } from './registry.js';
import type { Explanation, Lang } from './types.js';

/**
 * Everything the registry says about `code`, in `lang`: its own entry for 1000-1015,
 * otherwise the range it falls in.
 * @param code - the value to explain; anything but an integer in 0..4999 is rejected
 * @param lang - language of the texts, @default 'en'
 * @throws InvalidCloseCodeError when `code` is not an integer in 0..4999
 * @throws RangeError for a language the registry does not carry
 */
export function explainCode(code: unknown, lang: Lang = 'en'): Explanation {
  const c = assertCloseCode(code);
  localeOf(lang);
  const entry = lookupEntry(c);
  const text = entry.texts[lang];
  return {
    code: c,
    lang,
    kind: entry.kind,
    range: [entry.from, entry.to],
    ...(entry.key !== undefined ? { key: entry.key } : {}),
    sender: entry.sender,
    onWire: entry.onWire,
    reconnect: entry.reconnect,
    source: entry.source,
    name: text.name,
    summary: text.summary,
    description: text.description,
    when: text.when,
    fix: text.fix,
  };
}
