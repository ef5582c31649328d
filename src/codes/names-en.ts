/**
 * The English names of the close codes and ranges by constant-style key and by range kind: the `name`
 * of the English texts and part of `lifeline/codes`. The names themselves are in `outline.ts`, by
 * code, where the client reads them (what a client says about a close by default).
 * @packageDocumentation
 */
import { CloseCode, LifelineCloseCode, type CloseCodeKey, type LifelineCloseCodeKey } from './close-code.js';
import type { RangeKind } from './locale.js';
import { RANGES, SINGLE_CODES } from './outline.js';

/** English name of each registered code, and of lifeline.v1's own, by constant-style key. */
export const CODE_NAMES_EN: Readonly<Record<CloseCodeKey | LifelineCloseCodeKey, string>> = Object.fromEntries(
  Object.entries({ ...CloseCode, ...LifelineCloseCode }).map(([key, code]) => [key, SINGLE_CODES[code].name]),
) as Record<CloseCodeKey | LifelineCloseCodeKey, string>;

/** English name of each range. */
export const RANGE_NAMES_EN: Readonly<Record<RangeKind, string>> = Object.fromEntries(RANGES.map((r) => [r.kind, r.name])) as Record<RangeKind, string>;
