import { describe, expect, it } from 'vitest';
import { useKit } from '../support/kit.js';
import { connectPeer } from '../support/ws-peer.js';

const kit = useKit();

describe('close reasons on the wire', () => {
  it('a 200-byte multibyte reason arrives cut to <= 123 bytes of valid UTF-8', async () => {
    const long = '界'.repeat(67); // 201 bytes
    const { port } = await kit.start({ onMessage: (connection) => connection.close(4000, long) });
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
