import { describe, expect, it } from 'vitest';
import { Outbox } from '../../src/client/outbox.js';

function request(log: string[] = []) {
  return {
    kind: 'msg' as const,
    encode: (id: number) => `m${id}`,
    resolve: () => log.push('resolved'),
    reject: () => log.push('rejected'),
  };
}

describe('Outbox', () => {
  it('assigns increasing ids from 1 and refuses beyond its limit without using an id', () => {
    const box = new Outbox(2);
    expect(box.add(request())?.id).toBe(1);
    expect(box.add(request())?.id).toBe(2);
    expect(box.add(request())).toBeUndefined();
    expect(box.size).toBe(2);
    expect(box.nextId).toBe(3);
    box.take(1);
    expect(box.add(request())?.id).toBe(3);
    expect(box.add(request())).toBeUndefined();
  });

  it('fixes the frame text at acceptance', () => {
    const box = new Outbox(5);
    expect(box.add(request())?.text).toBe('m1');
  });

  it('due() lists unsent entries in id order; disconnected() makes everything due again', () => {
    const box = new Outbox(10);
    const entries = [1, 2, 3, 4].map(() => box.add(request())!);
    entries[0]!.sent = true;
    entries[2]!.sent = true;
    expect(box.due().map((e) => e.id)).toEqual([2, 4]);
    for (const e of box.due()) e.sent = true;
    expect(box.due()).toEqual([]);
    box.disconnected();
    expect(box.due().map((e) => e.id)).toEqual([1, 2, 3, 4]);
  });

  it('take() removes once; drain() empties in id order', () => {
    const box = new Outbox(10);
    for (let i = 0; i < 3; i++) box.add(request());
    expect(box.take(2)?.id).toBe(2);
    expect(box.take(2)).toBeUndefined();
    expect(box.drain().map((e) => e.id)).toEqual([1, 3]);
    expect(box.size).toBe(0);
  });

  it('rejects a limit that is not a positive integer', () => {
    expect(() => new Outbox(0)).toThrow(RangeError);
    expect(() => new Outbox(1.5)).toThrow(RangeError);
  });
});
