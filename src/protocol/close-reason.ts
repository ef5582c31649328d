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

/** RFC 6455 §5.5: a control frame's payload is at most 125 bytes, two of which hold the code. */
export const MAX_CLOSE_REASON_BYTES = 123;

const encoder = new TextEncoder();

/** Byte length of a string in UTF-8. */
export function utf8Length(text: string): number {
  return encoder.encode(text).byteLength;
}

/**
 * Cut `text` to at most `maxBytes` bytes of UTF-8, never splitting a character
 * (code points, so surrogate pairs stay whole).
 * @param text - any string
 * @param maxBytes - the byte budget, @default 123
 */
export function truncateUtf8(text: string, maxBytes: number = MAX_CLOSE_REASON_BYTES): string {
  if (text.length * 3 <= maxBytes || utf8Length(text) <= maxBytes) return text;
  let used = 0;
  let end = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    const size = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (used + size > maxBytes) break;
    used += size;
    end += ch.length;
  }
  return text.slice(0, end);
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
 * Build a close reason from its parts, within {@link MAX_CLOSE_REASON_BYTES}.
 * Fields are kept whole; only the human text is shortened to make room.
 */
export function formatReason(fields: ReasonFields): string {
  const parts: string[] = [];
  if (fields.incident !== undefined) {
    if (!FIELD_VALUE.test(fields.incident)) throw new RangeError('incident id must match [A-Za-z0-9_.:-]{1,64}');
    parts.push(`incident=${fields.incident}`);
  }
  if (fields.retry !== undefined) parts.push(`retry=${formatRetry(fields.retry)}`);
  const suffix = parts.map((p) => `; ${p}`).join('');
  // Semicolons in the text would be read as field separators; the text is free-form otherwise.
  const text = fields.text.replace(/;/g, ',');
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
