/**
 * Close reasons: the byte limit and the compact, documented field syntax that carries
 * an incident id and a reconnect hint.
 *
 * A reason is human text optionally followed by `; key=value` fields, for example
 * `service restart; retry=1000-5000ms` or `internal error; incident=inc_3f9a2c71d0e4`.
 * People can read it in any log; clients parse it with {@link parseReason}.
 * See docs/protocol.md, "Close reasons".
 * @packageDocumentation
 */
import { truncateCodePoints, truncateUtf8 as cutUtf8, utf8Length } from './text.js';

/** RFC 6455 §5.5: a control frame's payload is at most 125 bytes, two of which hold the code. */
export const MAX_CLOSE_REASON_BYTES = 123;

export { utf8Length } from './text.js';

/**
 * Cut `text` to at most `maxBytes` bytes of UTF-8, never splitting a character
 * (code points, so surrogate pairs stay whole).
 * @param text - any string
 * @param maxBytes - the byte budget, @default 123
 */
export function truncateUtf8(text: string, maxBytes: number = MAX_CLOSE_REASON_BYTES): string {
  return cutUtf8(text, maxBytes);
}

/** A reconnect window the server asks clients to honour, relative to the moment of the close. */
export interface RetryHint {
  /** Earliest delay before reconnecting, in milliseconds. */
  readonly minMs: number;
  /** Latest delay before reconnecting, in milliseconds (>= minMs). */
  readonly maxMs: number;
}

/** The parts of a close reason. */
export interface ReasonFields {
  /** Human text, without the fields. */
  readonly text: string;
  /** `incident=<id>`: the server-side incident id of a 1011. */
  readonly incident?: string;
  /** `retry=<min>-<max>ms` or `retry=<ms>ms`: when to come back. */
  readonly retry?: RetryHint;
}

const FIELD_VALUE = /^[A-Za-z0-9_.:-]{1,64}$/;
const RETRY_VALUE = /^(\d{1,9})(?:-(\d{1,9}))?(ms|s)$/;

/** Render a retry hint as it appears in a reason: `1000-5000ms`, or `2000ms` when min equals max. */
export function formatRetry(hint: RetryHint): string {
  const min = Math.max(0, Math.round(hint.minMs));
  const max = Math.max(min, Math.round(hint.maxMs));
  return min === max ? `${min}ms` : `${min}-${max}ms`;
}

/**
 * Characters whose NFC or NFKC normalisation contains `;`: U+037E GREEK QUESTION MARK (canonically
 * equivalent to `;`), U+FE14 PRESENTATION FORM FOR VERTICAL SEMICOLON, U+FE54 SMALL SEMICOLON, U+FF1B
 * FULLWIDTH SEMICOLON. Checked per character, not listed, so a later Unicode version cannot add one
 * unseen; composition never produces `;` (it has no decomposition of its own), so no sequence of
 * characters normalises to one unless a single character does.
 */
function makesSeparator(ch: string): boolean {
  return ch === ';' || (ch > '\x7f' && (ch.normalize('NFKC').includes(';') || ch.normalize('NFC').includes(';')));
}

/**
 * Application text as it goes into a reason: cut first to {@link MAX_CLOSE_REASON_BYTES} code points
 * (no more can fit, and it bounds the work on a huge string), lone surrogates made U+FFFD, and every
 * character that is or normalises to `;` replaced by `,`. A `;` in the text would be read as a field
 * separator (`; incident=…`), by a client that normalises the reason as much as by one that does not.
 */
function neutraliseSeparators(text: string): string {
  const cut = truncateCodePoints(text, MAX_CLOSE_REASON_BYTES);
  // Fast path: ASCII-only text needs only the plain semicolon replaced.
  if (!/[^\x00-\x7f]/.test(cut)) return cut.replace(/;/g, ',');
  let out = '';
  for (const ch of cut) out += makesSeparator(ch) ? ',' : ch;
  return out;
}

/**
 * Build a close reason from its parts, within {@link MAX_CLOSE_REASON_BYTES}.
 * Fields are kept whole; only the human text is shortened to make room, on a character boundary.
 * The text is free-form, but no character of it can make a field: each one that is `;` or normalises
 * (NFC or NFKC) to one becomes `,`, and a lone surrogate becomes U+FFFD.
 */
export function formatReason(fields: ReasonFields): string {
  const parts: string[] = [];
  if (fields.incident !== undefined) {
    if (!FIELD_VALUE.test(fields.incident)) throw new RangeError('incident id must match [A-Za-z0-9_.:-]{1,64}');
    parts.push(`incident=${fields.incident}`);
  }
  if (fields.retry !== undefined) parts.push(`retry=${formatRetry(fields.retry)}`);
  const suffix = parts.map((p) => `; ${p}`).join('');
  const text = neutraliseSeparators(fields.text);
  const budget = MAX_CLOSE_REASON_BYTES - utf8Length(suffix);
  return truncateUtf8(text, Math.max(0, budget)).trimEnd() + suffix;
}

/**
 * Parse a close reason into text and known fields. Unknown or malformed fields stay in the text,
 * so a reason from any server (or none) is safe to pass in.
 */
export function parseReason(reason: string): ReasonFields {
  const segments = reason.split(';');
  const textParts: string[] = [];
  let incident: string | undefined;
  let retry: RetryHint | undefined;
  for (const [index, raw] of segments.entries()) {
    const segment = raw.trim();
    const eq = segment.indexOf('=');
    if (index > 0 && eq > 0) {
      const key = segment.slice(0, eq).trim().toLowerCase();
      const value = segment.slice(eq + 1).trim();
      if (key === 'incident' && FIELD_VALUE.test(value)) {
        incident = value;
        continue;
      }
      if (key === 'retry') {
        const m = RETRY_VALUE.exec(value);
        if (m) {
          const unit = m[3] === 's' ? 1000 : 1;
          const min = Number(m[1]) * unit;
          const max = m[2] === undefined ? min : Number(m[2]) * unit;
          if (max >= min) {
            retry = { minMs: min, maxMs: max };
            continue;
          }
        }
      }
    }
    textParts.push(raw);
  }
  const text = textParts.join(';').trim();
  return {
    text,
    ...(incident !== undefined ? { incident } : {}),
    ...(retry !== undefined ? { retry } : {}),
  };
}
