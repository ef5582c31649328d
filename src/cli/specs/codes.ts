/**
 * The tables of `lifeline explain` and `lifeline compare`.
 * @packageDocumentation
 */
import { defineCommand, option, OUTPUT_OPTIONS } from '../spec.js';
import { oneOf } from '../values.js';

const LANG = option({ flag: 'lang', short: 'l', type: oneOf(['en', 'zh'] as const), default: 'en', help: 'language of the texts: English or Simplified Chinese' });

/** `lifeline explain`. */
export const EXPLAIN = defineCommand({
  name: 'explain',
  summary: 'what a close code means, who sends it, and what to do about it',
  description: ['Any code 0-4999: a registered one (1000-1015) has its own entry, any other is explained by its range.'],
  positionals: [{ name: 'code', help: 'a close code, 0-4999', required: true }],
  options: { lang: LANG, ...OUTPUT_OPTIONS },
  exits: [
    [0, 'explained'],
    [2, 'usage error (one line on stderr)'],
  ],
  examples: ['lifeline explain 1012', 'lifeline explain 1006 --json', 'lifeline explain 4001 --lang zh'],
});

/** `lifeline compare`. */
export const COMPARE = defineCommand({
  name: 'compare',
  summary: 'two close codes side by side: the main difference, when you meet each, what to do',
  description: [],
  positionals: [
    { name: 'a', help: 'the first close code, 0-4999', required: true },
    { name: 'b', help: 'the second close code, 0-4999', required: true },
  ],
  options: { lang: LANG, ...OUTPUT_OPTIONS },
  exits: [
    [0, 'compared'],
    [2, 'usage error (one line on stderr)'],
  ],
  examples: ['lifeline compare 1011 1012', 'lifeline compare 1001 1012 --lang zh'],
});
