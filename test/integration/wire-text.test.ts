/**
 * Text the server cuts or passes on reaches the wire whole: lengths in code points (docs/protocol.md),
 * never half a surrogate pair, and never a lone surrogate (which `JSON.stringify` escapes as `\ud83d`,
 * a frame strict parsers such as Rust's serde_json reject). Application text in a close reason cannot
 * make a field, even for a client that normalises the reason (NFC or NFKC) before parsing it.
 */
import { describe, expect, it } from 'vitest';
import { parseReason, type ErrorFrame, type RejectFrame } from '../../src/protocol/index.js';
import { DeclinedError, PolicyViolationError } from '../../src/server/index.js';
import { useKit } from '../support/kit.js';
import { connectPeer } from '../support/ws-peer.js';

const kit = useKit();
const E = '\u{1F600}'; // 😀, two UTF-16 units

/** Whether `text` survives UTF-8 unchanged: false for a string holding a lone surrogate. */
const wellFormed = (text: string): boolean => Buffer.from(text, 'utf8').toString('utf8') === text;

/** Lone surrogate escapes in raw JSON text (`\ud83d` not followed by a low surrogate's escape, and vice versa). */
const LONE_ESCAPE = /\\ud[89ab][0-9a-f]{2}(?!\\ud[c-f][0-9a-f]{2})|(?<!\\ud[89ab][0-9a-f]{2})\\ud[c-f][0-9a-f]{2}/i;

describe('text the server sends is cut in code points and well-formed', () => {
  it("an unknown frame type's `ref` is at most 32 code points and never ends in half a pair", async () => {
    const { url } = await kit.start();
    const peer = await kit.hello(url);
    const raw: string[] = [];
    peer.ws.on('message', (data) => raw.push((data as Buffer).toString('utf8')));
    peer.send({ t: 'a'.repeat(31) + E + 'zzz' });
    const first = await peer.next<ErrorFrame>((f) => f.t === 'error');
    expect(first.ref).toBe('a'.repeat(31) + E);
    peer.send({ t: E.repeat(40) });
    const second = await peer.next<ErrorFrame>((f) => f.t === 'error');
    expect(second.ref).toBe(E.repeat(32));
    // A lone surrogate in the client's own type comes back as U+FFFD.
    peer.send('{"t":"x\\ud800y"}');
    const third = await peer.next<ErrorFrame>((f) => f.t === 'error');
    expect(third.ref).toBe('x\ufffdy');
    for (const text of raw) expect(text).not.toMatch(LONE_ESCAPE);
  });

  it("a DeclinedError's message is cut to 500 code points, whole pairs, lone surrogates made U+FFFD", async () => {
    const { url } = await kit.start({
      onSessionMessage: (_c, data) => {
        const { msg } = data as { msg: string };
        throw new DeclinedError('e', msg);
      },
    });
    const peer = await kit.hello(url, 'o'.repeat(20));
    const raw: string[] = [];
    peer.ws.on('message', (data) => raw.push((data as Buffer).toString('utf8')));
    const messages = ['a'.repeat(499) + E, E.repeat(300) + 'a'.repeat(300), 'abc\ud800def', 'x\udc00'];
    messages.forEach((msg, i) => peer.send({ t: 'msg', id: i + 1, data: { msg } }));
    const rejects = await Promise.all(messages.map((_, i) => peer.next<RejectFrame>((f) => f.t === 'reject' && f.id === i + 1)));
    const got = rejects.map((r) => r.message ?? '');
    expect(got[0]).toBe('a'.repeat(499) + E);
    expect(got[1]).toBe(E.repeat(300) + 'a'.repeat(200));
    expect(got[2]).toBe('abc\ufffddef');
    expect(got[3]).toBe('x\ufffd');
    for (const m of got) {
      expect(wellFormed(m)).toBe(true);
      expect([...m].length).toBeLessThanOrEqual(500);
    }
    for (const text of raw) expect(text).not.toMatch(LONE_ESCAPE);
  });
});

describe('characters that normalise to a semicolon cannot make a close-reason field', () => {
  const texts = ['a\u037e incident=fake', 'a\uff1bincident=fake', 'a\ufe54 incident=fake', 'a\ufe14incident=fake', 'a\u037e retry=0ms'];
  for (const text of texts) {
    it(`PolicyViolationError(${JSON.stringify(text)}): no forged field, read as it is, NFC- or NFKC-normalised`, async () => {
      const { url } = await kit.start({
        onMessage: () => {
          throw new PolicyViolationError(text);
        },
      });
      const peer = await connectPeer(url);
      peer.ws.send('go');
      const seen = await peer.closed;
      expect(seen.code).toBe(1008);
      expect(seen.reasonBytes.byteLength).toBeLessThanOrEqual(123);
      for (const reason of [seen.reason, seen.reason.normalize('NFC'), seen.reason.normalize('NFKC')]) {
        expect(reason).not.toContain(';');
        const fields = parseReason(reason);
        expect(fields.incident).toBeUndefined();
        expect(fields.retry).toBeUndefined();
      }
    });
  }
});
