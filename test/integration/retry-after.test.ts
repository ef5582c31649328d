/** The Node client honours `Retry-After` of a refused upgrade as the least delay before its next attempt. */
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, type CloseInfo, type LifelineClient } from '../../src/client/index.js';
import { parseRetryAfter } from '../../src/client/environment.js';
import { createServer, type LifelineServer } from '../../src/server/index.js';
import { closeAllPeers, connectPeer } from '../support/ws-peer.js';

let server: LifelineServer | undefined;
let client: LifelineClient | undefined;
afterEach(async () => {
  client?.close();
  closeAllPeers();
  await server?.shutdown();
});

describe('Retry-After', () => {
  it('a 503 with Retry-After: 5 makes the next attempt wait at least 5 s, whatever the backoff says', async () => {
    server = createServer({ logger: pino({ level: 'silent' }), maxConnections: 1, drainWindowMs: 0, graceMs: 0 });
    const { port } = await server.listen(0);
    const url = `ws://127.0.0.1:${port}/`;
    await connectPeer(url); // the one connection allowed
    client = createClient({ url, backoff: { baseMs: 10, capMs: 20 } });
    const close = await new Promise<CloseInfo>((resolve) => client!.on('close', resolve));
    expect(close.code).toBe(1006);
    expect(close.handshake).toEqual({ status: 503, retryAfterMs: 5000 });
    expect(close.willReconnect).toBe(true);
    expect(close.delayMs).toBeGreaterThanOrEqual(5000);
  });

  it('reads delay-seconds and HTTP dates, and ignores anything else', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('7', now)).toBe(7000);
    expect(parseRetryAfter(['2'], now)).toBe(2000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
    for (const bad of [undefined, '', 'soon', '-1', 5]) expect(parseRetryAfter(bad, now)).toBeUndefined();
  });
});
