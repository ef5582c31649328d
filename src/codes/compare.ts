/**
 * Two codes side by side, built from their entries and reconnect classes in one language.
 * @packageDocumentation
 */
import { explainCode } from './explain.js';
import { localeOf } from './registry.js';
import type { Comparison, Explanation, Lang } from './types.js';

/**
 * Compare two close codes: the main difference, when you meet each, and what to do
 * (including which one to send, when both can be sent). Works for any two codes in
 * 0..4999, codes from the same range and the same code twice.
 * @param a - first code
 * @param b - second code
 * @param lang - language of the texts, @default 'en'
 * @throws InvalidCloseCodeError when either value is not an integer in 0..4999
 * @throws RangeError for a language the registry does not carry
 */
export function compareCodes(a: unknown, b: unknown, lang: Lang = 'en'): Comparison {
  const ea = explainCode(a, lang);
  const eb = explainCode(b, lang);
  const p = localeOf(lang).phrases;
  const ta = p.title(ea.code, ea.name);
  const tb = p.title(eb.code, eb.name);

  if (ea.code === eb.code) {
    return {
      lang,
      a: ea,
      b: eb,
      difference: [p.sameCode(ta), p.signals(ta, ea.summary), p.reactionOne(ta, p.action[ea.reconnect], ea.reconnect)].join(p.gap),
      whenEach: p.meet(ta, ea.when),
      whatToDo: [p.todo(ta, ea.fix), ...(ea.onWire ? [] : [p.notChosen(ta)])].join('\n'),
    };
  }

  const sameEntry = ea.range[0] === eb.range[0] && ea.range[1] === eb.range[1];
  const difference: string[] = sameEntry
    ? [p.sameRange(ta, tb, ea.name, ea.range[0], ea.range[1])]
    : [p.signals(ta, ea.summary), p.signals(tb, eb.summary)];
  difference.push(
    ea.reconnect === eb.reconnect
      ? p.reactionSame(p.action[ea.reconnect], ea.reconnect)
      : p.reactionDiff(ta, p.action[ea.reconnect], ea.reconnect, tb, p.action[eb.reconnect], eb.reconnect),
  );
  difference.push(...wireAndSender(ea, ta, eb, tb, lang));

  const whatToDo = [p.todo(ta, ea.fix), p.todo(tb, eb.fix)];
  if (ea.onWire && eb.onWire) {
    if (!sameEntry) whatToDo.push(p.useFor(ta, ea.summary, tb, eb.summary));
  } else {
    for (const [e, t] of [[ea, ta], [eb, tb]] as const) if (!e.onWire) whatToDo.push(p.notChosen(t));
  }

  return {
    lang,
    a: ea,
    b: eb,
    difference: difference.join(p.gap),
    whenEach: [p.meet(ta, ea.when), p.meet(tb, eb.when)].join('\n'),
    whatToDo: whatToDo.join('\n'),
  };
}

function wireAndSender(ea: Explanation, ta: string, eb: Explanation, tb: string, lang: Lang): string[] {
  const { phrases: p, labels } = localeOf(lang);
  if (!ea.onWire || !eb.onWire) {
    return [...(ea.onWire ? [] : [p.neverSent(ta)]), ...(eb.onWire ? [] : [p.neverSent(tb)])];
  }
  if (ea.sender !== eb.sender) return [p.senderDiff(ta, labels.sender[ea.sender], tb, labels.sender[eb.sender])];
  return [];
}
