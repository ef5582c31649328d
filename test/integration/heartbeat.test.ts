import { connect } from 'node:net';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type LifelineServer } from '../../src/server/index.js';
import { closeAllPeers, connectPeer } from '../support/ws-peer.js';

let server: LifelineServer | undefined;
afterEach(async () => {
  closeAllPeers();
  await server?.shutdown();
  server = undefined;
});

describe('heartbeats', () => {
  it('terminates and counts a peer that stops answering pings, and keeps live peers', async () => {
    server = createServer({ logger: pino({ level: 'silent' }), heartbeatMs: 150, drainWindowMs: 0, graceMs: 0, onMessage: (c, d) => c.send(d) });
    const { port } = await server.listen(0);
    const dead = new Promise<void>((resolve) => server!.on('dead-peer', () => resolve()));

    // A raw TCP peer completes the handshake and then never reads or answers a ping.
    const silent = connect(port, '127.0.0.1');
    silent.on('error', () => {});
    silent.resume(); // read (and drop) what arrives, so the close is seen; never answer
    const closed = new Promise((r) => silent.once('close', r));
    await new Promise((r) => silent.once('connect', r));
    silent.write(
      'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    const live = await connectPeer(`ws://127.0.0.1:${port}/`); // `ws` answers pings by itself
    await dead;
    await closed;
    expect(server.stats().deadPeers).toBe(1);
    expect(await live.request('ping?')).toBe('ping?');
    silent.destroy();
  });
});
