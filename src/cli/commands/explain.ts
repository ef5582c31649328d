/**
 * `lifeline explain <code>` and `lifeline compare <a> <b>`: the close-code registry for people.
 * @packageDocumentation
 */
import { codeLabels, compareCodes, explainCode, MAX_CLOSE_CODE, type Comparison, type Explanation, type Lang } from '../../codes/index.js';
import { outputMode, UsageError, type CliIo, type OutputMode } from '../io.js';
import { readCommandLine } from '../parse.js';
import { COMPARE, EXPLAIN } from '../specs/codes.js';

/** Section headings of the text output, per language. */
const HEADINGS = {
  en: {
    code: 'Code',
    name: 'Name',
    sender: 'Sent by',
    wire: 'On the wire',
    reaction: 'Client reaction',
    source: 'Source',
    range: 'range',
    description: 'Description',
    when: 'When it happens',
    fix: 'How to fix',
    difference: 'Main difference',
    whenEach: 'When you meet each',
    whatToDo: 'What to do',
  },
  zh: {
    code: '状态码',
    name: '名称',
    sender: '发送方',
    wire: '出现在线路上',
    reaction: '客户端反应',
    source: '出处',
    range: '范围',
    description: '含义',
    when: '何时出现',
    fix: '如何处理',
    difference: '主要区别',
    whenEach: '各自何时出现',
    whatToDo: '如何应对',
  },
} as const satisfies Record<Lang, Record<string, string>>;

/**
 * Parse one positional close code strictly: decimal digits only, 0-4999.
 * @throws UsageError for anything else (`abc`, `1.5`, `-3`, `70000`, empty)
 */
export function parseCodeArg(text: string): number {
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(value) || value > MAX_CLOSE_CODE) {
    throw new UsageError(`not a close code: ${JSON.stringify(text)} (expected an integer 0-${MAX_CLOSE_CODE})`);
  }
  return value;
}

interface Parsed {
  readonly codes: number[];
  readonly lang: Lang;
  readonly mode: OutputMode;
}

function parse(spec: typeof EXPLAIN, args: string[], io: CliIo): Parsed | undefined {
  const parsed = readCommandLine(spec, args, io);
  if (!parsed) return undefined;
  return { codes: parsed.positionals.map(parseCodeArg), lang: parsed.values.lang ?? 'en', mode: outputMode(io, parsed.values) };
}

/** Columns a string takes in a terminal: East Asian wide characters count two. */
function width(text: string): number {
  let n = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    const wide =
      (cp >= 0x1100 && cp <= 0x115f) ||
      (cp >= 0x2e80 && cp <= 0xa4cf) ||
      (cp >= 0xac00 && cp <= 0xd7a3) ||
      (cp >= 0xf900 && cp <= 0xfaff) ||
      (cp >= 0xfe30 && cp <= 0xfe4f) ||
      (cp >= 0xff00 && cp <= 0xff60) ||
      (cp >= 0xffe0 && cp <= 0xffe6);
    n += wide ? 2 : 1;
  }
  return n;
}

function pad(text: string, columns: number): string {
  return text + ' '.repeat(Math.max(0, columns - width(text)));
}

function table(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, width(cell))));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : pad(cell, (widths[i] ?? 0) + 2))).join('').trimEnd());
}

function section(heading: string, body: string): string[] {
  return ['', heading, ...body.split('\n').map((line) => `  ${line}`)];
}

function codeCell(e: Explanation, lang: Lang): string {
  if (e.kind === 'registered' || e.kind === 'lifeline') return e.key !== undefined ? `${e.code} (${e.key})` : String(e.code);
  const kind = codeLabels(lang).kind[e.kind];
  const h = HEADINGS[lang];
  return lang === 'zh' ? `${e.code}（${h.range} ${e.range[0]}–${e.range[1]}，${kind}）` : `${e.code} (${h.range} ${e.range[0]}–${e.range[1]}, ${kind})`;
}

function reactionCell(e: Explanation, lang: Lang): string {
  const label = codeLabels(lang).reconnect[e.reconnect];
  return lang === 'zh' ? `${label}（${e.reconnect}）` : `${label} (${e.reconnect})`;
}

/** The human-readable text of one explanation. */
export function formatExplanation(e: Explanation): string {
  const h = HEADINGS[e.lang];
  const labels = codeLabels(e.lang);
  const facts = table([
    [h.code, codeCell(e, e.lang)],
    [h.name, e.name],
    [h.sender, labels.sender[e.sender]],
    [h.wire, e.onWire ? labels.wire.yes : labels.wire.no],
    [h.reaction, reactionCell(e, e.lang)],
    [h.source, e.source],
  ]);
  return [
    `${e.code} ${e.name}`,
    ...facts.map((line) => `  ${line}`),
    ...section(h.description, e.description),
    ...section(h.when, e.when),
    ...section(h.fix, e.fix),
  ].join('\n');
}

/** The human-readable text of one comparison. */
export function formatComparison(c: Comparison): string {
  const h = HEADINGS[c.lang];
  const labels = codeLabels(c.lang);
  const { a, b } = c;
  const facts = table([
    [h.code, codeCell(a, c.lang), codeCell(b, c.lang)],
    [h.name, a.name, b.name],
    [h.sender, labels.sender[a.sender], labels.sender[b.sender]],
    [h.wire, a.onWire ? labels.wire.yes : labels.wire.no, b.onWire ? labels.wire.yes : labels.wire.no],
    [h.reaction, reactionCell(a, c.lang), reactionCell(b, c.lang)],
  ]);
  return [
    `${a.code} ${a.name}  vs  ${b.code} ${b.name}`,
    ...facts.map((line) => `  ${line}`),
    ...section(h.difference, c.difference),
    ...section(h.whenEach, c.whenEach),
    ...section(h.whatToDo, c.whatToDo),
  ].join('\n');
}

/**
 * `lifeline explain <code> [--lang en|zh] [--json|--text]`: what a close code means and what to do about it.
 * @returns the exit status (0)
 * @throws UsageError on a bad command line (the dispatcher prints it and exits 2)
 */
export function runExplain(args: string[], io: CliIo): number {
  const parsed = parse(EXPLAIN, args, io);
  if (!parsed) return 0;
  const explanation = explainCode(parsed.codes[0], parsed.lang);
  io.out(parsed.mode === 'json' ? JSON.stringify(explanation) : formatExplanation(explanation));
  return 0;
}

/**
 * `lifeline compare <a> <b> [--lang en|zh] [--json|--text]`: two close codes side by side.
 * @returns the exit status (0)
 * @throws UsageError on a bad command line (the dispatcher prints it and exits 2)
 */
export function runCompare(args: string[], io: CliIo): number {
  const parsed = parse(COMPARE, args, io);
  if (!parsed) return 0;
  const comparison = compareCodes(parsed.codes[0], parsed.codes[1], parsed.lang);
  io.out(parsed.mode === 'json' ? JSON.stringify(comparison) : formatComparison(comparison));
  return 0;
}
