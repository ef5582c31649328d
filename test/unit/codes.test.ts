import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  CloseCode,
  InvalidCloseCodeError,
  LANGS,
  LifelineCloseCode,
  classifyCode,
  compareCodes,
  explainCode,
  isSendableCode,
  lifelineCodes,
  lookupEntry,
  registeredCodes,
  registryEntries,
  type ReconnectClass,
  type Sender,
} from '../../src/codes/index.js';
import { LifelineError } from '../../src/errors.js';

const ALL_CODES = Array.from({ length: 5000 }, (_, i) => i);
const CJK = /[\u4e00-\u9fff]/;

const EXPECTED_CLASS: Record<number, ReconnectClass> = {
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
};

const EXPECTED_SENDER: Record<number, Sender> = {
  1000: 'either',
  1001: 'either',
  1002: 'either',
  1003: 'either',
  1004: 'none',
  1005: 'none',
  1006: 'none',
  1007: 'either',
  1008: 'either',
  1009: 'either',
  1010: 'client',
  1011: 'server',
  1012: 'server',
  1013: 'server',
  1014: 'gateway',
  1015: 'none',
};

describe('registry coverage', () => {
  it('explains every code 0..4999 in every language with non-empty texts', () => {
    for (const code of ALL_CODES) {
      for (const lang of LANGS) {
        const e = explainCode(code, lang);
        expect(e.code).toBe(code);
        expect(e.lang).toBe(lang);
        for (const field of ['name', 'summary', 'description', 'when', 'fix', 'source'] as const) {
          if (e[field].trim() === '') throw new Error(`${code} ${lang}: empty ${field}`);
        }
        expect(e.range[0]).toBeLessThanOrEqual(code);
        expect(e.range[1]).toBeGreaterThanOrEqual(code);
      }
    }
  });

  it('covers 0..4999 with entries that neither overlap nor leave gaps', () => {
    const entries = registryEntries();
    expect(entries[0]?.from).toBe(0);
    expect(entries.at(-1)?.to).toBe(4999);
    for (let i = 1; i < entries.length; i++) expect(entries[i]?.from).toBe((entries[i - 1]?.to ?? Number.NaN) + 1);
  });

  it('puts each range code in the right kind', () => {
    const kindOf = (c: number) => explainCode(c).kind;
    expect([0, 500, 999].map(kindOf)).toEqual(['unused', 'unused', 'unused']);
    expect([1016, 2000, 2999].map(kindOf)).toEqual(['reserved', 'reserved', 'reserved']);
    expect([3000, 3999].map(kindOf)).toEqual(['library', 'library']);
    expect([4000, 4999].map(kindOf)).toEqual(['application', 'application']);
    expect(explainCode(2500).range).toEqual([1016, 2999]);
  });
});

describe('registered codes', () => {
  it('has one entry of its own for each of 1000..1015, in order', () => {
    const entries = registeredCodes();
    expect(entries.map((e) => e.from)).toEqual(Array.from({ length: 16 }, (_, i) => 1000 + i));
    expect(new Set(entries).size).toBe(16);
    expect(new Set(entries.map((e) => e.texts.en.name)).size).toBe(16);
    for (const e of entries) {
      expect(e.kind).toBe('registered');
      expect(e.to).toBe(e.from);
      expect(lookupEntry(e.from)).toBe(e);
      expect(explainCode(e.from).range).toEqual([e.from, e.from]);
    }
  });

  it('agrees with the CloseCode constants', () => {
    expect(Object.keys(CloseCode)).toHaveLength(16);
    for (const e of registeredCodes()) {
      expect(e.key).toBeDefined();
      expect(CloseCode[e.key as keyof typeof CloseCode]).toBe(e.from);
    }
  });

  it('marks exactly 1004, 1005, 1006 and 1015 as never sent', () => {
    const neverSent = registeredCodes().filter((e) => !e.onWire).map((e) => e.from);
    expect(neverSent).toEqual([1004, 1005, 1006, 1015]);
    for (const e of registeredCodes()) expect(e.sender === 'none').toBe(!e.onWire);
  });

  it('gives each registered code its default reconnect class', () => {
    for (const e of registeredCodes()) {
      expect([e.from, classifyCode(e.from)]).toEqual([e.from, EXPECTED_CLASS[e.from]]);
      expect(e.reconnect).toBe(EXPECTED_CLASS[e.from]);
    }
  });

  it('gives ranges their reconnect class', () => {
    for (const c of [0, 999, 1016, 2999]) expect(classifyCode(c)).toBe('stop');
    for (const c of [3000, 3999, 4000, 4999]) expect(classifyCode(c)).toBe('application');
  });

  it('records who sends each registered code', () => {
    for (const e of registeredCodes()) expect([e.from, e.sender]).toEqual([e.from, EXPECTED_SENDER[e.from]]);
  });

  it("gives lifeline.v1's own codes entries of their own, in both languages, cut out of the private-use range", () => {
    expect(lifelineCodes().map((e) => [e.from, e.key, e.kind, e.sender, e.reconnect])).toEqual([
      [LifelineCloseCode.SESSION_TAKEN_OVER, 'SESSION_TAKEN_OVER', 'lifeline', 'server', 'stop'],
      [LifelineCloseCode.CREDENTIALS_EXPIRED, 'CREDENTIALS_EXPIRED', 'lifeline', 'server', 'stop'],
    ]);
    expect([4800, 4803].map((c) => explainCode(c).kind)).toEqual(['application', 'application']);
    expect(explainCode(4801, 'zh').name).toMatch(CJK);
    expect(isSendableCode(4801)).toBe(true);
    expect(classifyCode(4802)).toBe('stop');
  });

  it('says 1005 is handled like 1000', () => {
    expect(explainCode(1005).fix).toMatch(/1000/);
    expect(explainCode(1005, 'zh').fix).toMatch(/1000/);
  });

  it('carries the 1011 and 1012 guidance', () => {
    const e1011 = explainCode(1011);
    expect(e1011.fix).toMatch(/incident id/);
    expect(e1011.fix).toMatch(/server logs/);
    expect(e1011.fix).toMatch(/never sees the stack/);
    const e1012 = explainCode(1012);
    expect(e1012.fix).toMatch(/1–5 s/);
    expect(e1012.fix).toMatch(/retry=/);
    expect(e1012.fix).toMatch(/nothing should be lost/);
    const caveat = `${e1012.description} ${e1012.when} ${e1012.fix}`;
    for (const name of ['faye-websocket', 'websocket-driver', 'websocket-client', 'libwebsockets 4.1']) expect(caveat).toContain(name);
    const caveatZh = Object.values(explainCode(1012, 'zh')).join(' ');
    expect(caveatZh).toContain('libwebsockets 4.1');
  });
});

describe('Chinese texts', () => {
  it('are Chinese and differ from the English ones, for every entry', () => {
    for (const e of registryEntries()) {
      for (const field of ['name', 'summary', 'description', 'when', 'fix'] as const) {
        const zh = e.texts.zh[field];
        if (!CJK.test(zh)) throw new Error(`${e.from}-${e.to} zh ${field} has no Chinese: ${zh}`);
        expect(zh).not.toBe(e.texts.en[field]);
      }
    }
  });
});

describe('invalid input', () => {
  const BAD: unknown[] = ['1000', '', NaN, 1.5, -1, 5000, 70000, Infinity, -Infinity, null, undefined, {}, [1000], true, 1000n];

  it('throws InvalidCloseCodeError from explainCode, compareCodes, classifyCode and lookupEntry', () => {
    for (const value of BAD) {
      const calls = [
        () => explainCode(value),
        () => compareCodes(value, 1000),
        () => compareCodes(1000, value),
        () => classifyCode(value as number),
        () => lookupEntry(value as number),
      ];
      for (const call of calls) {
        let caught: unknown;
        try {
          call();
        } catch (error) {
          caught = error;
        }
        expect(caught, `value ${String(value)}`).toBeInstanceOf(InvalidCloseCodeError);
        expect(caught).toBeInstanceOf(LifelineError);
        expect((caught as InvalidCloseCodeError).code).toBe('LIFELINE_ERR_INVALID_CLOSE_CODE');
        expect((caught as InvalidCloseCodeError).value).toBe(value);
      }
    }
  });

  it('can be told apart from other errors by code, not message', () => {
    const codeOf = (f: () => unknown): unknown => {
      try {
        f();
      } catch (error) {
        return (error as { code?: unknown }).code;
      }
      return undefined;
    };
    expect(codeOf(() => explainCode(70000))).toBe('LIFELINE_ERR_INVALID_CLOSE_CODE');
    expect(codeOf(() => explainCode(1000))).toBeUndefined();
    expect(() => explainCode(1000, 'fr' as never)).toThrow(RangeError);
    expect(codeOf(() => explainCode(1000, 'fr' as never))).toBeUndefined();
  });

  it('names the value in the message', () => {
    expect(() => explainCode('abc')).toThrow('not a close code: "abc" (expected an integer 0-4999)');
    expect(() => explainCode(70000)).toThrow('not a close code: 70000');
  });

  it('accepts the edges 0 and 4999', () => {
    expect(explainCode(0).kind).toBe('unused');
    expect(explainCode(4999).kind).toBe('application');
  });
});

describe('isSendableCode', () => {
  it('allows exactly 1000-1003, 1007-1014 and 3000-4999', () => {
    const sendable = (c: number) => (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
    for (const c of ALL_CODES) {
      if (isSendableCode(c) !== sendable(c)) throw new Error(`isSendableCode(${c}) should be ${sendable(c)}`);
      if (explainCode(c).onWire !== sendable(c)) throw new Error(`explainCode(${c}).onWire should be ${sendable(c)}`);
    }
    expect([999, 1000, 1003, 1004, 1005, 1006, 1007, 1014, 1015, 1016, 2999, 3000, 4999].map(isSendableCode)).toEqual([
      false, true, true, false, false, false, true, true, false, false, false, true, true,
    ]);
  });

  it('answers false, without throwing, for values that are not close codes', () => {
    for (const v of [-1, 1000.5, 5000, 70000, NaN, Infinity]) expect(isSendableCode(v)).toBe(false);
  });
});

describe('compareCodes', () => {
  it('contrasts 1011 and 1012: unplanned vs planned, backoff vs reconnect soon', () => {
    const c = compareCodes(1011, 1012);
    expect(c.a.code).toBe(1011);
    expect(c.b.code).toBe(1012);
    expect(c.difference).toContain('backoff');
    expect(c.difference).toContain('reconnect-soon');
    expect(c.difference).toMatch(/unplanned/);
    expect(c.difference).toMatch(/planned restart/);
    expect(c.whenEach).toContain('1011');
    expect(c.whenEach).toContain('1012');
    expect(c.whatToDo).toMatch(/incident id/);
    expect(c.whatToDo).toMatch(/retry=/);
    expect(c.whatToDo).toMatch(/As a sender/);
  });

  it('writes the comparison in Chinese when asked', () => {
    const c = compareCodes(1011, 1012, 'zh');
    expect(c.lang).toBe('zh');
    expect(c.a.lang).toBe('zh');
    for (const text of [c.difference, c.whenEach, c.whatToDo]) expect(text).toMatch(CJK);
    expect(c.difference).toContain('backoff');
    expect(c.difference).toContain('reconnect-soon');
    expect(c.difference).toContain('计划内重启');
    expect(c.difference).not.toBe(compareCodes(1011, 1012, 'en').difference);
  });

  it('works for any two codes, ranges and the same code twice', () => {
    const pairs: [number, number][] = [
      [0, 4999],
      [1016, 2000],
      [3000, 4000],
      [4001, 4002],
      [1005, 1005],
      [1004, 1006],
      [1000, 1015],
      [1014, 3500],
    ];
    for (const [a, b] of pairs) {
      for (const lang of LANGS) {
        const c = compareCodes(a, b, lang);
        expect([c.a.code, c.b.code]).toEqual([a, b]);
        for (const text of [c.difference, c.whenEach, c.whatToDo]) expect(text.trim()).not.toBe('');
      }
    }
  });

  it('says so when both sides are the same code', () => {
    const same = compareCodes(1012, 1012);
    expect(same.difference).toMatch(/same code/);
    expect(same.whenEach.split('\n')).toHaveLength(1);
    expect(same.difference).not.toBe(compareCodes(1012, 1011).difference);
  });

  it('says when a side never appears on the wire, or when senders differ', () => {
    expect(compareCodes(1011, 1006).difference).toMatch(/1006 Abnormal Closure never appears in a Close frame/);
    expect(compareCodes(1011, 1006).difference).toMatch(/After either one/);
    expect(compareCodes(1011, 1010).difference).toMatch(/sent by the server, 1010 Mandatory Extension by the client/);
  });
});

describe('docs/codes.md agrees with the registry', () => {
  const doc = readFileSync(new URL('../../docs/codes.md', import.meta.url), 'utf8');

  function section(heading: string): string {
    const start = doc.indexOf(`\n## ${heading}`);
    if (start < 0) throw new Error(`docs/codes.md has no "## ${heading}" section`);
    const end = doc.indexOf('\n## ', start + 1);
    return doc.slice(start, end < 0 ? undefined : end);
  }

  function rows(text: string, first: RegExp): string[][] {
    return text
      .split('\n')
      .filter((line) => first.test(line))
      .map((line) => line.split('|').slice(1, -1).map((cell) => cell.trim()));
  }

  const registeredRows = rows(section('Registered codes'), /^\|\s*\d{4}\s*\|/);
  const lifelineRows = rows(section('lifeline.v1 codes'), /^\|\s*\d{4}\s*\|/);

  it('documents every lifeline.v1 code with its name, sender, wire flag and client reaction, and no other', () => {
    expect(lifelineRows.map((r) => r[0])).toEqual(lifelineCodes().map((e) => String(e.from)));
    for (const e of lifelineCodes()) {
      const row = lifelineRows.find((r) => r[0] === String(e.from));
      expect(row?.slice(1, 5)).toEqual([e.texts.en.name, e.sender, e.onWire ? 'yes' : 'no', e.reconnect]);
    }
  });

  it('documents every registered code with its name, sender, wire flag and client reaction', () => {
    for (const e of registeredCodes()) {
      const row = registeredRows.find((r) => r[0] === String(e.from));
      expect(row, `docs/codes.md has no row for ${e.from}`).toBeDefined();
      expect(row?.slice(1, 5)).toEqual([e.texts.en.name, e.sender, e.onWire ? 'yes' : 'no', e.reconnect]);
    }
  });

  it('documents nothing that the registry does not hold as a registered code', () => {
    expect(registeredRows.length).toBeGreaterThan(0);
    for (const row of registeredRows) {
      const code = Number(row[0]);
      expect(lookupEntry(code).kind, `docs/codes.md lists ${code}`).toBe('registered');
    }
    expect(registeredRows.map((r) => r[0])).toEqual(registeredCodes().map((e) => String(e.from)));
  });

  it('documents every range with its kind, wire flag and client reaction', () => {
    const rangeRows = rows(section('Ranges'), /^\|\s*\d+–\d+\s*\|/);
    const ranges = registryEntries().filter((e) => e.kind !== 'registered' && e.kind !== 'lifeline');
    for (const e of ranges) {
      const row = rangeRows.find((r) => r[0] === `${e.from}–${e.to}`);
      expect(row, `docs/codes.md has no row for ${e.from}–${e.to}`).toBeDefined();
      expect(row?.slice(1, 4)).toEqual([e.kind, e.onWire ? 'yes' : 'no', e.reconnect]);
    }
    for (const row of rangeRows) {
      const [from, to] = (row[0] ?? '').split('–').map(Number);
      if (row[1] === 'registered') expect([from, to]).toEqual([1000, 1015]);
      else if (row[1] === 'lifeline') expect([from, to]).toEqual([lifelineCodes()[0]!.from, lifelineCodes().at(-1)!.to]);
      else expect(ranges.some((e) => e.from === from && e.to === to), `docs/codes.md lists range ${row[0]}`).toBe(true);
    }
  });

  it('explains the incident= and retry= reason fields', () => {
    const reasons = section('Close reasons');
    expect(reasons).toContain('incident=');
    expect(reasons).toContain('retry=');
  });
});
