import { describe, expect, it } from 'vitest';
import { codePointLength, formatReason, parseReason, toWellFormed, truncateCodePoints, truncateUtf8 } from '../../src/protocol/index.js';

const E = '\u{1F600}';

describe('truncateCodePoints', () => {
  it('counts code points and never splits a surrogate pair', () => {
    expect(truncateCodePoints('a'.repeat(31) + E + 'zzz', 32)).toBe('a'.repeat(31) + E);
    expect(truncateCodePoints(E.repeat(40), 32)).toBe(E.repeat(32));
    expect(codePointLength(truncateCodePoints(E.repeat(40), 32))).toBe(32);
    expect(truncateCodePoints('abc', 32)).toBe('abc');
    expect(truncateCodePoints('abc', 0)).toBe('');
  });
  it('makes lone surrogates U+FFFD, and keeps pairs', () => {
    expect(toWellFormed('a\ud800b\udc00c' + E)).toBe('a\ufffdb\ufffdc' + E);
    expect(toWellFormed('\udc00\ud800')).toBe('\ufffd\ufffd');
    expect(truncateCodePoints('x\ud83d', 5)).toBe('x\ufffd');
  });
});

describe('close reasons: no character that normalises to ";" survives in the text', () => {
  it('every code point alone, and after text, gives a reason with no ";" under NFC or NFKC', () => {
    const offenders: string[] = [];
    for (let cp = 0x80; cp <= 0x10ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const ch = String.fromCodePoint(cp);
      if (!ch.normalize('NFKC').includes(';') && !ch.normalize('NFC').includes(';')) continue;
      const reason = formatReason({ text: `a${ch} incident=fake` });
      if (reason.normalize('NFKC').includes(';') || reason.normalize('NFC').includes(';')) offenders.push(cp.toString(16));
      expect(parseReason(reason.normalize('NFKC')).incident).toBeUndefined();
    }
    expect(offenders).toEqual([]);
  });
  it('keeps the 123-byte cap, cut on a character boundary, and lifeline\'s own fields', () => {
    const reason = formatReason({ text: '\u037e'.repeat(100) + E.repeat(40), incident: 'inc_1' });
    expect(Buffer.byteLength(reason)).toBeLessThanOrEqual(123);
    expect(Buffer.from(reason).toString('utf8')).toBe(reason);
    expect(parseReason(reason.normalize('NFKC')).incident).toBe('inc_1');
    expect(reason.normalize('NFKC').split(';').length).toBe(2);
    expect(truncateUtf8('x'.repeat(121) + E)).toBe('x'.repeat(121));
  });
  it('a lone surrogate in the text becomes U+FFFD', () => {
    expect(formatReason({ text: 'abc\ud800def' })).toBe('abc\ufffddef');
  });
});
