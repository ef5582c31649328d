/**
 * A resend with the same data is the same message, whatever order its serializer wrote the object keys
 * in (RFC 8259: objects are unordered): acknowledged as a duplicate, never `reject CONFLICT`.
 */
import { describe, expect, it } from 'vitest';
import type { AckFrame, RejectFrame, ServerFrame } from '../../src/protocol/index.js';
import { useKit } from '../support/kit.js';

const kit = useKit();
const answered = (id: number) => (f: ServerFrame) => (f.t === 'ack' || f.t === 'reject') && f.id === id;

describe('resends with object keys in another order', () => {
  it('a pub resent as {"b":2,"a":1} after {"a":1,"b":2} is acknowledged at the same offset; other data is a conflict', async () => {
    const { url } = await kit.start({ authorizePublish: () => true });
    const peer = await kit.hello(url, 'p'.repeat(20));
    peer.send('{"t":"pub","id":2,"ch":"c","data":{"a":1,"b":{"x":[1,2],"y":2}}}');
    const first = await peer.next<AckFrame>(answered(2));
    peer.send('{"t":"pub","id":2,"ch":"c","data":{"b":{"y":2,"x":[1,2]},"a":1}}');
    const again = await peer.next<AckFrame | RejectFrame>(answered(2));
    expect(again).toEqual(first);
    peer.send('{"t":"pub","id":2,"ch":"c","data":{"b":{"y":2,"x":[2,1]},"a":1}}');
    expect(await peer.next<RejectFrame>(answered(2))).toMatchObject({ t: 'reject', code: 'CONFLICT' });
  });

  it('a msg resent with its keys reordered gets the first answer; the handler ran once', async () => {
    let runs = 0;
    const { url } = await kit.start({ onSessionMessage: () => ++runs });
    const peer = await kit.hello(url, 'm'.repeat(20));
    peer.send('{"t":"msg","id":1,"data":{"a":1,"b":2}}');
    const first = await peer.next(answered(1));
    peer.send('{"t":"msg","id":1,"data":{"b":2,"a":1}}');
    expect(await peer.next(answered(1))).toEqual(first);
    expect(first).toMatchObject({ t: 'ack', result: 1 });
    expect(runs).toBe(1);
  });
});
