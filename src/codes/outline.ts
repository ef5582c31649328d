/**
 * The part of the registry's facts a client acts on: the client's default reaction to every code of
 * 0-4999, and the ranges. The other facts (who sends a code, whether it may travel, where it is defined)
 * are in `facts.ts`, which builds on this module. The client imports this module and the English names
 * (`names-en.ts`), both keyed by code rather than by constant-style key: its bundle then carries the
 * numbers it reads from a Close frame and what it says and does about them, and nothing else.
 * @packageDocumentation
 */
import { LAST_REGISTERED_CODE, type LifelineCloseCode, type RegisteredCloseCode } from './close-code.js';
import type { RangeKind } from './locale.js';
import type { EntryKind, ReconnectClass } from './types.js';

/** A code with an entry of its own: a registered one (1000-1015) or one of lifeline.v1's. */
export type SingleCode = RegisteredCloseCode | (typeof LifelineCloseCode)[keyof typeof LifelineCloseCode];

/**
 * The client's default reaction to each registered code, and to lifeline.v1's own (they stop: the
 * session client decides what follows them). `satisfies` makes the compiler demand every code.
 */
export const RECONNECT_BY_CODE = {
  1000: 'stop',
  1001: 'reconnect-soon',
  1002: 'stop',
  1003: 'stop',
  1004: 'stop',
  1005: 'stop',
  1006: 'backoff',
  1007: 'stop',
  1008: 'stop',
  1009: 'stop',
  1010: 'stop',
  1011: 'backoff',
  1012: 'reconnect-soon',
  1013: 'backoff',
  1014: 'backoff',
  1015: 'stop',
  4801: 'stop',
  4802: 'stop',
} as const satisfies Record<SingleCode, ReconnectClass>;

/**
 * The ranges that cover every code outside 1000-1015, in order, with the client's default reaction
 * (lifeline's own codes are cut out of theirs: a single code's entry wins over its range's).
 */
export const RANGES = [
  { kind: 'unused', from: 0, to: 999, reconnect: 'stop' },
  { kind: 'reserved', from: 1016, to: 2999, reconnect: 'stop' },
  { kind: 'library', from: 3000, to: 3999, reconnect: 'application' },
  { kind: 'application', from: 4000, to: 4999, reconnect: 'application' },
] as const satisfies readonly { readonly kind: RangeKind; readonly from: number; readonly to: number; readonly reconnect: ReconnectClass }[];

/** The entry covering one code, as far as a client needs it. */
export interface CodeOutline {
  /** `registered`, `lifeline`, or the range's kind. */
  readonly kind: EntryKind;
  /** The codes the entry covers, inclusive. */
  readonly from: number;
  readonly to: number;
  /** The client's default reaction. */
  readonly reconnect: ReconnectClass;
}

/**
 * The outline of the entry covering `code`: its own for 1000-1015 and lifeline's codes, otherwise its
 * range's; undefined when `code` is not an integer in 0..4999 (a close code a peer sent is read, never
 * refused, so the client's bundle needs no error class for it).
 * @internal
 */
export function outlineOf(code: number): CodeOutline | undefined {
  if (!Number.isInteger(code)) return undefined;
  if (Object.hasOwn(RECONNECT_BY_CODE, code)) {
    const kind = code <= LAST_REGISTERED_CODE ? 'registered' : 'lifeline';
    return { kind, from: code, to: code, reconnect: RECONNECT_BY_CODE[code as SingleCode] };
  }
  return RANGES.find((r) => code >= r.from && code <= r.to);
}
