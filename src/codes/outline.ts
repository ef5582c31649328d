/**
 * The registry's outline: every code's English name and the client's default reaction to it, for the
 * single codes (by code) and for the ranges that cover the rest of 0-4999. It is all of the registry
 * the client carries: read by code, the way a close arrives, so its bundle has no constant-style keys,
 * no other facts (`facts.ts`: sender, wire, source) and no other texts (`texts-*.ts`). `facts.ts` and
 * `names-en.ts` build the registry's other views of these from here.
 * @packageDocumentation
 */
import type { LifelineCloseCode, RegisteredCloseCode } from './close-code.js';
import type { RangeKind } from './locale.js';
import type { ReconnectClass } from './types.js';

/** A code with an entry of its own: a registered one (1000-1015) or one of lifeline.v1's. */
export type SingleCode = RegisteredCloseCode | (typeof LifelineCloseCode)[keyof typeof LifelineCloseCode];

/**
 * Each single code's English name and the client's default reaction (lifeline.v1's own codes stop: the
 * session client decides what follows them). `satisfies` makes the compiler demand every code.
 */
export const SINGLE_CODES = {
  1000: { name: 'Normal Closure', reconnect: 'stop' },
  1001: { name: 'Going Away', reconnect: 'reconnect-soon' },
  1002: { name: 'Protocol Error', reconnect: 'stop' },
  1003: { name: 'Unsupported Data', reconnect: 'stop' },
  1004: { name: 'Reserved', reconnect: 'stop' },
  1005: { name: 'No Status Received', reconnect: 'stop' },
  1006: { name: 'Abnormal Closure', reconnect: 'backoff' },
  1007: { name: 'Invalid Frame Payload Data', reconnect: 'stop' },
  1008: { name: 'Policy Violation', reconnect: 'stop' },
  1009: { name: 'Message Too Big', reconnect: 'stop' },
  1010: { name: 'Mandatory Extension', reconnect: 'stop' },
  1011: { name: 'Internal Error', reconnect: 'backoff' },
  1012: { name: 'Service Restart', reconnect: 'reconnect-soon' },
  1013: { name: 'Try Again Later', reconnect: 'backoff' },
  1014: { name: 'Bad Gateway', reconnect: 'backoff' },
  1015: { name: 'TLS Handshake', reconnect: 'stop' },
  4801: { name: 'Session Taken Over', reconnect: 'stop' },
  4802: { name: 'Credentials Expired', reconnect: 'stop' },
} as const satisfies Record<SingleCode, { readonly name: string; readonly reconnect: ReconnectClass }>;

/**
 * The ranges that cover every code outside 1000-1015, in order, with their English names and the
 * client's default reaction (lifeline's own codes are cut out of theirs: a single code's entry wins).
 */
export const RANGES = [
  { kind: 'unused', from: 0, to: 999, name: 'Unused', reconnect: 'stop' },
  { kind: 'reserved', from: 1016, to: 2999, name: 'Reserved for Future Standards', reconnect: 'stop' },
  { kind: 'library', from: 3000, to: 3999, name: 'Registered by a Library or Framework', reconnect: 'application' },
  { kind: 'application', from: 4000, to: 4999, name: 'Private Use', reconnect: 'application' },
] as const satisfies readonly {
  readonly kind: RangeKind;
  readonly from: number;
  readonly to: number;
  readonly name: string;
  readonly reconnect: ReconnectClass;
}[];

/** The entry covering one code, as far as a client needs it: a single code's row, or its range's. */
export interface CodeOutline {
  /** The range's kind; absent for a single code. */
  readonly kind?: RangeKind;
  /** The English name. */
  readonly name: string;
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
  if (Object.hasOwn(SINGLE_CODES, code)) return SINGLE_CODES[code as SingleCode];
  return RANGES.find((r) => code >= r.from && code <= r.to);
}
