/**
 * The registry's facts without its prose: who sends each code, whether it may travel on the wire, the
 * client's default reaction and where it is defined, for every registered code and every range of
 * 0-4999. The reaction and the ranges' bounds come from `outline.ts`, the part the client carries.
 * @packageDocumentation
 */
import { CloseCode, LifelineCloseCode, type CloseCodeKey, type LifelineCloseCodeKey } from './close-code.js';
import { assertCloseCode } from './errors.js';
import type { RangeKind } from './locale.js';
import { RANGES, SINGLE_CODES, type SingleCode } from './outline.js';
import type { EntryKind, ReconnectClass, Sender } from './types.js';

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

/** The facts besides the client's default reaction, which `outline.ts` holds (the client carries only that). */
type WireFacts = Omit<EntryFacts, 'reconnect'>;

/** Who sends each registered code, whether it may travel, where it is defined. `satisfies` makes the compiler demand every key. */
const REGISTERED_WIRE = {
  NORMAL_CLOSURE: { sender: 'either', onWire: true, source: RFC_741 },
  GOING_AWAY: { sender: 'either', onWire: true, source: RFC_741 },
  PROTOCOL_ERROR: { sender: 'either', onWire: true, source: RFC_741 },
  UNSUPPORTED_DATA: { sender: 'either', onWire: true, source: RFC_741 },
  RESERVED: { sender: 'none', onWire: false, source: RFC_741 },
  NO_STATUS_RECEIVED: { sender: 'none', onWire: false, source: RFC_741 },
  ABNORMAL_CLOSURE: { sender: 'none', onWire: false, source: RFC_741 },
  INVALID_PAYLOAD: { sender: 'either', onWire: true, source: RFC_741 },
  POLICY_VIOLATION: { sender: 'either', onWire: true, source: RFC_741 },
  MESSAGE_TOO_BIG: { sender: 'either', onWire: true, source: RFC_741 },
  MANDATORY_EXTENSION: { sender: 'client', onWire: true, source: RFC_741 },
  INTERNAL_ERROR: { sender: 'server', onWire: true, source: RFC_741 },
  SERVICE_RESTART: { sender: 'server', onWire: true, source: IANA },
  TRY_AGAIN_LATER: { sender: 'server', onWire: true, source: IANA },
  BAD_GATEWAY: { sender: 'gateway', onWire: true, source: IANA },
  TLS_HANDSHAKE: { sender: 'none', onWire: false, source: RFC_741 },
} as const satisfies Record<CloseCodeKey, WireFacts>;

/** lifeline's own codes: sent by lifeline.v1 servers only. */
const LIFELINE_WIRE = {
  SESSION_TAKEN_OVER: { sender: 'server', onWire: true, source: LIFELINE_V1 },
  CREDENTIALS_EXPIRED: { sender: 'server', onWire: true, source: LIFELINE_V1 },
} as const satisfies Record<LifelineCloseCodeKey, WireFacts>;

/** Each range's (their bounds are in `outline.ts`). */
const RANGE_WIRE = {
  unused: { sender: 'none', onWire: false, source: RFC_742 },
  reserved: { sender: 'none', onWire: false, source: RFC_742 },
  library: { sender: 'either', onWire: true, source: `${RFC_742}; ${IANA}` },
  application: { sender: 'either', onWire: true, source: RFC_742 },
} as const satisfies Record<RangeKind, WireFacts>;

/** One entry's facts, in the order they have always been listed in (the CLI's JSON output shows it). */
function joined(wire: WireFacts, reconnect: ReconnectClass): EntryFacts {
  return { sender: wire.sender, onWire: wire.onWire, reconnect, source: wire.source };
}

/** The facts of each code in `codes`: its wire facts and the reaction `outline.ts` gives its number. */
function withReactions<K extends string>(codes: Readonly<Record<K, SingleCode>>, wire: Readonly<Record<K, WireFacts>>): Readonly<Record<K, EntryFacts>> {
  const keys = Object.keys(codes) as K[];
  return Object.fromEntries(keys.map((key) => [key, joined(wire[key], SINGLE_CODES[codes[key]].reconnect)])) as Record<K, EntryFacts>;
}

/** Facts of each registered code, by key. */
export const REGISTERED_FACTS: Readonly<Record<CloseCodeKey, EntryFacts>> = withReactions(CloseCode, REGISTERED_WIRE);

/** Facts of lifeline's own codes: sent by lifeline.v1 servers only; the session client decides what follows. */
export const LIFELINE_FACTS: Readonly<Record<LifelineCloseCodeKey, EntryFacts>> = withReactions(LifelineCloseCode, LIFELINE_WIRE);

/** The facts of one range, with its bounds. */
export interface RangeFacts extends EntryFacts {
  readonly kind: RangeKind;
  readonly from: number;
  readonly to: number;
}

/** The ranges that cover every code outside 1000-1015, in order (lifeline's own codes are cut out of theirs by the registry). */
export const RANGE_FACTS: readonly RangeFacts[] = RANGES.map(({ kind, from, to, reconnect }) => ({ kind, from, to, ...joined(RANGE_WIRE[kind], reconnect) }));

/** The facts of the entry covering one code: its own for 1000-1015, otherwise its range's. */
export interface CodeFacts extends EntryFacts {
  /** `registered`, or the range's kind. */
  readonly kind: EntryKind;
  /** The codes the entry covers, inclusive. */
  readonly from: number;
  readonly to: number;
  /** Constant-style key of a registered code or of one of lifeline's own. */
  readonly key?: CloseCodeKey | LifelineCloseCodeKey;
}

const KEY_OF = new Map<number, CloseCodeKey>((Object.keys(CloseCode) as CloseCodeKey[]).map((key) => [CloseCode[key], key]));
const LIFELINE_KEY_OF = new Map<number, LifelineCloseCodeKey>((Object.keys(LifelineCloseCode) as LifelineCloseCodeKey[]).map((key) => [LifelineCloseCode[key], key]));

/**
 * The facts of the entry covering `code`.
 * @throws InvalidCloseCodeError when `code` is not an integer in 0..4999
 */
export function lookupFacts(code: number): CodeFacts {
  const c = assertCloseCode(code);
  const key = KEY_OF.get(c);
  if (key !== undefined) return { kind: 'registered', from: c, to: c, key, ...REGISTERED_FACTS[key] };
  const own = LIFELINE_KEY_OF.get(c);
  if (own !== undefined) return { kind: 'lifeline', from: c, to: c, key: own, ...LIFELINE_FACTS[own] };
  // The ranges and the registered codes cover 0..4999 without gaps (a test checks every code): a valid code has facts.
  return RANGE_FACTS.find((r) => c >= r.from && c <= r.to)!;
}
