import { pino } from 'pino';
import { Registry, type Histogram } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { parseReason, type WelcomeFrame } from '../../src/protocol/index.js';
import { createServer, type LifelineServer } from '../../src/server/index.js';
import { createMetrics, createStoreLatencyHistogram, instrumentStore, STORE_OPERATIONS } from '../../src/server/metrics/index.js';
import { createMemoryStore } from '../../src/store/memory.js';
import type { Store, StoredMessage } from '../../src/store/types.js';
import { killAll, startServe } from '../support/serve-process.js';
import { connectV1 } from '../support/v1-peer.js';
import { closeAllPeers, connectPeer } from '../support/ws-peer.js';
import { untilValue } from '../support/wait.js';
import { destroyRawPeers, rawConnect, type RawPeer } from '../support/raw-socket.js';

const servers: LifelineServer[] = [];
afterEach(async () => {
  closeAllPeers();
  destroyRawPeers();
  await Promise.all(servers.splice(0).map((s) => s.shutdown()));
  await killAll();
});

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parse the Prometheus text format: samples and the declared type of each family. */
function parseExposition(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) {
      const [, , family, type] = line.split(' ');
      types.set(family!, type!);
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparseable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return { samples, types };
}

function pick(samples: Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = pick(samples, name, labels);
  if (found.length !== 1) throw new Error(`expected one ${name} ${JSON.stringify(labels)}, found ${found.length}`);
  return found[0]!.value;
}

function sum(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return pick(samples, name, labels).reduce((n, s) => n + s.value, 0);
}

/** Closes by code label, summed over `closed_by`. */
function closesByCode(samples: Sample[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of pick(samples, 'lifeline_connection_closes_total')) out[s.labels.code!] = (out[s.labels.code!] ?? 0) + s.value;
  return out;
}

async function scrape(port: number): Promise<{ status: number; contentType: string | null; text: string; samples: Sample[]; types: Map<string, string> }> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get('content-type'), text, ...parseExposition(text) };
}

/** Every value each lifeline label may take: anything else would be unbounded cardinality. */
const ALLOWED_LABEL_VALUES: Record<string, RegExp> = {
  code: /^(100\d|101[0-5]|3xxx|4xxx|other)$/,
  closed_by: /^(server|client|transport)$/,
  handler: /^(connection|message|close)$/,
  outcome: /^(created|resumed|not_recovered)$/,
  kind: /^(restart|shutdown|channels|messages|sessions|sessionChannels|claims|keys|presenceMembers|presenceNodes)$/,
  reason: /^(closing|slow-consumer|draining|origin|connections|admission|auth|conflicts|forgottenIds|outcomeUnknown|subscriptionLimit|channelLimit|reservedRefused|takeovers|authRefused|credentialsExpired|presenceFull|presenceInfoLimit|presenceQueryLimit|presenceUnavailable)$/,
  operation: new RegExp(`^(${STORE_OPERATIONS.join('|')}|[a-z][A-Za-z]{0,31}|other)$`),
  result: /^(ok|error)$/,
  le: /^(\+Inf|\d+(\.\d+)?(e[-+]?\d+)?)$/,
};

/** A raw client that completes the upgrade and then reads nothing more: its server-side queue only grows. */
async function stuckPeer(port: number): Promise<RawPeer> {
  const peer = await rawConnect(port);
  peer.stopReading();
  return peer;
}

describe('GET /metrics on a real `lifeline serve` process', () => {
  it('counts a scripted sequence exactly: 1011, 1008, then SIGHUP cycles the last connection with 1012', async () => {
    const key = 'metrics-test-publish-key-0001';
    const server = await startServe(['--demo', '--store', 'memory', '--drain-window', '300ms', '--publish-key', key]);

    // The store is instrumented by serve: an HTTP publish is a timed append. (Other features of serve, such
    // as the dashboard's stats feed, may publish too, so this compares before and after.)
    const appendsAndPublishes = (x: Sample[]) => ({
      appends: sum(x, 'lifeline_store_operation_duration_seconds_count', { operation: 'append', result: 'ok' }),
      published: value(x, 'lifeline_published_messages_total'),
    });
    const before = appendsAndPublishes((await scrape(server.port)).samples);
    const published = await fetch(`http://127.0.0.1:${server.port}/publish`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ channel: 'news', data: { n: 1 } }),
    });
    expect(published.status).toBe(200);
    const afterPublish = appendsAndPublishes((await scrape(server.port)).samples);
    expect(afterPublish.published - before.published).toBeGreaterThanOrEqual(1);
    // Every published message went through a timed append first.
    expect(afterPublish.appends).toBeGreaterThanOrEqual(afterPublish.published);

    const [crasher, offender, bystander] = await Promise.all([connectPeer(server.url), connectPeer(server.url), connectPeer(server.url)]);
    const during = await scrape(server.port);
    expect(value(during.samples, 'lifeline_connections_open')).toBe(3);

    crasher.ws.send('crash');
    const crash = await crasher.closed;
    expect(crash.code).toBe(1011);
    const incident = parseReason(crash.reason).incident!;
    expect(incident).toMatch(/^inc_[0-9a-f]{12}$/);

    offender.ws.send('forbidden');
    expect((await offender.closed).code).toBe(1008);

    server.kill('SIGHUP');
    expect((await bystander.closed).code).toBe(1012);
    await server.waitForLog((e) => e.msg === 'drain finished');

    // The server counts a close when its side of the socket is done, which can trail the client by a moment.
    const after = await untilValue(
      () => scrape(server.port),
      (s) => s.status === 200 && sum(s.samples, 'lifeline_connection_closes_total') >= 3 && value(s.samples, 'lifeline_connections_open') === 0,
    );
    expect(after.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    const { samples, types } = after;

    expect(closesByCode(samples)).toEqual({ '1011': 1, '1008': 1, '1012': 1 });
    // Each of the three was the server's doing.
    expect(pick(samples, 'lifeline_connection_closes_total').map((s) => s.labels.closed_by)).toEqual(['server', 'server', 'server']);
    expect(value(samples, 'lifeline_incidents_total', { handler: 'message' })).toBe(1);
    expect(sum(samples, 'lifeline_incidents_total')).toBe(1);
    expect(value(samples, 'lifeline_drains_total', { kind: 'restart' })).toBe(1);
    expect(value(samples, 'lifeline_drains_total', { kind: 'shutdown' })).toBe(0);
    expect(value(samples, 'lifeline_drain_duration_seconds_count', { kind: 'restart' })).toBe(1);
    const drainSeconds = value(samples, 'lifeline_drain_duration_seconds_sum', { kind: 'restart' });
    expect(drainSeconds).toBeGreaterThan(0);
    expect(drainSeconds).toBeLessThan(10);
    expect(value(samples, 'lifeline_connections_opened_total')).toBe(3);
    expect(value(samples, 'lifeline_connections_open')).toBe(0);
    expect(value(samples, 'lifeline_messages_received_total')).toBe(2);
    expect(value(samples, 'lifeline_refused_upgrades_total')).toBe(0);
    expect(pick(samples, 'lifeline_protocol_errors_total')).toEqual([]);
    expect(value(samples, 'lifeline_store_available')).toBe(1);
    expect(value(samples, 'lifeline_outbound_buffered_bytes')).toBe(0);
    // serve owns its process, so the default process metrics are there too, unprefixed.
    expect(pick(samples, 'process_cpu_user_seconds_total')).toHaveLength(1);

    // Types are what Prometheus functions expect: _total families are counters, durations histograms.
    for (const [family, type] of types) {
      if (!family.startsWith('lifeline_')) continue;
      if (family.endsWith('_total')) expect(type, family).toBe('counter');
      if (family.endsWith('_seconds')) expect(type, family).toBe('histogram');
    }

    // Bounded labels: every lifeline label value comes from a small fixed set, and no id of a connection
    // or an incident appears anywhere in the scrape.
    for (const s of samples.filter((x) => x.name.startsWith('lifeline_'))) {
      for (const [label, v] of Object.entries(s.labels)) {
        expect(ALLOWED_LABEL_VALUES[label], `unexpected label ${label} on ${s.name}`).toBeDefined();
        expect(v, `${s.name} ${label}`).toMatch(ALLOWED_LABEL_VALUES[label]!);
      }
    }
    const connectionIds = server.logs.map((e) => e.connection).filter((c): c is string => typeof c === 'string');
    expect(connectionIds.length).toBeGreaterThanOrEqual(2);
    for (const id of [incident, ...connectionIds]) expect(after.text).not.toContain(id);
    for (const s of samples) for (const v of Object.values(s.labels)) expect(v).not.toMatch(/(inc_[0-9a-f]{6,}|c_[0-9a-f]{6}_|s_[A-Za-z0-9_-]{22})/);
    expect(pick(samples, 'lifeline_connection_closes_total').length).toBeLessThanOrEqual(3);

    // SIGHUP cycled connections; the process is still up and still counting.
    expect(server.child.exitCode).toBeNull();
    const again = await connectPeer(server.url);
    expect(await again.request('still here')).toBe('still here');
    const later = await scrape(server.port);
    expect(value(later.samples, 'lifeline_connections_opened_total')).toBe(4);
    expect(value(later.samples, 'lifeline_messages_received_total')).toBe(3);
  });
});

describe('createMetrics on an in-process server', () => {
  async function start(options: Parameters<typeof createServer>[0] = {}) {
    const server = createServer({ heartbeatMs: 0, drainWindowMs: 50, closeTimeoutMs: 500, graceMs: 100, logger: pino({ level: 'silent' }), ...options });
    servers.push(server);
    const metrics = createMetrics(server);
    server.addRoute(metrics.route);
    const { port } = await server.listen(0);
    return { server, metrics, port, url: `ws://127.0.0.1:${port}/` };
  }

  it('folds application close codes into 3xxx / 4xxx, credits the client, and serves only GET /metrics', async () => {
    const { port, url } = await start({ onMessage: (connection, data) => connection.send(String(data)) });
    const a = await connectPeer(url);
    const b = await connectPeer(url);
    const c = await connectPeer(url);
    a.ws.close(4321, 'app says bye');
    b.ws.close(3001, 'framework says bye');
    c.ws.close(1000);
    await Promise.all([a.closed, b.closed, c.closed]);
    const { samples } = await untilValue(
      () => scrape(port),
      (s) => sum(s.samples, 'lifeline_connection_closes_total') === 3,
    );
    expect(closesByCode(samples)).toEqual({ '4xxx': 1, '3xxx': 1, '1000': 1 });
    expect(new Set(pick(samples, 'lifeline_connection_closes_total').map((s) => s.labels.closed_by))).toEqual(new Set(['client']));

    expect((await fetch(`http://127.0.0.1:${port}/metrics`, { method: 'HEAD' })).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${port}/metrics`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${port}/metrics/x`)).status).toBe(404);
  });

  it('counts sessions by outcome: created, resumed', async () => {
    const { port, url } = await start();
    const first = await connectV1(url);
    first.send({ t: 'hello', v: 1 });
    const welcome = await first.next<WelcomeFrame>((f) => f.t === 'welcome');
    first.ws.close();
    await first.closed;
    const second = await connectV1(url);
    second.send({ t: 'hello', v: 1, token: welcome.token });
    const resumed = await second.next<WelcomeFrame>((f) => f.t === 'welcome');
    expect(resumed.resumed).toBe(true);
    const { samples, text } = await scrape(port);
    expect(value(samples, 'lifeline_sessions_total', { outcome: 'created' })).toBe(1);
    expect(value(samples, 'lifeline_sessions_total', { outcome: 'resumed' })).toBe(1);
    expect(value(samples, 'lifeline_sessions_total', { outcome: 'not_recovered' })).toBe(0);
    expect(text).not.toContain(welcome.token.split('.')[0]!); // no session id in any label
  });

  it('reports the outbound queue at scrape time (sum and max over open connections) and counts slow consumers', async () => {
    const chunk = 'x'.repeat(256 * 1024);
    const { server, port } = await start({ maxBufferedBytes: 512 * 1024 * 1024 });
    const flood = (n: number) =>
      new Promise<void>((resolve) => {
        const off = server.on('connection', (connection) => {
          off();
          for (let i = 0; i < n; i++) connection.send(chunk);
          resolve();
        });
      });
    let flooded = flood(64); // 16 MiB, far beyond what loopback socket buffers absorb
    await stuckPeer(port);
    await flooded;
    flooded = flood(32); // 8 MiB
    await stuckPeer(port);
    await flooded;
    const { samples } = await scrape(port);
    const total = value(samples, 'lifeline_outbound_buffered_bytes');
    const max = value(samples, 'lifeline_outbound_buffered_max_bytes');
    const buffered = [...server.connections].map((c) => c.bufferedAmount);
    expect(buffered).toHaveLength(2);
    expect(max).toBeGreaterThan(0);
    expect(total).toBeGreaterThan(max); // both connections hold a queue
    // Up to the bytes still draining into the kernel between the scrape and this read.
    expect(Math.abs(total - buffered.reduce((a, b) => a + b, 0))).toBeLessThanOrEqual(1024 * 1024);
    expect(total).toBeLessThanOrEqual(24 * 1024 * 1024 + 1024);

    // Past maxBufferedBytes a peer is closed as a slow consumer.
    server.reconfigure({ maxBufferedBytes: 1024 * 1024 });
    flooded = flood(32);
    await stuckPeer(port);
    await flooded;
    expect(value((await scrape(port)).samples, 'lifeline_slow_consumers_total')).toBe(1);
  });

  it('close() stops counting and removes the metrics from the registry', async () => {
    const server = createServer({ heartbeatMs: 0, drainWindowMs: 50, logger: pino({ level: 'silent' }) });
    servers.push(server);
    const registry = new Registry();
    const metrics = createMetrics(server, { registry, prefix: 'app_ws_' });
    const { port } = await server.listen(0);
    const peer = await connectPeer(`ws://127.0.0.1:${port}/`);
    expect(parseExposition(await metrics.metrics()).samples.find((s) => s.name === 'app_ws_connections_opened_total')?.value).toBe(1);
    metrics.close();
    metrics.close(); // idempotent
    expect(registry.getMetricsAsArray()).toEqual([]);
    peer.ws.close();
    await peer.closed;
    // The same registry can take a fresh set, which starts from nothing.
    const fresh = createMetrics(server, { registry, prefix: 'app_ws_' });
    await connectPeer(`ws://127.0.0.1:${port}/`);
    const { samples } = parseExposition(await fresh.metrics());
    expect(value(samples, 'app_ws_connections_opened_total')).toBe(1);
    expect(samples.every((s) => !s.name.startsWith('lifeline_'))).toBe(true);
    fresh.close();
  });
});

describe('instrumentStore', () => {
  /** A store with every optional member, built on the memory store (which keeps its state in #private fields). */
  function watchableStore(): Store & { setAvailable(available: boolean): void; extra(): string } {
    const inner = createMemoryStore();
    let available = true;
    const watchers = new Set<(m: StoredMessage) => void>();
    const availability = new Set<(available: boolean, reason?: string) => void>();
    return {
      kind: 'test',
      durable: false,
      get available() {
        return available;
      },
      setAvailable(next: boolean) {
        available = next;
        for (const l of availability) l(next, next ? undefined : 'test outage');
      },
      extra: () => 'kept',
      append: async (...args) => {
        const result = await inner.append(...args);
        for (const w of watchers) w(result.message);
        return result;
      },
      read: (...args) => inner.read(...args),
      head: (...args) => inner.head(...args),
      saveSession: (...args) => inner.saveSession(...args),
      updateSession: (...args) => inner.updateSession(...args),
      loadSession: (...args) => inner.loadSession(...args),
      deleteSession: (...args) => inner.deleteSession(...args),
      claimMessage: (...args) => inner.claimMessage(...args),
      finishMessage: (...args) => inner.finishMessage(...args),
      sweep: () => inner.sweep(),
      close: () => inner.close(),
      watch(listener) {
        watchers.add(listener);
        return () => watchers.delete(listener);
      },
      onAvailability(listener) {
        availability.add(listener);
        return () => availability.delete(listener);
      },
    };
  }

  async function observations(histogram: Histogram<'operation' | 'result'>): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const v of (await histogram.get()).values) {
      if (v.metricName?.endsWith('_count')) out[`${v.labels.operation}:${v.labels.result}`] = v.value;
    }
    return out;
  }

  it('keeps watch, available, onAvailability and engine extras working, and times every async operation', async () => {
    const histogram = createStoreLatencyHistogram();
    const raw = watchableStore();
    const store = instrumentStore(raw, histogram);
    expect(store.kind).toBe('test');
    expect(store.durable).toBe(false);
    expect(store.extra()).toBe('kept');
    expect(store.read).toBe(store.read); // stable identity

    const watched: StoredMessage[] = [];
    const unwatch = store.watch!((m) => watched.push(m));
    const changes: boolean[] = [];
    const offAvailability = store.onAvailability!((a) => changes.push(a));
    expect(store.available).toBe(true);
    raw.setAvailable(false);
    expect(store.available).toBe(false); // read live, not copied at wrap time
    raw.setAvailable(true);
    expect(changes).toEqual([false, true]);

    const { message } = await store.append('news', { n: 1 });
    expect(watched.map((m) => m.offset)).toEqual([message.offset]);
    unwatch();
    offAvailability();
    await store.append('news', { n: 2 });
    expect(watched).toHaveLength(1);

    await store.read('news', { epoch: message.epoch, offset: 0 }, 10);
    await store.head('news');
    await store.saveSession({ id: 's1', tokenHash: 'h', channels: [], expiresAt: Date.now() + 60_000 });
    await store.updateSession('s1', { subscribe: [{ channel: 'news' }] });
    await store.loadSession('s1');
    await store.claimMessage('s1', 1);
    await store.finishMessage('s1', 1, { state: 'done' });
    await store.deleteSession('s1');
    await store.sweep();
    // A rejection is timed as an error and reaches the caller unchanged.
    await expect(store.append('', null)).rejects.toBeInstanceOf(TypeError);
    await store.close();
    await expect(store.head('news')).rejects.toMatchObject({ code: 'LIFELINE_ERR_STORE_UNAVAILABLE' });

    expect(await observations(histogram)).toEqual({
      'append:ok': 2,
      'append:error': 1,
      'read:ok': 1,
      'head:ok': 1,
      'head:error': 1,
      'saveSession:ok': 1,
      'updateSession:ok': 1,
      'loadSession:ok': 1,
      'claimMessage:ok': 1,
      'finishMessage:ok': 1,
      'deleteSession:ok': 1,
      'sweep:ok': 1,
      'close:ok': 1,
    });
    // Every operation of the contract is covered by the list above.
    expect(new Set(Object.keys(await observations(histogram)).map((k) => k.split(':')[0]))).toEqual(new Set(STORE_OPERATIONS));
  });

  it('runs methods on the real store, so engines with private fields work through the proxy', async () => {
    const histogram = createStoreLatencyHistogram();
    const store: Store = instrumentStore(createMemoryStore(), histogram);
    const { message } = await store.append('c', 'x');
    expect((await store.read('c', { epoch: message.epoch, offset: 0 }, 5)).messages.map((m) => m.data)).toEqual(['x']);
    expect(store.watch).toBeUndefined();
    expect(store.available).toBeUndefined();
    expect(await observations(histogram)).toEqual({ 'append:ok': 1, 'read:ok': 1 });
  });

  it('times a synchronous throw as an error and rethrows it', async () => {
    const histogram = createStoreLatencyHistogram();
    const boom = new RangeError('bad limit');
    const store: Store = instrumentStore({ ...watchableStore(), read: () => { throw boom; } }, histogram);
    expect(() => store.read('c', undefined, -1)).toThrow(boom);
    expect(await observations(histogram)).toEqual({ 'read:error': 1 });
  });
});
