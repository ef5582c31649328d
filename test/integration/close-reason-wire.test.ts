import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { createServer, type LifelineServer } from '../../src/server/index.js';
import { closeAllPeers, connectPeer } from '../support/ws-peer.js';

let server: LifelineServer | undefined;
afterEach(async () => {
  closeAllPeers();
  await server?.shutdown();
  server = undefined;
});

describe('close reasons on the wire', () => {
  it('a 200-byte multibyte reason arrives cut to <= 123 bytes of valid UTF-8', async () => {
    const long = '界'.repeat(67); // 201 bytes
    server = createServer({
      logger: pino({ level: 'silent' }),
      drainWindowMs: 0,
      graceMs: 0,
      onMessage: (connection) => connection.close(4000, long),
    });
    const { port } = await server.listen(0);
    const peer = await connectPeer(`ws://127.0.0.1:${port}/`);
    peer.ws.send('close me');
    const seen = await peer.closed;
    expect(seen.code).toBe(4000);
    expect(seen.reasonBytes.byteLength).toBeLessThanOrEqual(123);
    expect(seen.reasonBytes.byteLength).toBe(123);
    const decoded = new TextDecoder('utf-8', { fatal: true }).decode(seen.reasonBytes);
    expect(long.startsWith(decoded)).toBe(true);
  });
});
