/**
 * Localised labels for an entry's data fields (sender, wire, reconnect class, kind),
 * for anything that shows an explanation to people: the CLI, a dashboard, logs.
 * @packageDocumentation
 */
import type { Labels } from './locale.js';
import { localeOf } from './registry.js';
import type { Lang } from './types.js';

/**
 * The field labels of one language.
 * @param lang - language of the labels, @default 'en'
 * @throws RangeError for a language the registry does not carry
 */
export function codeLabels(lang: Lang = 'en'): Labels {
  return localeOf(lang).labels;
}
