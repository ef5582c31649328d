/**
 * The registry as data: who sends each code, whether it may travel on the wire, the client's
 * default reaction and where it is defined, for every registered code and every range of 0-4999.
 * Texts come from the language modules; this file holds no prose.
 * @packageDocumentation
 */
import { CloseCode, LifelineCloseCode, type CloseCodeKey, type LifelineCloseCodeKey } from './close-code.js';
import { assertCloseCode } from './errors.js';
import type { Locale, RangeKind } from './locale.js';
import { en } from './texts-en.js';
import { zh } from './texts-zh.js';
import type { CodeText, Lang, ReconnectClass, RegistryEntry, Sender } from './types.js';

/** The data of one entry, without its texts. */
export interface EntryFacts {
  /** Who may send it. */
  readonly sender: Sender;
  /** Whether it may appear in a Close frame. */
  readonly onWire: boolean;
  /** The client's default reaction. */
  readonly reconnect: ReconnectClass;
  /** Where it is defined. */
  readonly source: string;
}

const RFC_741 = 'RFC 6455 §7.4.1';
const RFC_742 = 'RFC 6455 §7.4.2';
const IANA = 'IANA WebSocket Close Code Number Registry';
const LIFELINE_V1 = 'lifeline.v1 (docs/protocol.md)';

/** Facts of each registered code, by key. `satisfies` makes the compiler demand every key. */
export const REGISTERED_FACTS = {
  NORMAL_CLOSURE: { sender: 'either', onWire: true, reconnect: 'stop', source: RFC_741 },
  GOING_AWAY: { sender: 'either', onWire: true, reconnect: 'reconnect-soon', source: RFC_741 },
  PROTOCOL_ERROR: { sender: 'either', onWire: true, reconnect: 'stop', source: RFC_741 },
  UNSUPPORTED_DATA: { sender: 'either', onWire: true, reconnect: 'stop', source: RFC_741 },
  RESERVED: { sender: 'none', onWire: false, reconnect: 'stop', source: RFC_741 },
  NO_STATUS_RECEIVED: { sender: 'none', onWire: false, reconnect: 'stop', source: RFC_741 },
  ABNORMAL_CLOSURE: { sender: 'none', onWire: false, reconnect: 'backoff', source: RFC_741 },
  INVALID_PAYLOAD: { sender: 'either', onWire: true, reconnect: 'stop', source: RFC_741 },
  POLICY_VIOLATION: { sender: 'either', onWire: true, reconnect: 'stop', source: RFC_741 },
  MESSAGE_TOO_BIG: { sender: 'either', onWire: true, reconnect: 'stop', source: RFC_741 },
  MANDATORY_EXTENSION: { sender: 'client', onWire: true, reconnect: 'stop', source: RFC_741 },
  INTERNAL_ERROR: { sender: 'server', onWire: true, reconnect: 'backoff', source: RFC_741 },
  SERVICE_RESTART: { sender: 'server', onWire: true, reconnect: 'reconnect-soon', source: IANA },
  TRY_AGAIN_LATER: { sender: 'server', onWire: true, reconnect: 'backoff', source: IANA },
  BAD_GATEWAY: { sender: 'gateway', onWire: true, reconnect: 'backoff', source: IANA },
  TLS_HANDSHAKE: { sender: 'none', onWire: false, reconnect: 'stop', source: RFC_741 },
} as const satisfies Record<CloseCodeKey, EntryFacts>;

/** Facts of lifeline's own codes: sent by lifeline.v1 servers only; the session client decides what follows. */
export const LIFELINE_FACTS = {
  SESSION_TAKEN_OVER: { sender: 'server', onWire: true, reconnect: 'stop', source: LIFELINE_V1 },
  CREDENTIALS_EXPIRED: { sender: 'server', onWire: true, reconnect: 'stop', source: LIFELINE_V1 },
} as const satisfies Record<LifelineCloseCodeKey, EntryFacts>;

/** The ranges that cover every code outside 1000-1015, in order (lifeline's own codes are cut out of theirs). */
export const RANGE_FACTS = [
  { kind: 'unused', from: 0, to: 999, sender: 'none', onWire: false, reconnect: 'stop', source: RFC_742 },
  { kind: 'reserved', from: 1016, to: 2999, sender: 'none', onWire: false, reconnect: 'stop', source: RFC_742 },
  { kind: 'library', from: 3000, to: 3999, sender: 'either', onWire: true, reconnect: 'application', source: `${RFC_742}; ${IANA}` },
  { kind: 'application', from: 4000, to: 4999, sender: 'either', onWire: true, reconnect: 'application', source: RFC_742 },
] as const satisfies readonly (EntryFacts & { readonly kind: RangeKind; readonly from: number; readonly to: number })[];

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
  // The ranges and the registered codes cover 0..4999 without gaps; a test checks every code.
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
