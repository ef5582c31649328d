/**
 * A hand-over (a drain with a successor ready that stops listening) drops no connection: one the process
 * accepted in the last instant before its listener closed, whose request arrives only afterwards, is
 * served (accepted, then told to come back at once with 1012) instead of reset. Real sockets.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { useKit } from '../support/kit.js';
import { until } from '../support/wait.js';

const kit = useKit();

/** A TCP connection the server has accepted, with nothing sent on it yet. */
async function acceptedSilent(port: number): Promise<Socket> {
  const socket = connect({ port, host: '127.0.0.1' });
  socket.on('error', () => {});
  await once(socket, 'connect');
  // The server accepts in backlog order: once it has answered a later connection, it accepted this one.
  expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
  return socket;
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

/** Everything the server sends on `socket` until it closes. */
function collect(socket: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  return new Promise((resolve) => socket.once('close', () => resolve(Buffer.concat(chunks))));
}

describe('hand-over to a successor', () => {
  it('serves an upgrade that arrives after the listener closed on a connection accepted before: 101, then 1012 "come back now"', async () => {
    const { server, port } = await kit.start({ drainWindowMs: 0 });
    const socket = await acceptedSilent(port);
    const received = collect(socket);
    const done = server.shutdown({ stopListening: true, successorReady: true });
    await until(() => refused(port));
    socket.write(
      [`GET / HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`, 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Protocol: lifeline.v1', '', ''].join('\r\n'),
    );
    const bytes = await received;
    await done;
    const text = bytes.toString('latin1');
    expect(text.slice(0, 200)).toMatch(/^HTTP\/1\.1 101/);
    const frame = bytes.subarray(bytes.indexOf('\r\n\r\n') + 4);
    expect(frame[0]! & 0x0f).toBe(0x8);
    const payload = frame.subarray(2, 2 + (frame[1]! & 0x7f));
    expect(payload.readUInt16BE(0)).toBe(1012);
    expect(payload.subarray(2).toString('utf8')).toMatch(/^service restart; retry=0-\d+ms$/);
  });

  it('answers a plain request that arrives after the listener closed, and closes the connection', async () => {
    const { server, port } = await kit.start({ drainWindowMs: 0 });
    const socket = await acceptedSilent(port);
    const received = collect(socket);
    const done = server.shutdown({ stopListening: true, successorReady: true });
    await until(() => refused(port));
    socket.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    const text = (await received).toString('latin1');
    await done;
    expect(text).toMatch(/^HTTP\/1\.1 200/);
    expect(text.toLowerCase()).toContain('connection: close');
  });
});
