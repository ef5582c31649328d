/**
 * Text the server cuts or sends: lengths in code points (what docs/protocol.md and JSON Schema's
 * `maxLength` count), byte budgets in UTF-8, and strings made well-formed. Every place that shortens
 * text for the wire goes through here, so none of them can split a surrogate pair: a lone surrogate
 * is escaped by `JSON.stringify` as `\ud83d`, which strict JSON parsers (Rust's serde_json, for one)
 * reject, and becomes U+FFFD (or an error) in UTF-8.
 * @packageDocumentation
 */

const encoder = new TextEncoder();

/** Byte length of a string in UTF-8 (a lone surrogate counts as the 3 bytes of U+FFFD it is encoded as). */
export function utf8Length(text: string): number {
  return encoder.encode(text).byteLength;
}

/** Length of a string in code points (a surrogate pair is one; a lone surrogate is one). */
export function codePointLength(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * `text` with every lone surrogate replaced by U+FFFD, as a UTF-8 encoder would: the result encodes
 * to valid UTF-8 and to JSON that every parser accepts. Well-formed text is returned as it is.
 * (`String.prototype.toWellFormed`, which Node 20.0 lacks in some builds and TypeScript's ES2022 lib does not type.)
 */
export function toWellFormed(text: string): string {
  return text.replace(LONE_SURROGATE, '\ufffd');
}

/**
 * Cut `text` to at most `max` code points, never splitting a surrogate pair, and make it well-formed
 * ({@link toWellFormed}): the one way the server shortens text it sends, where a limit is documented
 * in characters.
 * @param text - any string
 * @param max - the limit in code points (0 or more)
 */
export function truncateCodePoints(text: string, max: number): string {
  // Each code point is one or two UTF-16 units: a text of at most `max` units is within the limit.
  if (text.length <= max) return toWellFormed(text);
  let count = 0;
  let end = 0;
  for (const ch of text) {
    if (count === max) break;
    count++;
    end += ch.length;
  }
  return toWellFormed(text.slice(0, end));
}

/**
 * Cut `text` to at most `maxBytes` bytes of UTF-8, never splitting a character (code points, so
 * surrogate pairs stay whole). A lone surrogate counts as the 3 bytes of the U+FFFD it is encoded as.
 * @param text - any string
 * @param maxBytes - the byte budget
 */
export function truncateUtf8(text: string, maxBytes: number): string {
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
