/**
 * The registry's facts without its prose: who sends each code, whether it may travel on the wire, the
 * client's default reaction and where it is defined, for every registered code and every range of
 * 0-4999. Small on purpose: the client decides from these alone, so its bundle carries no texts.
 * @packageDocumentation
 */
import { CloseCode, LifelineCloseCode, type CloseCodeKey, type LifelineCloseCodeKey } from './close-code.js';
import { assertCloseCode } from './errors.js';
import type { RangeKind } from './locale.js';
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

/** The ranges that cover every code outside 1000-1015, in order (lifeline's own codes are cut out of theirs by the registry). */
export const RANGE_FACTS = [
  { kind: 'unused', from: 0, to: 999, sender: 'none', onWire: false, reconnect: 'stop', source: RFC_742 },
  { kind: 'reserved', from: 1016, to: 2999, sender: 'none', onWire: false, reconnect: 'stop', source: RFC_742 },
  { kind: 'library', from: 3000, to: 3999, sender: 'either', onWire: true, reconnect: 'application', source: `${RFC_742}; ${IANA}` },
  { kind: 'application', from: 4000, to: 4999, sender: 'either', onWire: true, reconnect: 'application', source: RFC_742 },
] as const satisfies readonly (EntryFacts & { readonly kind: RangeKind; readonly from: number; readonly to: number })[];

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
  // The ranges and the registered codes cover 0..4999 without gaps (a test checks every code): a valid code has facts.
  return factsOf(assertCloseCode(code))!;
}

/**
 * The facts of the entry covering `code`, undefined when it is not an integer in 0..4999. What the client
 * uses: a close code a peer sent is read, never refused, so its bundle needs no error class for it.
 * @internal
 */
export function factsOf(code: number): CodeFacts | undefined {
  if (!Number.isInteger(code)) return undefined;
  const key = KEY_OF.get(code);
  if (key !== undefined) return { kind: 'registered', from: code, to: code, key, ...REGISTERED_FACTS[key] };
  const own = LIFELINE_KEY_OF.get(code);
  if (own !== undefined) return { kind: 'lifeline', from: code, to: code, key: own, ...LIFELINE_FACTS[own] };
  return RANGE_FACTS.find((r) => code >= r.from && code <= r.to);
}
