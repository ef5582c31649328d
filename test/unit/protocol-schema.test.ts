/**
 * The shipped JSON Schema (schema/lifeline.v1.schema.json) and the hand-written decoders accept exactly
 * the same frames, and docs/protocol.md's frame tables list the same frames and members as the schema.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeClientFrame, decodeServerFrame } from '../../src/protocol/index.js';
import { schema, schemaFrames, validClientFrame, validServerFrame } from '../support/schema.js';

const MAX = Number.MAX_SAFE_INTEGER;
const doc = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');

function clientAccepts(text: string): boolean {
  try {
    decodeClientFrame(text);
    return true;
  } catch {
    return false; // FrameError (closes) and UnknownFrameTypeError (answered, not a frame) alike
  }
}
function serverAccepts(text: string): boolean {
  try {
    return decodeServerFrame(text) !== undefined;
  } catch {
    return false;
  }
}

// ---- values near every rule's edge ----
const weird = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 1.5, MAX + 1, 1e300, '', ' ', '1', [], {}, [1], { epoch: 'e' }),
  fc.string({ maxLength: 8 }),
  fc.integer(),
  fc.double(),
);
const longAstral = (n: number) => '😀'.repeat(n); // n code points, 2n UTF-16 units
const text = fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('', 'x'.repeat(64), 'x'.repeat(65), longAstral(64), longAstral(65), longAstral(40)));
const channel = fc.oneof(fc.constantFrom('news', 'a'.repeat(200), 'a'.repeat(201), 'has space', 'é', '$lifeline.stats', '', '__proto__', '~'), fc.stringMatching(/^[\x21-\x7e]{1,12}$/));
const count = fc.oneof(fc.constantFrom(0, 1, MAX, MAX + 1, -1, 2.5), fc.nat());
const position = fc.oneof(fc.record({ epoch: text, offset: count }, { requiredKeys: [] }), weird);
const token = fc.oneof(fc.constantFrom('t'.repeat(512), 't'.repeat(513), longAstral(300), longAstral(512), longAstral(513)), fc.string({ maxLength: 8 }));
const origin = fc.constantFrom('0123456789abcdef', '0123456789abcde', 'a'.repeat(64), 'a'.repeat(65), 'bad origin!!!!!!!!', 'x_y-z'.repeat(4));
const channels = fc.oneof(
  fc.dictionary(channel, fc.oneof(position, fc.constant(null)), { maxKeys: 3 }),
  fc.constant(Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`c${i}`, null]))),
  fc.constant(Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`c${i}`, null]))),
  weird,
);
const json = fc.jsonValue({ maxDepth: 2 });
const bool = fc.boolean();
const or = <T>(arb: fc.Arbitrary<T>) => fc.oneof({ arbitrary: arb, weight: 4 }, { arbitrary: weird, weight: 1 });

/** A frame of type `t` with any subset of `members`, each usually plausible, sometimes not. */
function frameOf(t: string, members: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<unknown> {
  const parts = Object.fromEntries(Object.entries(members).map(([k, v]) => [k, or(v)]));
  return fc.record({ t: fc.oneof({ arbitrary: fc.constant(t), weight: 9 }, { arbitrary: weird, weight: 1 }), ...parts }, { requiredKeys: [] });
}

const clientFrames = fc.oneof(
  frameOf('hello', { v: fc.constantFrom(1, 2, '1'), token, origin, channels, auth: json }),
  frameOf('auth', { auth: json }),
  frameOf('sub', { ch: channel, from: position, presence: fc.oneof(fc.record({ info: json, events: fc.oneof(bool, fc.constant('yes')) }, { requiredKeys: [] }), weird) }),
  frameOf('presence', { ch: channel, n: fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constant('1')), after: fc.oneof(text, fc.constant('c'.repeat(128)), fc.constant('c'.repeat(129)), fc.constant(longAstral(129))), limit: fc.oneof(count, fc.constantFrom(1000, 1001)) }),
  frameOf('unsub', { ch: channel }),
  frameOf('msg', { id: count, data: json }),
  frameOf('pub', { id: count, ch: channel, data: json }),
  frameOf('ping', { n: fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constant('1')) }),
  frameOf('future-type', { x: json }),
  weird,
);
const member = fc.oneof(fc.record({ session: text, user: text, info: json }, { requiredKeys: [] }), weird);
const serverFrames = fc.oneof(
  frameOf('welcome', { v: fc.constantFrom(1, 2), session: text, token: text, expiresAt: count, resumed: bool, recovered: bool, lost: fc.array(text, { maxLength: 2 }), heartbeatMs: count, authTtlMs: count }),
  frameOf('authed', { authTtlMs: fc.oneof(count, fc.constant(-5)) }),
  frameOf('subscribed', { ch: text, epoch: text, offset: count, recovered: bool }),
  frameOf('unsubscribed', { ch: text }),
  frameOf('ev', { ch: text, epoch: text, off: count, data: json }),
  frameOf('ack', { id: count, off: count, epoch: text, result: json }),
  frameOf('reject', { id: count, code: text, incident: text, error: text, message: text }),
  frameOf('error', { code: text, message: text, ref: fc.oneof(text, count) }),
  frameOf('pong', { n: fc.double({ noNaN: true, noDefaultInfinity: true }) }),
  frameOf('members', { ch: text, n: fc.double({ noNaN: true, noDefaultInfinity: true }), count, members: fc.array(member, { maxLength: 2 }), next: text, code: text }),
  frameOf('join', { ch: text, session: text, user: text, info: json }),
  frameOf('leave', { ch: text, session: text, user: text }),
  frameOf('future-type', { x: json }),
  weird,
);

describe('the schema and the decoders accept the same frames', () => {
  /** Every generated frame is accepted by `accepts` exactly when `valid` says it validates. */
  const agree = (frames: fc.Arbitrary<unknown>, accepts: (text: string) => boolean, valid: (value: unknown) => boolean) =>
    fc.assert(
      fc.property(frames, (value) => {
        const encoded = JSON.stringify(value);
        expect(accepts(encoded), encoded.slice(0, 300)).toBe(valid(JSON.parse(encoded)));
      }),
      { numRuns: 4000 },
    );

  it('client frames: accepted by decodeClientFrame exactly when they validate', () => agree(clientFrames, clientAccepts, validClientFrame));
  it('server frames: accepted by decodeServerFrame exactly when they validate', () => agree(serverFrames, serverAccepts, validServerFrame));

  it('sees both outcomes for every client frame type (the generators reach both sides of each rule)', () => {
    const seen = new Map<string, Set<boolean>>();
    fc.assert(
      fc.property(clientFrames, (value) => {
        const t = (value as { t?: unknown } | null)?.t;
        if (typeof t === 'string') {
          if (!seen.has(t)) seen.set(t, new Set());
          seen.get(t)!.add(clientAccepts(JSON.stringify(value)));
        }
      }),
      { numRuns: 3000 },
    );
    for (const t of schemaFrames('ClientFrame')) expect([t, [...(seen.get(t) ?? [])].sort()]).toEqual([t, [false, true]]);
  });
});

/** The rows of a markdown table under `heading`, up to the next heading. */
function tableRows(heading: string): string[][] {
  const start = doc.indexOf(heading);
  if (start < 0) throw new Error(`docs/protocol.md has no "${heading}"`);
  const rest = doc.slice(start + heading.length);
  const end = rest.search(/\n#{2,3} /);
  return (end < 0 ? rest : rest.slice(0, end))
    .split('\n')
    .filter((line) => /^\| `[a-z]+` \|/.test(line) && !line.startsWith('| `t` |'))
    .map((line) => line.split(/(?<!\\)\|/).slice(1, -1).map((cell) => cell.trim()));
}

/** Members named in a table cell: every backticked `name`, `name?` or `name: …`, with whether it is optional. */
function membersOf(cell: string): Map<string, boolean> {
  const out = new Map<string, boolean>();
  for (const m of cell.matchAll(/`([a-zA-Z]+)(\?)?(?::[^`]*)?`/g)) out.set(m[1]!, m[2] === '?');
  return out;
}

describe('docs/protocol.md and the schema list the same frames and members', () => {
  for (const [heading, side] of [
    ['### 7.1 Client to server', 'ClientFrame'],
    ['### 7.2 Server to client', 'ServerFrame'],
  ] as const) {
    it(`${heading}: the frames of $defs/${side}, each with the schema's members and required ones`, () => {
      const rows = tableRows(heading);
      expect(rows.map((r) => r[0]!.replace(/`/g, ''))).toEqual(schemaFrames(side));
      for (const [type, members] of rows) {
        const t = type!.replace(/`/g, '');
        const def = schema.$defs[t]!;
        const documented = membersOf(members ?? '');
        const properties = Object.keys(def.properties ?? {}).filter((k) => k !== 't');
        expect([t, [...documented.keys()].sort()]).toEqual([t, properties.sort()]);
        const required = (def.required ?? []).filter((k) => k !== 't').sort();
        expect([t, [...documented].filter(([, optional]) => !optional).map(([k]) => k).sort()]).toEqual([t, required]);
      }
    });
  }

  it('every frame of the worked transcript validates and is accepted by its decoder', () => {
    const start = doc.indexOf('## 18. A worked transcript');
    expect(start).toBeGreaterThan(0);
    const lines = doc.slice(start).split('\n').filter((l) => /^[<>] \{/.test(l));
    expect(lines.length).toBeGreaterThan(20);
    const kinds = new Set<string>();
    for (const line of lines) {
      const frame = line.slice(2);
      const parsed = JSON.parse(frame) as { t: string };
      kinds.add(parsed.t);
      if (line.startsWith('>')) expect([frame, validClientFrame(parsed), clientAccepts(frame)]).toEqual([frame, true, true]);
      else expect([frame, validServerFrame(parsed), serverAccepts(frame)]).toEqual([frame, true, true]);
    }
    for (const t of ['hello', 'welcome', 'sub', 'subscribed', 'ev', 'pub', 'ack', 'msg', 'reject']) expect(kinds).toContain(t);
  });
});
