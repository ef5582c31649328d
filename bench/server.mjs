/**
 * The server process of a bench run (forked by run.mjs, one per implementation and scenario).
 *
 * Implementations:
 * - `lifeline`: lifeline's server, plain frames (`onMessage`).
 * - `lifeline-v1`: lifeline's server speaking `lifeline.v1` (acked `msg`, channels), store `memory` or `sqlite`.
 * - `ws`: a raw `ws` WebSocketServer, written the way its README does it.
 * - `socketio`: a Socket.IO 4 server, `transports: ['websocket']` (variant `ack`: echo answers the acknowledgement).
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

async function startLifeline({ scenario, variant, store: storeKind }) {
  const pino = (await import('pino')).default;
  const { createServer } = await import('lifeline/server');
  let store;
  if (storeKind === 'sqlite') {
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
  return {
    port,
    connections: () => server.connections.size,
    publish: (n) => server.publish(CHANNEL, makePayload(n, 128)),
    stop: () => server.shutdown({ code: 1001 }),
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

async function startSocketIo({ scenario, variant }, route) {
  const { Server } = await import('socket.io');
  const http = createHttpServer(route);
  const io = new Server(http, { transports: ['websocket'], serveClient: false });
  io.on('connection', (socket) => {
    // `ack`: the acknowledgement is the reply (emitWithAck on the client), carrying nothing, like lifeline.v1's ack.
    if (scenario === 'echo' && variant === 'ack') socket.on('m', (_data, ack) => ack());
    else if (scenario === 'echo') socket.on('m', (data) => socket.emit('m', data));
    else socket.join(CHANNEL);
  });
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
