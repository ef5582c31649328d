/**
 * A close explained without the registry's prose: its facts and English name, and empty texts.
 * @packageDocumentation
 */
import { lookupFacts } from './facts.js';
import { outlineOf } from './outline.js';
import type { Explanation } from './types.js';

/**
 * `code`'s facts and English name; `summary`, `description`, `when` and `fix` are empty strings.
 * For the full texts in English or Chinese use {@link explainCode} from `lifeline/codes`.
 * @throws InvalidCloseCodeError when `code` is not an integer in 0..4999
 */
export function briefExplanation(code: number): Explanation {
  const { kind, from, to, key, sender, onWire, reconnect, source } = lookupFacts(code);
  const { name } = outlineOf(code)!;
  return { code, lang: 'en', kind, range: [from, to], ...(key !== undefined ? { key } : {}), sender, onWire, reconnect, source, name, summary: '', description: '', when: '', fix: '' };
}
