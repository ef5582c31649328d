/** Property tests of the frame decoder: any input is a frame, a FrameError with a registry code, or an unknown type. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeClientFrame, FrameError, UnknownFrameTypeError } from '../../src/protocol/index.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 3000);
const SEED = Number(process.env.FUZZ_SEED ?? 20261125);

/** Frames that are valid, then mutated field by field. */
const validFrame = fc.oneof(
  fc.record({ t: fc.constant('hello'), v: fc.constant(1) }),
  fc.record({ t: fc.constant('sub'), ch: fc.string({ minLength: 1, maxLength: 20 }) }),
  fc.record({ t: fc.constant('unsub'), ch: fc.string({ minLength: 1, maxLength: 20 }) }),
  fc.record({ t: fc.constant('msg'), id: fc.integer(), data: fc.jsonValue() }),
  fc.record({ t: fc.constant('pub'), id: fc.integer(), ch: fc.string(), data: fc.jsonValue() }),
  fc.record({ t: fc.constant('ping'), n: fc.oneof(fc.integer(), fc.double(), fc.string()) }),
);
const mutated = fc.tuple(validFrame, fc.string({ maxLength: 8 }), fc.jsonValue()).map(([frame, key, value]) => ({ ...frame, [key]: value }));

function classify(input: string | Uint8Array): number | 'frame' | 'unknown' {
  try {
    decodeClientFrame(input);
    return 'frame';
  } catch (error) {
    if (error instanceof FrameError) return error.closeCode;
    if (error instanceof UnknownFrameTypeError) return 'unknown';
    throw error;
  }
}

describe('decodeClientFrame never fails in an unplanned way', () => {
  it('arbitrary strings, JSON and bytes give a frame, 1002/1003/1007, or an unknown type', () => {
    const input = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary' }),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      mutated.map((v) => JSON.stringify(v)),
      fc.uint8Array({ maxLength: 64 }),
    );
    fc.assert(
      fc.property(input, (data) => {
        const outcome = classify(data);
        expect([1002, 1003, 1007, 'frame', 'unknown']).toContain(outcome);
        if (typeof data !== 'string') expect(outcome).toBe(1003);
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });

  it('a decoded frame re-encodes to something that decodes to the same frame', () => {
    fc.assert(
      fc.property(mutated, (value) => {
        const text = JSON.stringify(value);
        if (classify(text) !== 'frame') return;
        const frame = decodeClientFrame(text);
        expect(decodeClientFrame(JSON.stringify(frame))).toEqual(frame);
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });
});
