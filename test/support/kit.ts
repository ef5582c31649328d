/**
 * The in-process test kit: `createServer` on port 0 with a quiet logger, raw `lifeline.v1` peers, and a
 * disposer that cleans up whatever a test left (servers, `lifeline.v1` peers, `ws` peers, raw sockets, serve
 * processes, extra cleanups) after each test. Call {@link useKit} once at the top of a test file.
 */
import pino from 'pino';
import { afterEach } from 'vitest';
import { createServer, type LifelineServer, type ServerOptions } from '../../src/server/index.js';
import { connectV1, type V1Peer } from './v1-peer.js';
import { killAll } from './serve-process.js';
import { destroyRawPeers } from './raw-socket.js';
import { closeAllPeers } from './ws-peer.js';

/** What {@link useKit} gives a test file. */
export interface Kit {
  /** Start a server (drain window and grace 0 unless given) and return it with its URL. */
  start(options?: ServerOptions): Promise<{ server: LifelineServer; url: string; port: number }>;
  /** Open a `lifeline.v1` peer (no hello sent). */
  v1(url: string, headers?: Record<string, string>): Promise<V1Peer>;
  /** Open a peer and say hello; resolves after the welcome. */
  hello(url: string, origin?: string): Promise<V1Peer>;
  /** Run `cleanup` after the test, after the servers are shut down. */
  defer(cleanup: () => unknown): void;
}

/** Register the after-each disposer and return the kit. */
export function useKit(): Kit {
  const servers: LifelineServer[] = [];
  const peers: V1Peer[] = [];
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const p of peers.splice(0)) p.ws.terminate();
    closeAllPeers();
    destroyRawPeers();
    await Promise.all(servers.splice(0).map((s) => s.shutdown()));
    for (const c of cleanups.splice(0).reverse()) await c();
    await killAll();
  });
  const v1 = async (url: string, headers: Record<string, string> = {}): Promise<V1Peer> => {
    const peer = await connectV1(url, headers);
    peers.push(peer);
    return peer;
  };
  return {
    async start(options = {}) {
      const server = createServer({ logger: pino({ level: 'silent' }), drainWindowMs: 0, graceMs: 0, ...options });
      servers.push(server);
      const { port } = await server.listen(0);
      return { server, url: `ws://127.0.0.1:${port}/`, port };
    },
    v1,
    async hello(url, origin) {
      const peer = await v1(url);
      peer.send({ t: 'hello', v: 1, ...(origin ? { origin } : {}) });
      await peer.next((f) => f.t === 'welcome');
      return peer;
    },
    defer(cleanup) {
      cleanups.push(cleanup);
    },
  };
}
