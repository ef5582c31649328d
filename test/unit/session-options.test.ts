import { describe, expect, it } from 'vitest';
import { createSession, QueueFullError, RejectedError, ServerError } from '../../src/client/index.js';
import { pingInterval } from '../../src/client/heartbeat.js';
import { makeOrigin } from '../../src/client/origin.js';

const base = { url: 'ws://127.0.0.1:1/', autoConnect: false, environment: null } as const;

describe('session options and helpers', () => {
  it('validates its own options synchronously', () => {
    expect(() => createSession({ ...base, maxQueue: 0 })).toThrow(RangeError);
    expect(() => createSession({ ...base, maxQueue: 2.5 })).toThrow(RangeError);
    expect(() => createSession({ ...base, heartbeatMs: 0 })).toThrow(RangeError);
    expect(() => createSession({ ...base, resendBackoff: { factor: 0.5 } })).toThrow(RangeError);
    expect(() => createSession({ ...base, deadLinkMs: -1 })).toThrow(RangeError);
    expect(() => createSession({ url: 42 as unknown as string })).toThrow(TypeError);
  });

  it('checks arguments synchronously: channel names, positions and JSON data', () => {
    const s = createSession(base);
    expect(() => s.subscribe('')).toThrow(TypeError);
    expect(() => s.subscribe('has space')).toThrow(TypeError);
    expect(() => s.subscribe('x'.repeat(201))).toThrow(TypeError);
    expect(() => s.subscribe('ok', { from: { epoch: 'e', offset: -1 } })).toThrow(TypeError);
    expect(() => s.send(undefined as never)).toThrow(TypeError);
    expect(() => s.send((() => 1) as never)).toThrow(TypeError);
    expect(() => s.send(10n as never)).toThrow(TypeError);
    expect(() => s.publish('bad channel', 1)).toThrow(TypeError);
    expect(s.pending).toBe(0);
    s.subscribe('ok', { from: { epoch: 'e', offset: 4 } });
    s.subscribe('ok');
    expect(s.channels).toEqual(['ok']);
    expect(s.positions()).toEqual({ ok: { epoch: 'e', offset: 4 } });
    s.unsubscribe('ok');
    expect(s.positions()).toEqual({});
    s.close();
    expect(() => s.subscribe('ok')).toThrow(expect.objectContaining({ code: 'LIFELINE_ERR_CLIENT_CLOSED' }));
  });

  it('origin: 32 hex characters, different per session object even with a constant random source', () => {
    const a = createSession({ ...base, random: () => 0.5 });
    const b = createSession({ ...base, random: () => 0.5 });
    expect(a.origin).toMatch(/^[0-9a-f]{32}$/);
    expect(a.origin).not.toBe(b.origin);
    expect(makeOrigin(() => 0.5)).toMatch(/^[0-9a-f]{32}$/);
  });

  it('ping interval: half the server heartbeat, never later than deadLinkMs / 2.5, 0 when both are off', () => {
    expect(pingInterval(30_000, 75_000, 30_000)).toBe(15_000);
    expect(pingInterval(1_000, 75_000, 30_000)).toBe(500);
    expect(pingInterval(120_000, 75_000, 30_000)).toBe(30_000);
    expect(pingInterval(0, 75_000, 30_000)).toBe(30_000);
    expect(pingInterval(0, 0, 30_000)).toBe(0);
  });

  it('errors carry stable codes and their protocol details', () => {
    expect(new QueueFullError(3)).toMatchObject({ code: 'LIFELINE_ERR_QUEUE_FULL', limit: 3 });
    expect(new RejectedError(7, 'HANDLER_FAILED', 'inc_1')).toMatchObject({ code: 'LIFELINE_ERR_REJECTED', protocolCode: 'HANDLER_FAILED', incident: 'inc_1', id: 7 });
    expect(new ServerError('UNAVAILABLE', 'later', 4)).toMatchObject({ code: 'LIFELINE_ERR_SERVER', protocolCode: 'UNAVAILABLE', ref: 4 });
  });
});
