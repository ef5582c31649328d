/**
 * The English names of the close codes and ranges: what a client says about a close by default, and
 * the `name` of the English texts, from this one place. Keyed by code, the way the client reads them
 * (its bundle carries no constant-style keys); {@link CODE_NAMES_EN} has them by key.
 * @packageDocumentation
 */
import { CloseCode, LifelineCloseCode, type CloseCodeKey, type LifelineCloseCodeKey } from './close-code.js';
import type { RangeKind } from './locale.js';
import type { CodeOutline, SingleCode } from './outline.js';

/** English name of each registered code, and of lifeline.v1's own, by code. */
export const NAMES_EN_BY_CODE = {
  1000: 'Normal Closure',
  1001: 'Going Away',
  1002: 'Protocol Error',
  1003: 'Unsupported Data',
  1004: 'Reserved',
  1005: 'No Status Received',
  1006: 'Abnormal Closure',
  1007: 'Invalid Frame Payload Data',
  1008: 'Policy Violation',
  1009: 'Message Too Big',
  1010: 'Mandatory Extension',
  1011: 'Internal Error',
  1012: 'Service Restart',
  1013: 'Try Again Later',
  1014: 'Bad Gateway',
  1015: 'TLS Handshake',
  4801: 'Session Taken Over',
  4802: 'Credentials Expired',
} as const satisfies Record<SingleCode, string>;

/** English name of each registered code, and of lifeline.v1's own, by constant-style key. */
// Marked pure so that a bundle which never reads it (the client's) leaves it and the keys out.
export const CODE_NAMES_EN: Readonly<Record<CloseCodeKey | LifelineCloseCodeKey, string>> = /* @__PURE__ */ namesByKey();

function namesByKey(): Record<CloseCodeKey | LifelineCloseCodeKey, string> {
  const codes = { ...CloseCode, ...LifelineCloseCode };
  return Object.fromEntries(Object.entries(codes).map(([key, code]) => [key, NAMES_EN_BY_CODE[code]])) as Record<CloseCodeKey | LifelineCloseCodeKey, string>;
}

/** English name of each range. */
export const RANGE_NAMES_EN: Readonly<Record<RangeKind, string>> = {
  unused: 'Unused',
  reserved: 'Reserved for Future Standards',
  library: 'Registered by a Library or Framework',
  application: 'Private Use',
};

/**
 * The English name of an entry: its own for a single code, its range's otherwise. What the client
 * calls a close by default, with no other text of the registry in its bundle.
 * @internal
 */
export function englishNameOf(entry: Pick<CodeOutline, 'kind' | 'from'>): string {
  if (entry.kind === 'registered' || entry.kind === 'lifeline') return NAMES_EN_BY_CODE[entry.from as SingleCode];
  return RANGE_NAMES_EN[entry.kind];
}
