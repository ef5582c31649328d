/**
 * Idle memory: N idle connections. The server's RSS, JS heap and external (Buffer) memory are read
 * after full garbage collections, before and after the N connections; the difference divided by N is
 * the cost of one connection. 50 warm-up connections stay open throughout, so lazily compiled code and
 * first-connection allocations are in the "before" figure.
 */
import { join } from 'node:path';
import { split, startLoadgens, startServer, stopLoadgens } from '../lib/context.mjs';
import { round, sleep } from '../lib/stats.mjs';

export const name = 'idle';

export const modes = {
  full: { connections: 10_000, perProcess: 5000, warm: 50, settleMs: 2000 },
  quick: { connections: 2000, perProcess: 2000, warm: 50, settleMs: 1000 },
  smoke: { connections: 20, perProcess: 20, warm: 5, settleMs: 100 },
};

export const implementations = [
  { id: 'lifeline', label: 'lifeline (plain client)', server: { implName: 'lifeline', variant: 'plain' }, client: 'lifeline', url: (p) => `ws://127.0.0.1:${p}/` },
  { id: 'lifeline-v1', label: 'lifeline.v1 (session + 1 subscription, memory store)', server: { implName: 'lifeline-v1', store: 'memory' }, client: 'lifeline-v1', url: (p) => `ws://127.0.0.1:${p}/` },
  { id: 'ws', label: 'ws', server: { implName: 'ws' }, client: 'ws', url: (p) => `ws://127.0.0.1:${p}/` },
  { id: 'socketio', label: 'Socket.IO 4 (websocket transport)', server: { implName: 'socketio' }, client: 'socketio', url: (p) => `http://127.0.0.1:${p}` },
];

export async function run(impl, params, ctx) {
  const server = await startServer(ctx, { ...impl.server, scenario: 'idle', label: `idle-${impl.id}` });
  const procs = Math.max(1, Math.ceil(params.connections / params.perProcess));
  const [warm, ...loadgens] = startLoadgens(procs + 1, ctx);
  const url = impl.url(server.port);
  try {
    const w = await warm.request('connect', { implName: impl.client, url, scenario: 'idle', count: params.warm }, 60_000);
    if (w.failed > 0) throw new Error(`warm-up: ${w.failed} clients failed: ${w.errors.sample.join('; ')}`);
    await sleep(params.settleMs);
    const before = await server.request('memory');
    const started = Date.now();
    const results = await Promise.all(
      split(params.connections, procs).map((count, i) =>
        loadgens[i].request('connect', { implName: impl.client, url, scenario: 'idle', count, concurrency: 50 }, 600_000),
      ),
    );
    const failed = results.reduce((sum, r) => sum + r.failed, 0);
    if (failed > 0) throw new Error(`${failed} of ${params.connections} clients failed: ${results.flatMap((r) => r.errors.sample).join('; ')}`);
    const connectMs = Date.now() - started;
    await sleep(params.settleMs);
    const after = await server.request('memory');
    const n = after.connections - before.connections;
    if (ctx.heapDir) await server.request('heapSnapshot', { path: join(ctx.heapDir, `idle-${impl.id}-${Date.now()}.heapsnapshot`) }, 120_000);
    if (n !== params.connections) throw new Error(`the server counts ${n} new connections, expected ${params.connections}`);
    const per = (key) => round((after[key] - before[key]) / n, 0);
    return {
      rssPerConn: per('rss'),
      heapPerConn: per('heapUsed'),
      externalPerConn: per('external'),
      /** JS heap plus memory outside it that the process holds for connections (Buffers): the part the app owns. */
      heapPlusExternalPerConn: round((after.heapUsed + after.external - before.heapUsed - before.external) / n, 0),
      before,
      after,
      connectSeconds: round(connectMs / 1000, 1),
      gcExposed: after.gc,
      params,
    };
  } finally {
    await stopLoadgens([warm, ...loadgens]);
    await server.stop();
  }
}
