/**
 * A close explained without the registry's prose: its facts and English name, and empty texts. What
 * the client uses unless it is handed {@link explainCode}, so that a browser bundle of the client
 * carries a few hundred bytes of names instead of every description in two languages.
 * @packageDocumentation
 */
import { factsOf, lookupFacts, type CodeFacts } from './facts.js';
import { CODE_NAMES_EN, RANGE_NAMES_EN } from './names-en.js';
import type { Explanation } from './types.js';

/**
 * `code`'s facts and English name; `summary`, `description`, `when` and `fix` are empty strings.
 * For the full texts in English or Chinese use {@link explainCode} from `lifeline/codes`.
 * @throws InvalidCloseCodeError when `code` is not an integer in 0..4999
 */
export function briefExplanation(code: number): Explanation {
  return briefOf(code, lookupFacts(code));
}

/**
 * As {@link briefExplanation}, undefined when `code` is not an integer in 0..4999 (the client's: it never
 * refuses what a peer sent, so its bundle carries no error class for it).
 * @internal
 */
export function briefOrNone(code: number): Explanation | undefined {
  const facts = factsOf(code);
  return facts && briefOf(code, facts);
}

function briefOf(code: number, facts: CodeFacts): Explanation {
  const { kind, from, to, key, sender, onWire, reconnect, source } = facts;
  const name = key !== undefined ? CODE_NAMES_EN[key] : RANGE_NAMES_EN[kind as Exclude<typeof kind, 'registered' | 'lifeline'>];
  return { code, lang: 'en', kind, range: [from, to], ...(key !== undefined ? { key } : {}), sender, onWire, reconnect, source, name, summary: '', description: '', when: '', fix: '' };
}
