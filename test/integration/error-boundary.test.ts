import { connect, type Socket } from 'node:net';
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { parseReason } from '../../src/protocol/index.js';
import { killAll, startServe, type ServeProcess } from '../support/serve-process.js';
import { closeAllPeers, connectPeer } from '../support/ws-peer.js';

/** Write raw bytes after a hand-made handshake, to send frames no well-behaved client would. */
async function rawSocket(port: number): Promise<{ socket: Socket; closeCode: Promise<number> }> {
  const socket = connect(port, '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  socket.write(
    'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  const closeCode = new Promise<number>((resolve) => {
    let buf = Buffer.alloc(0);
    let headerDone = false;
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (!headerDone) {
        const end = buf.indexOf('\r\n\r\n');
        if (end === -1) return;
        headerDone = true;
        buf = buf.subarray(end + 4);
      }
      // A server close frame: 0x88, unmasked length, 2-byte code.
      if (buf.length >= 4 && buf[0] === 0x88) resolve(buf.readUInt16BE(2));
    });
    socket.on('close', () => resolve(-1));
    socket.on('error', () => resolve(-1));
  });
  await new Promise((r) => setTimeout(r, 100));
  return { socket, closeCode };
}

/** A masked client frame. */
function frame(opcode: number, payload: Buffer, fin = true): Buffer {
  const mask = Buffer.from([1, 2, 3, 4]);
  const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!));
  const len = payload.length;
  const head = len < 126 ? Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | len]) : Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | 126, len >> 8, len & 0xff]);
  return Buffer.concat([head, mask, masked]);
}

describe('error boundary over real sockets against a real `lifeline serve --demo` process', () => {
  let server: ServeProcess;
  beforeAll(async () => {
    server = await startServe(['--demo']);
  });
  afterAll(async () => {
    closeAllPeers();
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

    const utf8 = await rawSocket(server.port);
    utf8.socket.write(frame(0x1, Buffer.from([0xc3, 0x28])));
    expect(await utf8.closeCode).toBe(1007);

    const opcode = await rawSocket(server.port);
    opcode.socket.write(frame(0x3, Buffer.from('reserved opcode')));
    expect(await opcode.closeCode).toBe(1002);

    const unmasked = await rawSocket(server.port);
    unmasked.socket.write(Buffer.from([0x81, 0x02, 0x68, 0x69]));
    expect(await unmasked.closeCode).toBe(1002);

    expect(await bystander.request('after the abuse')).toBe('after the abuse');
    expect(server.child.exitCode).toBeNull();
    expect(server.logs.filter((e) => e.incident !== undefined).length).toBe(incidentsBefore);
    expect(server.logs.some((e) => e.msg === 'peer protocol error' && e.closeCode === 1007)).toBe(true);
  });
});
