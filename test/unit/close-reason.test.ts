import { describe, expect, it } from 'vitest';
import { formatReason, MAX_CLOSE_REASON_BYTES, parseReason, truncateUtf8, utf8Length } from '../../src/protocol/index.js';

const strict = new TextDecoder('utf-8', { fatal: true });
const roundTrips = (s: string) => strict.decode(new TextEncoder().encode(s)) === s;

describe('close reasons', () => {
  it('cuts a 200-byte multibyte reason to <= 123 bytes on a character boundary', () => {
    const long = '重启'.repeat(34) + 'ab'; // 3-byte characters: 204 + 2 bytes
    expect(utf8Length(long)).toBeGreaterThanOrEqual(200);
    const cut = truncateUtf8(long);
    expect(utf8Length(cut)).toBeLessThanOrEqual(MAX_CLOSE_REASON_BYTES);
    expect(utf8Length(cut)).toBeGreaterThan(MAX_CLOSE_REASON_BYTES - 3);
    expect(long.startsWith(cut)).toBe(true);
    expect(roundTrips(cut)).toBe(true);
  });

  it('never splits a surrogate pair', () => {
    const emoji = '😀'.repeat(40); // 160 bytes, 4 per character
    const cut = truncateUtf8(emoji);
    expect(utf8Length(cut)).toBe(120);
    expect([...cut].every((c) => c === '😀')).toBe(true);
  });

  it('keeps short reasons unchanged', () => {
    expect(truncateUtf8('bye')).toBe('bye');
    expect(truncateUtf8('')).toBe('');
  });

  it('formats and parses incident and retry fields', () => {
    const r = formatReason({ text: 'service restart', retry: { minMs: 1000, maxMs: 5000 } });
    expect(r).toBe('service restart; retry=1000-5000ms');
    expect(parseReason(r)).toEqual({ text: 'service restart', retry: { minMs: 1000, maxMs: 5000 } });
    const i = formatReason({ text: 'internal error', incident: 'inc_0123456789ab' });
    expect(parseReason(i)).toEqual({ text: 'internal error', incident: 'inc_0123456789ab' });
    expect(parseReason('x; retry=3s').retry).toEqual({ minMs: 3000, maxMs: 3000 });
    expect(formatReason({ text: 't', retry: { minMs: 700, maxMs: 700 } })).toBe('t; retry=700ms');
  });

  it('keeps fields whole when the text must shrink, and the total within 123 bytes', () => {
    const r = formatReason({ text: '服务重启'.repeat(30), incident: 'inc_0123456789ab', retry: { minMs: 1000, maxMs: 5000 } });
    expect(utf8Length(r)).toBeLessThanOrEqual(123);
    expect(roundTrips(r)).toBe(true);
    const parsed = parseReason(r);
    expect(parsed.incident).toBe('inc_0123456789ab');
    expect(parsed.retry).toEqual({ minMs: 1000, maxMs: 5000 });
  });

  it('treats unknown or malformed fields as text, so any server reason is safe to parse', () => {
    expect(parseReason('going away')).toEqual({ text: 'going away' });
    expect(parseReason('a; retry=soon')).toEqual({ text: 'a; retry=soon' });
    expect(parseReason('a; retry=5000-1000ms').retry).toBeUndefined();
    expect(parseReason('retry=100ms').retry).toBeUndefined();
    expect(parseReason('a; incident=<script>').incident).toBeUndefined();
    expect(parseReason('')).toEqual({ text: '' });
  });

  it('refuses an incident id that would break the syntax', () => {
    expect(() => formatReason({ text: 'x', incident: 'a;b' })).toThrow(RangeError);
  });
});
