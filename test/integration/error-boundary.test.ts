import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { parseReason } from '../../src/protocol/index.js';
import { killAll, startServe, type ServeProcess } from '../support/serve-process.js';
import { closeAllPeers, connectPeer } from '../support/ws-peer.js';
import { OP, destroyRawPeers, frame, rawConnect } from '../support/raw-socket.js';

describe('error boundary over real sockets against a real `lifeline serve --demo` process', () => {
  let server: ServeProcess;
  beforeAll(async () => {
    server = await startServe(['--demo']);
  });
  afterAll(async () => {
    closeAllPeers();
    destroyRawPeers();
    await killAll();
  });
  afterEach(() => closeAllPeers());

  it('a handler throw closes only that connection with 1011 and an incident id; others keep echoing', async () => {
    const victim = await connectPeer(server.url);
    const bystander = await connectPeer(server.url);
    expect(await bystander.request('hello')).toBe('hello');

    victim.ws.send('crash');
    const seen = await victim.closed;
    expect(seen.code).toBe(1011);
    const fields = parseReason(seen.reason);
    expect(fields.incident).toMatch(/^inc_[0-9a-f]{12}$/);
    // Nothing of the error reaches the client.
    for (const secret of ['demo crash', 's3cr3t', '/srv', 'handlers.ts', 'Error']) expect(seen.reason).not.toContain(secret);

    expect(await bystander.request('still here')).toBe('still here');
    const fresh = await connectPeer(server.url);
    expect(await fresh.request('new one')).toBe('new one');

    // The log holds one structured entry with the stack under that incident id.
    const entry = await server.waitForLog((e) => e.incident === fields.incident);
    expect(entry.level).toBe(50);
    const err = entry.err as { stack?: string; message?: string };
    expect(err.message).toContain('demo crash requested');
    expect(err.stack).toContain('demo.js');
    expect(typeof entry.connection).toBe('string');
  });

  it('a rejected promise is an incident too, with its own id', async () => {
    const a = await connectPeer(server.url);
    const b = await connectPeer(server.url);
    a.ws.send('crash-async');
    b.ws.send('crash');
    const [ca, cb] = await Promise.all([a.closed, b.closed]);
    expect([ca.code, cb.code]).toEqual([1011, 1011]);
    expect(parseReason(ca.reason).incident).not.toBe(parseReason(cb.reason).incident);
    for (const c of [ca, cb]) await server.waitForLog((e) => e.incident === parseReason(c.reason).incident);
  });

  it('client mistakes get their own codes, never 1011, and the process stays up', async () => {
    const incidentsBefore = server.logs.filter((e) => e.incident !== undefined).length;
    const bystander = await connectPeer(server.url);

    const policy = await connectPeer(server.url);
    policy.ws.send('forbidden');
    expect((await policy.closed).code).toBe(1008);

    const binary = await connectPeer(server.url);
    binary.ws.send(Buffer.from([1, 2, 3]));
    expect((await binary.closed).code).toBe(1003);

    const big = await connectPeer(server.url);
    big.ws.send('x'.repeat(1024 * 1024 + 1));
    expect((await big.closed).code).toBe(1009);

    const utf8 = await rawConnect(server.port);
    utf8.write(frame({ opcode: OP.text, payload: Buffer.from([0xc3, 0x28]) }));
    expect((await utf8.close)?.code).toBe(1007);

    const opcode = await rawConnect(server.port);
    opcode.write(frame({ opcode: 0x3, payload: 'reserved opcode' }));
    expect((await opcode.close)?.code).toBe(1002);

    const unmasked = await rawConnect(server.port);
    unmasked.write(frame({ opcode: OP.text, payload: 'hi', mask: false }));
    expect((await unmasked.close)?.code).toBe(1002);

    expect(await bystander.request('after the abuse')).toBe('after the abuse');
    expect(server.child.exitCode).toBeNull();
    expect(server.logs.filter((e) => e.incident !== undefined).length).toBe(incidentsBefore);
    expect(server.logs.some((e) => e.msg === 'peer protocol error' && e.closeCode === 1007)).toBe(true);
  });
});
