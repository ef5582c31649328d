/**
 * A load-generator process (forked by run.mjs; several for the big scenarios). It opens clients of
 * one implementation, drives them, and measures on the client side; the runner asks it for windows
 * of numbers over IPC.
 *
 * Client implementations:
 * - `ws`: a raw `ws` WebSocket.
 * - `lifeline`: lifeline's reconnecting client (`createClient`), plain frames.
 * - `lifeline-v1`: lifeline's session client (`createSession`): acked `send`, channel subscriptions.
 * - `v1-raw`: a raw `ws` WebSocket speaking the least of lifeline.v1 an acked echo needs (hello, then
 *   `msg` frames, each reply an `ack`), to tell the server's cost from the session client's.
 * - `socketio`: socket.io-client 4, `transports: ['websocket']`, a connection of its own each (`forceNew`).
 * - `socketio-ack`: the same, sending with `emitWithAck` (the round trip ends at the server's ack).
 * - `rws`: reconnecting-websocket with its defaults, `ws` as its WebSocket.
 *
 * One more role: the restart storm's prober (`probeStart` / `probeStop`, see lib/prober.mjs), in a
 * process of its own so its connections do not queue behind thousands of clients' traffic.
 */
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { WebSocket } from 'ws';
import { emit, serveRequests } from './lib/ipc.mjs';
import { ECHO_TEXT } from './lib/payload.mjs';
import { startProber } from './lib/prober.mjs';
import { isBack, newRecord, newStorm, nullRecord, summarise } from './lib/restart-record.mjs';
import { Histogram, monoMs, sleep } from './lib/stats.mjs';

const require = createRequire(import.meta.url);
const CHANNEL = 'bench';

/** Every client of this process. */
let clients = [];
/** Counters of the current measurement window. */
let win = newWindow();
let running = false;
const errors = { count: 0, sample: [] };

function newWindow() {
  return { open: false, started: 0, ended: 0, count: 0, histogram: new Histogram(), cpu: undefined };
}

function noteError(error) {
  errors.count += 1;
  if (errors.sample.length < 5) errors.sample.push(String(error?.message ?? error).slice(0, 200));
}

/**
 * A `ws` WebSocket class that tells `record` about every attempt and every open: how the restart storm
 * counts reconnect attempts of clients that do not report them (lifeline's, reconnecting-websocket).
 */
function countingWebSocket(record) {
  return class CountingWebSocket extends WebSocket {
    constructor(url, protocols, options) {
      super(url, protocols, { perMessageDeflate: false, ...options });
      record.attempt();
      this.once('open', () => record.open());
    }
  };
}

let lifeline;
async function lifelineClient() {
  lifeline ??= await import('lifeline/client');
  return lifeline;
}
let ioClient;
async function socketIoClient() {
  ioClient ??= (await import('socket.io-client')).io;
  return ioClient;
}

/**
 * Open one client. `on.message(data)` gets each application message (echo reply, channel message);
 * `record` (restart storm only) gets the attempts, closes and returns; `options` are per-scenario
 * client settings (see the restart scenario's smoke mode). Resolves once the client is ready for its
 * scenario (open, or subscribed). Returns `{ ready, send(text) -> Promise|void, close() }`.
 */
async function openClient(implName, url, scenario, on, record, options = {}) {
  if (implName === 'ws') {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.on('error', noteError);
    ws.on('message', (data) => on.message(data));
    const ready = new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('close', () => reject(new Error('closed before open')));
    });
    return { ready, send: (text) => ws.send(text), close: () => ws.terminate() };
  }
  if (implName === 'v1-raw') {
    const ws = new WebSocket(url, 'lifeline.v1', { perMessageDeflate: false });
    ws.on('error', noteError);
    let id = 0;
    const ready = new Promise((resolve, reject) => {
      ws.once('open', () => ws.send(JSON.stringify({ t: 'hello', v: 1 })));
      ws.once('close', () => reject(new Error('closed before welcome')));
      ws.on('message', (data) => {
        // The server answers each connection's frames in order: every `ack` is the oldest one in flight.
        const text = data.toString();
        if (text.startsWith('{"t":"ack"')) on.message(text);
        else if (text.startsWith('{"t":"welcome"')) resolve();
        else noteError(new Error(`unexpected frame ${text.slice(0, 80)}`));
      });
    });
    return { ready, send: (text) => ws.send(`{"t":"msg","id":${++id},"data":${JSON.stringify(text)}}`), close: () => ws.terminate() };
  }
  if (implName === 'lifeline') {
    const { createClient } = await lifelineClient();
    const client = createClient({ url, WebSocket, environment: null });
    client.on('error', noteError);
    client.on('message', ({ data }) => on.message(data));
    const ready = new Promise((resolve) => client.on('open', resolve));
    return { ready, send: (text) => client.send(text), close: () => client.close() };
  }
  if (implName === 'lifeline-v1') {
    const { createSession } = await lifelineClient();
    const session = createSession({ url, WebSocket: record ? countingWebSocket(record) : WebSocket, environment: null });
    session.on('error', noteError);
    session.on('message', ({ data }) => on.message(data));
    let ready;
    if (scenario === 'echo') {
      ready = new Promise((resolve) => session.on('welcome', resolve));
    } else {
      session.subscribe(on.channel ?? CHANNEL);
      ready = new Promise((resolve) => session.on('subscribed', resolve));
    }
    if (record) {
      // 'close' also comes for attempts that never opened; the record ignores closes while down.
      session.on('close', () => record.closed());
      session.on('welcome', (w) => record.back(w.resumed));
      session.on('recovery', () => record.recovery());
    }
    return { ready, send: (text) => session.send(text), close: () => session.close() };
  }
  if (implName === 'socketio' || implName === 'socketio-ack') {
    const io = await socketIoClient();
    // The multi-node scenario's server joins each socket to the room its handshake names.
    const socket = io(url, { transports: ['websocket'], forceNew: true, ...options.socketIo, ...(on.channel !== undefined ? { query: { room: on.channel } } : {}) });
    socket.on('m', (data) => on.message(data));
    socket.on('connect_error', noteError);
    if (record) {
      socket.io.on('reconnect_attempt', () => record.attempt());
      socket.io.on('reconnect_error', () => record.failed());
      socket.on('disconnect', () => record.closed());
      socket.on('connect', () => {
        record.open();
        // `recovered`: the server's connection state recovery restored the rooms and replays what was missed.
        record.back(socket.recovered === true);
      });
    }
    const ready = new Promise((resolve) => socket.once('connect', resolve));
    const send = implName === 'socketio-ack' ? (text) => socket.emitWithAck('a', text) : (text) => socket.emit('m', text);
    return { ready, send, close: () => socket.disconnect() };
  }
  if (implName === 'rws') {
    const ReconnectingWebSocket = require('reconnecting-websocket');
    // reconnecting-websocket draws its default minReconnectionDelay (1000 + random * 4000 ms) once per
    // module load, i.e. once per browser page. Many clients in one process would all share one draw and
    // reconnect in lockstep, which no real fleet does: each client gets its own draw of the same default
    // (or of the range the scenario asks for: smoke mode scales it like lifeline's retry hint).
    const [min, max] = options.rwsMinDelayMs ?? [1000, 5000];
    const rws = new ReconnectingWebSocket(url, [], { WebSocket: countingWebSocket(record ?? nullRecord()), minReconnectionDelay: min + Math.random() * (max - min) });
    rws.addEventListener('message', (event) => on.message(event.data));
    rws.addEventListener('error', (event) => noteError(event.message ?? 'rws error'));
    if (record) {
      rws.addEventListener('close', () => record.closed());
      rws.addEventListener('open', () => record.back(false));
    }
    const ready = new Promise((resolve) => rws.addEventListener('open', resolve, { once: true }));
    return { ready, send: (text) => rws.send(text), close: () => rws.close() };
  }
  throw new Error(`unknown client implementation ${implName}`);
}

/** Parse whatever a client hands over (Buffer, string, or an already-decoded object) into the payload. */
function payloadOf(data) {
  if (typeof data === 'string') return JSON.parse(data);
  if (data instanceof Buffer || data instanceof ArrayBuffer) return JSON.parse(Buffer.from(data).toString('utf8'));
  return data;
}

/** Open `count` clients with at most `concurrency` handshakes in flight. */
async function openMany(count, concurrency, open) {
  let next = 0;
  let failed = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      try {
        const client = await open(i);
        clients[i] = client;
        await withTimeout(client.ready, 30_000, 'client not ready');
      } catch (error) {
        failed += 1;
        noteError(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return { ready: count - failed, failed };
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([promise, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} after ${ms} ms`)), ms)))]).finally(() =>
    clearTimeout(timer),
  );
}

// ---- restart storm bookkeeping (lib/restart-record.mjs) --------------------------------------------

let storm = newStorm();
let records = [];
let prober;

// ---- requests ------------------------------------------------------------------------------------

serveRequests({
  /** Open the clients and wait until they are ready. */
  async connect({ implName, url, scenario, count, concurrency = 100, clientOptions = {}, channels }) {
    clients = new Array(count);
    records = [];
    storm = newStorm();
    const started = performance.now();
    const result = await openMany(count, concurrency, async (i) => {
      const state = { sent: [] };
      let record;
      if (scenario === 'restart') {
        record = newRecord(storm);
        records[i] = record;
      }
      const on = {
        // The multi-node scenario: client i subscribes to channels[i mod length].
        channel: channels?.[i % channels.length],
        message: (data) => {
          if (scenario === 'echo') {
            const sentAt = state.sent.shift();
            onReply(sentAt, state);
          } else if (scenario === 'fanout' || scenario === 'scaleout') {
            const payload = payloadOf(data);
            if (win.open) {
              win.count += 1;
              win.histogram.record(monoMs() - payload.ts);
            }
          } else if (scenario === 'restart') {
            record.receive(payloadOf(data));
          }
        },
      };
      const client = await openClient(implName, url, scenario, on, record, clientOptions);
      client.state = state;
      state.client = client;
      return client;
    });
    return { ...result, ms: Math.round(performance.now() - started), errors };
  },

  /** Echo: every client keeps `inflight` messages outstanding until stopLoad. */
  echoStart({ inflight, acked }) {
    running = true;
    for (const client of clients) {
      if (!client) continue;
      for (let i = 0; i < inflight; i++) sendEcho(client, acked);
    }
    return {};
  },

  windowStart() {
    win = newWindow();
    win.open = true;
    win.started = performance.now();
    win.cpu = process.cpuUsage();
    return {};
  },

  windowEnd() {
    win.open = false;
    win.ended = performance.now();
    // This process's own CPU over the window: what the client side spends (echo: per round trip).
    const cpu = process.cpuUsage(win.cpu);
    return { count: win.count, seconds: (win.ended - win.started) / 1000, histogram: win.histogram.toJSON(), cpuUs: cpu.user + cpu.system, errors };
  },

  stopLoad() {
    running = false;
    return {};
  },

  /** Restart storm: from `at` (monotonic ms) on, attempts, closes and returns count. */
  arm({ at }) {
    storm.t0 = at;
    return {};
  },

  /**
   * How many clients are back (closed since the signal and usable again), how many of those have had
   * their first live message since (their gap is measured), and how many have message `lastN`.
   */
  status({ lastN }) {
    let back = 0;
    let live = 0;
    let caughtUp = 0;
    for (const r of records) {
      if (!r) continue;
      if (isBack(r)) {
        back += 1;
        if (!r.episode) live += 1;
      }
      if (lastN === undefined || r.received[lastN]) caughtUp += 1;
    }
    return { back, live, caughtUp, clients: records.length };
  },

  /** Restart storm: per-client outcome against the list of acknowledged publishes. */
  restartResult({ acked }) {
    return { ...summarise(records, acked, storm), errors };
  },

  /** The prober (a process of its own): a new connection every `everyMs`; times relative to `at`. */
  probeStart({ url, everyMs, timeoutMs, at }) {
    storm.t0 = at;
    prober = startProber({ url, everyMs, timeoutMs, t0: () => storm.t0 });
    return {};
  },

  async probeStop() {
    const result = await prober?.stop();
    prober = undefined;
    return result ?? null;
  },

  async close() {
    running = false;
    for (const client of clients) {
      try {
        client?.close();
      } catch {
        // closing is best effort
      }
    }
    await sleep(50);
    return {};
  },
});

function sendEcho(client, acked) {
  if (!running) return;
  const sentAt = performance.now();
  if (acked) {
    // lifeline.v1: the round trip is send -> the server's handler -> ack (Socket.IO: emitWithAck -> ack).
    (client.sendAcked ?? client.send)(ECHO_TEXT).then(
      () => onReply(sentAt, client.state, client, true),
      (error) => noteError(error),
    );
  } else {
    client.state.sent.push(sentAt);
    try {
      client.send(ECHO_TEXT);
    } catch (error) {
      noteError(error);
    }
  }
}

function onReply(sentAt, state, client, acked = false) {
  if (win.open && sentAt !== undefined) {
    win.count += 1;
    win.histogram.record(performance.now() - sentAt);
  }
  const c = client ?? state.client;
  if (c) sendEcho(c, acked);
}

process.on('uncaughtException', (error) => {
  emit('fatal', { message: error.stack ?? String(error) });
  process.exit(1);
});
