import { destroyRawPeers, rawConnect } from '../support/raw-socket.js';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type LifelineServer } from '../../src/server/index.js';
import { closeAllPeers, connectPeer } from '../support/ws-peer.js';

let server: LifelineServer | undefined;
afterEach(async () => {
  closeAllPeers();
  destroyRawPeers();
  await server?.shutdown();
  server = undefined;
});

describe('heartbeats', () => {
  it('terminates and counts a peer that stops answering pings, and keeps live peers', async () => {
    server = createServer({ logger: pino({ level: 'silent' }), heartbeatMs: 150, drainWindowMs: 0, graceMs: 0, onMessage: (c, d) => c.send(d) });
    const { port } = await server.listen(0);
    const dead = new Promise<void>((resolve) => server!.on('dead-peer', () => resolve()));

    // A raw TCP peer completes the handshake and then never answers a ping (it reads, so the close is seen).
    const silent = await rawConnect(port);
    const closed = new Promise((r) => silent.socket.once('close', r));
    const live = await connectPeer(`ws://127.0.0.1:${port}/`); // `ws` answers pings by itself
    await dead;
    await closed;
    expect(server.stats().deadPeers).toBe(1);
    expect(await live.request('ping?')).toBe('ping?');
    silent.destroy();
  });
});
