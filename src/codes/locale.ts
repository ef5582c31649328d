/**
 * The shape of one language's texts: the words for every code and range, the labels for
 * senders and reconnect classes, and the sentence templates comparisons are built from.
 * Each language is one object of this type (`texts-en.ts`, `texts-zh.ts`), so the compiler
 * refuses a language that misses a code.
 * @packageDocumentation
 */
import type { CloseCodeKey, LifelineCloseCodeKey } from './close-code.js';
import type { CodeText, EntryKind, Lang, ReconnectClass, Sender } from './types.js';

/** The kind of a range entry: every {@link EntryKind} but the single codes (`registered`, `lifeline`). */
export type RangeKind = Exclude<EntryKind, 'registered' | 'lifeline'>;

/** Short labels for the data fields of an entry, in one language. */
export interface Labels {
  /** Who sends it, e.g. "the server". */
  readonly sender: Readonly<Record<Sender, string>>;
  /** The client's default reaction, short, e.g. "back off and retry". */
  readonly reconnect: Readonly<Record<ReconnectClass, string>>;
  /** Whether it may appear on the wire. */
  readonly wire: { readonly yes: string; readonly no: string };
  /** What kind of entry it is, e.g. "private use". */
  readonly kind: Readonly<Record<EntryKind, string>>;
}

/** Sentence templates used by `compareCodes`. Each returns whole sentences in its language. */
export interface ComparePhrases {
  /** How one code is named inside a sentence, e.g. "1011 Internal Error". */
  title(code: number, name: string): string;
  /** What a client does, as a verb phrase ("reconnect with exponential backoff ..."). */
  readonly action: Readonly<Record<ReconnectClass, string>>;
  /** `title` signals `summary`. */
  signals(title: string, summary: string): string;
  /** Both sides are the same code. */
  sameCode(title: string): string;
  /** Two different codes from the same range. */
  sameRange(titleA: string, titleB: string, range: string, from: number, to: number): string;
  /** The client reacts differently to each. */
  reactionDiff(titleA: string, actionA: string, classA: ReconnectClass, titleB: string, actionB: string, classB: ReconnectClass): string;
  /** The client reacts the same way to both. */
  reactionSame(action: string, cls: ReconnectClass): string;
  /** The client's reaction to one code (used when both sides are the same code). */
  reactionOne(title: string, action: string, cls: ReconnectClass): string;
  /** The two are sent by different parties. */
  senderDiff(titleA: string, senderA: string, titleB: string, senderB: string): string;
  /** `title` never appears in a Close frame. */
  neverSent(title: string): string;
  /** One line of "when you meet each". */
  meet(title: string, when: string): string;
  /** One line of "what to do". */
  todo(title: string, fix: string): string;
  /** Sender's choice between two sendable codes. */
  useFor(titleA: string, summaryA: string, titleB: string, summaryB: string): string;
  /** A sender never picks `title`. */
  notChosen(title: string): string;
  /** What goes between two sentences (a space in English, nothing in Chinese). */
  readonly gap: string;
}

/** Everything one language says. */
export interface Locale {
  /** The language. */
  readonly lang: Lang;
  /** Texts of each registered code and of each of lifeline's own. */
  readonly codes: Readonly<Record<CloseCodeKey | LifelineCloseCodeKey, CodeText>>;
  /** Texts of each range. */
  readonly ranges: Readonly<Record<RangeKind, CodeText>>;
  /** Field labels. */
  readonly labels: Labels;
  /** Comparison templates. */
  readonly phrases: ComparePhrases;
}
