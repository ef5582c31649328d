import { describe, expect, it } from 'vitest';
import { useKit } from '../support/kit.js';
import { rawConnect } from '../support/raw-socket.js';
import { connectPeer } from '../support/ws-peer.js';

const kit = useKit();

describe('heartbeats', () => {
  it('terminates and counts a peer that stops answering pings, and keeps live peers', async () => {
    const { server, port } = await kit.start({ heartbeatMs: 150, onMessage: (c, d) => c.send(d) });
    const dead = new Promise<void>((resolve) => server.on('dead-peer', () => resolve()));

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
