/**
 * The server process of a bench run (forked by run.mjs, one per implementation and scenario).
 *
 * Implementations:
 * - `lifeline`: lifeline's server, plain frames (`onMessage`).
 * - `lifeline-v1`: lifeline's server speaking `lifeline.v1` (acked `msg`, channels), store `memory` or `sqlite`.
 * - `ws`: a raw `ws` WebSocketServer, written the way its README does it.
 * - `socketio`: a Socket.IO 4 server, `transports: ['websocket']`; echo answers `m` with `m` and acknowledges
 *   `a` (the client's `emitWithAck`). With `recovery: true`, its connection state recovery is on (restart
 *   storm), and with `cycleOnHup: true` SIGHUP closes every connection in-process (see startSocketIo).
 * - `socketio-sharded`: Socket.IO 4 with `@socket.io/redis-adapter`'s sharded adapter (the multi-node baseline).
 *
 * The restart storm's lifeline server is the real `lifeline serve` CLI (see scenarios/restart.mjs);
 * its baselines come from here (`restart` mode: a fixed port and `POST /publish` that broadcasts).
 */
import { createServer as createHttpServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { WebSocketServer, WebSocket } from 'ws';
import { emit, serveRequests } from './lib/ipc.mjs';
import { makePayload } from './lib/payload.mjs';
import { sleep } from './lib/stats.mjs';

const CHANNEL = 'bench';

/** The running implementation: see `start`. */
let impl;
let publisher;
let cleanup = [];

async function startLifeline({ scenario, variant, store: storeKind, redis, channels, nodes, node }) {
  const pino = (await import('pino')).default;
  const { createServer } = await import('lifeline/server');
  let store;
  if (storeKind === 'redis' || storeKind === 'redis-cluster') {
    const { createRedisStore } = await import('lifeline/store/redis');
    const where = storeKind === 'redis' ? { url: redis.urls[0] } : { cluster: redis.urls };
    store = createRedisStore({ ...where, prefix: redis.prefix, fanout: redis.fanout ?? 'interest' });
  } else if (storeKind === 'sqlite') {
    const { createSqliteStore } = await import('lifeline/store/sqlite');
    const dir = mkdtempSync(join(tmpdir(), 'lifeline-bench-'));
    store = createSqliteStore({ path: join(dir, 'bench.db') });
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  } else {
    const { createMemoryStore } = await import('lifeline/store');
    store = createMemoryStore();
  }
  const server = createServer({
    logger: pino({ level: 'warn' }, pino.destination(2)),
    store,
    ...(scenario === 'echo' && variant === 'plain' ? { onMessage: (connection, data) => connection.send(data) } : {}),
    ...(scenario === 'echo' && variant === 'v1' ? { onSessionMessage: () => {} } : {}),
  });
  const { port } = await server.listen(0, '127.0.0.1');
  if (scenario === 'scaleout') {
    // Every node publishes to every channel in turn (most of them served by other nodes), and counts
    // what it published by the node whose clients subscribe to the channel (channel i: node i % nodes).
    const publishedTo = new Array(nodes).fill(0);
    let next = node;
    return {
      port,
      connections: () => server.connections.size,
      publish: async () => {
        const i = next++ % channels.length;
        await server.publish(channels[i], makePayload(i, 128));
        publishedTo[i % nodes] += 1;
      },
      scaleoutStats: () => {
        const stats = server.stats();
        return { received: stats.fanout.received, unwanted: stats.fanout.unwanted, delivered: stats.messagesOut, publishedTo: [...publishedTo] };
      },
      stop: async () => {
        await server.shutdown({ code: 1001 });
        await store.close();
      },
    };
  }
  return {
    port,
    connections: () => server.connections.size,
    publish: (n) => server.publish(CHANNEL, makePayload(n, 128)),
    stop: () => server.shutdown({ code: 1001 }),
  };
}

/**
 * Socket.IO 4 with its sharded Redis adapter (`@socket.io/redis-adapter`, `createShardedAdapter`, one
 * shard channel per room in its default `dynamic` mode), over ioredis: the multi-node baseline. Each
 * client joins the room named in its handshake query.
 */
async function startSocketIoSharded({ redis, channels, nodes, node }, route) {
  let adapterModule;
  try {
    adapterModule = await import('@socket.io/redis-adapter');
  } catch {
    throw new Error('SKIPPED: @socket.io/redis-adapter is not installed (npm install -D @socket.io/redis-adapter@8.3.0)');
  }
  const { Server } = await import('socket.io');
  const { Redis, Cluster } = await import('ioredis');
  const cluster = redis.kind === 'cluster';
  const pub = cluster ? new Cluster(redis.urls, { shardedSubscribers: true }) : new Redis(redis.urls[0]);
  const sub = pub.duplicate();
  // What Redis delivered to this node: every sharded message its subscriber connection received.
  let received = 0;
  sub.on('smessageBuffer', () => (received += 1));
  const http = createHttpServer(route);
  const io = new Server(http, { transports: ['websocket'], serveClient: false, adapter: adapterModule.createShardedAdapter(pub, sub, { channelPrefix: redis.prefix }) });
  io.on('connection', (socket) => {
    const room = socket.handshake.query.room;
    if (typeof room === 'string') socket.join(room);
  });
  const publishedTo = new Array(nodes).fill(0);
  let next = node;
  return {
    http,
    connections: () => io.engine.clientsCount,
    publish: () => {
      const i = next++ % channels.length;
      io.to(channels[i]).emit('m', makePayload(i, 128));
      publishedTo[i % nodes] += 1;
    },
    scaleoutStats: () => ({ received, publishedTo: [...publishedTo] }),
    stop: () =>
      new Promise((resolve) => {
        io.close(() => {
          pub.disconnect();
          sub.disconnect();
          resolve();
        });
      }),
  };
}

function startWs({ scenario }, route) {
  const http = createHttpServer(route);
  const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
  wss.on('connection', (ws) => {
    ws.on('error', () => {});
    if (scenario === 'echo') ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  const broadcast = (text) => {
    // The README's broadcast loop.
    for (const client of wss.clients) if (client.readyState === WebSocket.OPEN) client.send(text);
  };
  return {
    http,
    connections: () => wss.clients.size,
    publish: (n) => broadcast(JSON.stringify(makePayload(n, 128))),
    publishText: broadcast,
    stop: () => new Promise((resolve) => {
      for (const client of wss.clients) client.terminate();
      wss.close(() => resolve());
    }),
  };
}

async function startSocketIo({ scenario, recovery = false, cycleOnHup = false }, route) {
  const { Server } = await import('socket.io');
  const http = createHttpServer(route);
  // Connection state recovery keeps each disconnected socket's rooms and missed packets in this
  // process's memory for its default 2 minutes: it bridges a dropped connection, never a new process.
  const io = new Server(http, { transports: ['websocket'], serveClient: false, ...(recovery ? { connectionStateRecovery: {} } : {}) });
  io.on('connection', (socket) => {
    if (scenario === 'echo') {
      socket.on('m', (data) => socket.emit('m', data));
      // The acked round trip, as lifeline.v1's acked msg: the handler runs, then the ack (no payload).
      socket.on('a', (_data, ack) => typeof ack === 'function' && ack());
    } else if (!socket.recovered) socket.join(CHANNEL);
  });
  if (cycleOnHup) {
    // The in-process counterpart of lifeline's SIGHUP reload: close every connection at once (Socket.IO
    // has no drain), the process stays up. Closing the engine's transport (not socket.disconnect(),
    // which tells the client not to reconnect) is a disconnect that recovery covers.
    process.on('SIGHUP', () => {
      for (const client of Object.values(io.engine.clients)) client.close();
    });
  }
  return {
    http,
    connections: () => io.engine.clientsCount,
    publish: (n) => io.to(CHANNEL).emit('m', makePayload(n, 128)),
    publishText: (text) => io.to(CHANNEL).emit('m', JSON.parse(text)),
    stop: () => new Promise((resolve) => io.close(() => resolve())),
  };
}

/** `POST /publish` for the restart-storm baselines: broadcast the body, answer 200 once sent. */
function publishRoute(getImpl) {
  return (req, res) => {
    if (req.method === 'POST' && req.url === '/publish') {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        getImpl().publishText(body);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      });
      return;
    }
    if (req.url === '/healthz') {
      res.writeHead(200).end('ok');
      return;
    }
    res.writeHead(404).end();
  };
}

function listen(http, port) {
  return new Promise((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, '127.0.0.1', () => resolve(http.address().port));
  });
}

/**
 * Publish `rate` messages per second on a 10 ms schedule. A server that falls more than 100 ms of
 * messages behind drops the excess from the schedule rather than bursting (an overloaded server offers
 * less). `rate` 0 means as fast as the server can: publish for 10 ms, let I/O run, repeat.
 */
function startPublisher(rate) {
  const started = performance.now();
  const state = { published: 0, skipped: 0, stopped: false, done: undefined };
  state.done = (async () => {
    let n = 0;
    let tick = 0;
    while (!state.stopped) {
      if (rate === 0) {
        const sliceEnd = performance.now() + 10;
        while (!state.stopped && performance.now() < sliceEnd) {
          await impl.publish(++n);
          state.published += 1;
        }
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      const target = Math.floor(((performance.now() - started) * rate) / 1000);
      let due = target - (state.published + state.skipped);
      const cap = Math.max(1, Math.ceil(rate / 10));
      if (due > cap) {
        state.skipped += due - cap;
        due = cap;
      }
      for (let i = 0; i < due && !state.stopped; i++) {
        await impl.publish(++n);
        state.published += 1;
      }
      tick += 1;
      await sleep(Math.max(0, started + tick * 10 - performance.now()));
    }
  })();
  return state;
}

serveRequests({
  async start(config) {
    const { implName } = config;
    const route = publishRoute(() => impl);
    if (implName === 'lifeline' || implName === 'lifeline-v1') impl = await startLifeline(config);
    else if (implName === 'ws') impl = startWs(config, route);
    else if (implName === 'socketio') impl = await startSocketIo(config, route);
    else if (implName === 'socketio-sharded') impl = await startSocketIoSharded(config, route);
    else throw new Error(`unknown implementation ${implName}`);
    if (impl.http) impl.port = await listen(impl.http, config.port ?? 0);
    return { port: impl.port, pid: process.pid };
  },
  /** CPU time and event-loop utilisation so far (the runner takes differences). */
  usage() {
    const elu = performance.eventLoopUtilization();
    return { cpu: process.cpuUsage(), elu: { idle: elu.idle, active: elu.active }, at: performance.now(), connections: impl?.connections() ?? 0 };
  },
  /** Memory after full garbage collections (the process runs with --expose-gc). */
  async memory() {
    for (let i = 0; i < 4; i++) {
      globalThis.gc?.();
      await sleep(50);
    }
    const m = process.memoryUsage();
    // Each V8 space's committed and used bytes: where RSS beyond the live heap comes from (a young
    // generation grown by the connection burst stays committed after collection).
    const { getHeapSpaceStatistics } = await import('node:v8');
    const spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, { size: s.space_size, used: s.space_used_size }]));
    return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers, spaces, connections: impl.connections(), gc: typeof globalThis.gc === 'function' };
  },
  /** Write a heap snapshot (the idle scenario, with --heap-snapshot). */
  async heapSnapshot({ path }) {
    const { writeHeapSnapshot } = await import('node:v8');
    globalThis.gc?.();
    return { file: writeHeapSnapshot(path) };
  },
  /** The multi-node scenario's counts: appends received from Redis, deliveries, publishes by the node whose clients need them. */
  scaleoutStats() {
    return impl.scaleoutStats();
  },
  publishStart({ rate }) {
    publisher = startPublisher(rate);
    return {};
  },
  async publishStop() {
    publisher.stopped = true;
    await publisher.done;
    return { published: publisher.published, skipped: publisher.skipped };
  },
  async stop() {
    await Promise.race([impl?.stop(), sleep(2000)]);
    for (const fn of cleanup) fn();
    cleanup = [];
    return {};
  },
});

process.on('uncaughtException', (error) => {
  emit('fatal', { message: error.stack ?? String(error) });
  process.exit(1);
});
