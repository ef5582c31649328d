import { describe, expect, it } from 'vitest';
import { runCompare, runExplain } from '../../src/cli/commands/explain.js';
import { UsageError, type CliIo } from '../../src/cli/io.js';
import { compareCodes, explainCode, registeredCodes } from '../../src/codes/index.js';

const CJK = /[\u4e00-\u9fff]/;

function capture(): CliIo & { stdout: () => string; stderr: () => string } {
  const out: string[] = [];
  const err: string[] = [];
  // A terminal: text for people (off a terminal the commands print JSON lines).
  return {
    stdoutIsTTY: true,
    out: (text) => out.push(text),
    err: (text) => err.push(text),
    stdout: () => out.join('\n'),
    stderr: () => err.join('\n'),
  };
}

function usageErrorOf(run: () => unknown): UsageError {
  try {
    run();
  } catch (error) {
    if (error instanceof UsageError) return error;
    throw new Error(`expected UsageError, got ${String(error)}`);
  }
  throw new Error('expected UsageError, nothing was thrown');
}

describe('lifeline explain', () => {
  it('prints the name, sender, wire flag, reaction and the three texts', () => {
    const io = capture();
    expect(runExplain(['1012'], io)).toBe(0);
    const text = io.stdout();
    const e = explainCode(1012);
    expect(text).toContain('1012 Service Restart');
    expect(text).toContain('the server');
    expect(text).toContain('reconnect-soon');
    for (const heading of ['Sent by', 'On the wire', 'Client reaction', 'Description', 'When it happens', 'How to fix']) expect(text).toContain(heading);
    for (const body of [e.description, e.when, e.fix]) expect(text).toContain(body);
    expect(io.stderr()).toBe('');
  });

  it('prints every registered code with its name', () => {
    for (const entry of registeredCodes()) {
      const io = capture();
      runExplain([String(entry.from)], io);
      expect(io.stdout()).toContain(entry.texts.en.name);
    }
  });

  it('shows the range of a code that has no entry of its own', () => {
    const io = capture();
    runExplain(['4001'], io);
    expect(io.stdout()).toContain('4000–4999');
    expect(io.stdout()).toContain('Private Use');
  });

  it('prints the explanation as JSON with --json', () => {
    const io = capture();
    expect(runExplain(['1011', '--json'], io)).toBe(0);
    const parsed = JSON.parse(io.stdout()) as Record<string, unknown>;
    expect(parsed).toEqual(JSON.parse(JSON.stringify(explainCode(1011))));
    for (const field of ['code', 'name', 'description', 'when', 'fix', 'sender', 'onWire', 'reconnect', 'range', 'kind']) expect(parsed).toHaveProperty(field);
    expect(parsed.code).toBe(1011);
    expect(parsed.reconnect).toBe('backoff');
  });

  it('writes Chinese with --lang zh, headings included', () => {
    const io = capture();
    runExplain(['1012', '--lang', 'zh'], io);
    const text = io.stdout();
    expect(text).toMatch(CJK);
    expect(text).toContain('服务重启');
    for (const heading of ['发送方', '客户端反应', '何时出现', '如何处理']) expect(text).toContain(heading);
    expect(text).not.toContain('When it happens');
  });

  it('combines --lang zh and --json', () => {
    const io = capture();
    runExplain(['--json', '--lang=zh', '1006'], io);
    const parsed = JSON.parse(io.stdout()) as { lang: string; name: string };
    expect(parsed.lang).toBe('zh');
    expect(parsed.name).toMatch(CJK);
  });

  it('rejects anything but a decimal code 0-4999 with a UsageError', () => {
    for (const bad of ['abc', '70000', '5000', '-1', '-3', '1.5', '', ' 12', '0x10', '1e3', '+1']) {
      const io = capture();
      const error = usageErrorOf(() => runExplain([bad], io));
      expect(error.message).toBe(`not a close code: ${JSON.stringify(bad)} (expected an integer 0-4999)`);
      expect(error.code).toBe('LIFELINE_ERR_USAGE');
      expect(io.stdout()).toBe('');
    }
  });

  it('rejects a missing code, extra codes, unknown options and unknown languages', () => {
    expect(usageErrorOf(() => runExplain([], capture())).message).toMatch(/missing <code>/);
    expect(usageErrorOf(() => runExplain(['1000', '1001'], capture())).message).toMatch(/unexpected argument: 1001/);
    expect(usageErrorOf(() => runExplain(['1000', '--bogus'], capture())).message).toMatch(/--bogus/);
    expect(usageErrorOf(() => runExplain(['1000', '--lang', 'fr'], capture())).message).toMatch(/--lang/);
    expect(usageErrorOf(() => runExplain(['1000', '--lang'], capture())).message).toMatch(/lang/);
  });

  it('accepts the edges 0 and 4999', () => {
    expect(runExplain(['0'], capture())).toBe(0);
    expect(runExplain(['4999'], capture())).toBe(0);
  });
});

describe('lifeline compare', () => {
  it('prints both codes and the three sections', () => {
    const io = capture();
    expect(runCompare(['1011', '1012'], io)).toBe(0);
    const text = io.stdout();
    const c = compareCodes(1011, 1012);
    expect(text).toContain('Internal Error');
    expect(text).toContain('Service Restart');
    for (const heading of ['Main difference', 'When you meet each', 'What to do']) expect(text).toContain(heading);
    expect(text).toContain(c.difference);
    expect(text).toContain('backoff');
    expect(text).toContain('reconnect-soon');
  });

  it('prints the comparison as JSON with --json', () => {
    const io = capture();
    runCompare(['1011', '1012', '--json'], io);
    const parsed = JSON.parse(io.stdout()) as { a: { code: number }; b: { code: number }; difference: string; whenEach: string; whatToDo: string };
    expect(parsed).toEqual(JSON.parse(JSON.stringify(compareCodes(1011, 1012))));
    expect([parsed.a.code, parsed.b.code]).toEqual([1011, 1012]);
    for (const text of [parsed.difference, parsed.whenEach, parsed.whatToDo]) expect(text.length).toBeGreaterThan(0);
  });

  it('writes Chinese with --lang zh', () => {
    const io = capture();
    runCompare(['1011', '1012', '--lang', 'zh'], io);
    const text = io.stdout();
    for (const heading of ['主要区别', '各自何时出现', '如何应对']) expect(text).toContain(heading);
    expect(text).toContain('内部错误');
    expect(text).not.toContain('Main difference');
  });

  it('compares ranges and a code with itself', () => {
    const io = capture();
    runCompare(['4001', '3001'], io);
    expect(io.stdout()).toContain('Private Use');
    const same = capture();
    runCompare(['1000', '1000'], same);
    expect(same.stdout()).toMatch(/same code/);
  });

  it('rejects bad codes and the wrong number of codes with a UsageError', () => {
    for (const args of [['1011'], [], ['1011', 'abc'], ['70000', '1011'], ['1011', '-1'], ['1.5', '1012'], ['1000', '1001', '1002']]) {
      const io = capture();
      usageErrorOf(() => runCompare(args, io));
      expect(io.stdout()).toBe('');
    }
  });
});
