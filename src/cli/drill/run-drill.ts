/**
 * `lifeline drill`: N protocol clients and a publisher against a running lifeline server, counting
 * every acknowledged message at every subscriber. What a user runs in staging while deploying.
 * @packageDocumentation
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createSession, RejectedError, type LifelineSession } from '../../client/index.js';
import { channelReport, PublishedLog, SubscriberTally, type ChannelReport, type DrillPayload } from './tally.js';
import { drillChecks, type DrillCheck } from './verdict.js';

/** Options of a drill. Durations in ms. */
export interface DrillOptions {
  /**
   * WebSocket URL(s) of the service (`ws://host:port/`). With several, clients are spread over them and
   * each reconnect tries the next one, as behind a load balancer.
   */
  url: string | readonly string[];
  /** `POST /publish` URL; derived from `url` when absent. */
  publishUrl?: string;
  /** Bearer key for `POST /publish`. */
  publishKey: string;
  clients: number;
  channels: number;
  /** How long to publish. */
  durationMs: number;
  /** HTTP publishes per second, per channel. */
  rate: number;
  /** Acknowledged publishes per second, per client (0: none). */
  clientRate: number;
  /** After publishing stops, how long to wait for stragglers before counting losses. */
  settleMs: number;
  /** Channel name prefix; random by default so drills never see each other's messages. */
  prefix?: string;
  /**
   * Restarts the drill must see: it fails unless some client reconnected at least this often (each
   * restart makes every client of that server reconnect once). 0 allows a drill without restarts. @default 1
   */
  expectRestarts?: number;
  /** Stop early (e.g. on SIGINT). */
  signal?: AbortSignal;
  /** Told every second how far the drill is. */
  onProgress?: (progress: DrillProgress) => void;
}

/** Where a running drill is, every second. */
export interface DrillProgress {
  readonly phase: 'subscribing' | 'publishing' | 'settling';
  readonly elapsedMs: number;
  /** Clients subscribed to their channel (at least once), of `clients`. */
  readonly subscribed: number;
  readonly clients: number;
  /** Acknowledged publishes so far, and deliveries. */
  readonly published: number;
  readonly delivered: number;
  /** Reconnections so far, all clients together. */
  readonly reconnects: number;
  readonly publishRetries: number;
  readonly clientRejects: number;
}

/** A drill's outcome. */
export interface DrillReport {
  prefix: string;
  durationMs: number;
  channels: ChannelReport[];
  totals: Omit<ChannelReport, 'channel'>;
  /** HTTP publish attempts that failed and were retried (with the same idempotency key). */
  publishRetries: number;
  /** HTTP publishers that gave up because the server stayed unreachable past the settle time. */
  publishAbandoned: number;
  /** Client publishes rejected by the server (never retried). */
  clientRejects: number;
  /** The rejections by the server's code (`FORBIDDEN`: clients may not publish to the drill's channels). */
  rejectReasons: Record<string, number>;
  /** The most reconnections one client made: the restarts it saw. */
  restartsSeen: number;
  /** The restarts the drill had to see (see {@link DrillOptions.expectRestarts}). */
  expectRestarts: number;
  /** Every condition of the verdict, passed or not; `ok` is true when all passed. */
  checks: DrillCheck[];
  /** Client publishes neither acknowledged nor rejected by the end (the client still holds them). */
  unacknowledged: number;
  /** Clients connected (welcomed) when the drill ended, of `clients`. */
  connectedAtEnd: number;
  clients: number;
  /** True when nothing acknowledged was lost, duplicated or reordered, and something was tested in every direction asked for. */
  ok: boolean;
}

function publishUrlOf(url: string): string {
  const u = new URL(url);
  u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
  u.pathname = '/publish';
  u.search = '';
  return u.toString();
}

/**
 * `promise`, or false after `ms`. The timer is cleared as soon as `promise` settles: a drill must end
 * when its work does, not when its longest timeout would have fired.
 */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<false>((resolve) => (timer = setTimeout(resolve, ms, false)));
  try {
    return await Promise.race([promise.then(() => true as const), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `fetch` with a 5 s budget for the whole exchange, body included. Not `AbortSignal.timeout`: its timer
 * would outlive every publish by 5 s, and nothing the drill starts may outlive the drill.
 */
async function post(url: string, init: RequestInit): Promise<{ ok: boolean; status: number; text: string }> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 5000);
  try {
    const res = await fetch(url, { ...init, signal: controller.signal });
    return { ok: res.ok, status: res.status, text: await res.text() };
  } finally {
    clearTimeout(timer);
  }
}

/** Run a drill to the end (or until `signal` aborts) and report. */
export async function runDrill(options: DrillOptions): Promise<DrillReport> {
  const prefix = options.prefix ?? `drill.${randomBytes(4).toString('hex')}`;
  const urls = typeof options.url === 'string' ? [options.url] : [...options.url];
  if (urls.length === 0) throw new RangeError('at least one URL is needed');
  const publishUrl = options.publishUrl ?? publishUrlOf(urls[0]!);
  const progress = options.onProgress ?? (() => {});
  const channelNames = Array.from({ length: options.channels }, (_, i) => `${prefix}.${i}`);
  const logs = new Map(channelNames.map((c) => [c, new PublishedLog()]));
  const tallies: SubscriberTally[] = [];
  const sessions: LifelineSession[] = [];
  let publishRetries = 0;
  let clientRejects = 0;
  const rejectReasons: Record<string, number> = {};
  let subscribedCount = 0;
  let phase: DrillProgress['phase'] = 'subscribing';
  let unacknowledged = 0;
  let connectedAtEnd = 0;
  let publishAbandoned = 0;
  const started = Date.now();

  // Subscribers: client i listens to channel i mod channels, and publishes to it.
  const subscribed: Promise<void>[] = [];
  for (let i = 0; i < options.clients; i++) {
    const channel = channelNames[i % channelNames.length]!;
    const tally = new SubscriberTally(channel);
    tallies.push(tally);
    let calls = 0;
    // Start on server i mod n; every further attempt moves on, so a client whose server restarts resumes on another.
    const session = createSession({ url: () => urls[(i + calls++) % urls.length]! });
    sessions.push(session);
    let opened = 0;
    session.on('welcome', (w) => {
      opened += 1;
      if (opened > 1) {
        tally.reconnects += 1;
        if (w.resumed) tally.resumed += 1;
      }
    });
    session.on('recovery', () => {
      tally.notRecovered += 1;
    });
    session.on('error', () => {});
    session.on('message', (m) => tally.deliver(m.data as unknown as DrillPayload, Date.now()));
    subscribed.push(new Promise<void>((resolve) => {
      const off = session.on('subscribed', (s) => {
        if (s.channel === channel) {
          off();
          subscribedCount += 1;
          resolve();
        }
      });
    }));
    session.subscribe(channel);
  }
  const snapshot = (): DrillProgress => ({
    phase,
    elapsedMs: Date.now() - started,
    subscribed: subscribedCount,
    clients: options.clients,
    published: [...logs.values()].reduce((n, l) => n + l.count, 0),
    delivered: tallies.reduce((n, t) => n + t.delivered, 0),
    reconnects: tallies.reduce((n, t) => n + t.reconnects, 0),
    publishRetries,
    clientRejects,
  });
  const progressTimer = setInterval(() => progress(snapshot()), 1000);
  progressTimer.unref();
  // Clients of a server that is not up yet keep retrying; the drill starts publishing after 30 s at most.
  await within(Promise.all(subscribed), 30_000);
  phase = 'publishing';
  progress(snapshot());

  const stopAt = Date.now() + options.durationMs;
  const running = () => Date.now() < stopAt && !options.signal?.aborted;

  // One sequential HTTP publisher per channel: the next message only after the previous was acknowledged,
  // so the order of a stream is defined; a failed attempt is retried with the same idempotency key.
  const httpPublisher = async (channel: string) => {
    let seq = 0;
    const interval = 1000 / options.rate;
    let next = Date.now();
    while (running()) {
      seq += 1;
      const payload: DrillPayload = { src: 'http', seq, at: Date.now() };
      let delay = 100;
      for (;;) {
        try {
          const res = await post(publishUrl, {
            method: 'POST',
            headers: { authorization: `Bearer ${options.publishKey}`, 'content-type': 'application/json' },
            body: JSON.stringify({ channel, data: payload, idempotencyKey: `${channel}:http:${seq}` }),
          });
          if (res.ok) {
            logs.get(channel)!.ack('http', seq);
            break;
          }
          if (res.status === 401 || res.status === 403 || res.status === 400) {
            throw new Error(`publish refused with HTTP ${res.status}: ${res.text}`);
          }
        } catch (error) {
          if ((error as Error).message.startsWith('publish refused')) throw error;
        }
        publishRetries += 1;
        // A server that stays away past the settle time is not restarting: stop, and report what was
        // acknowledged (an unacknowledged message is not counted as published, so it cannot count as lost).
        if (Date.now() > stopAt + options.settleMs || options.signal?.aborted) {
          publishAbandoned += 1;
          return;
        }
        // The server may be restarting: retry the same message until it is acknowledged.
        await sleep(delay);
        delay = Math.min(1000, delay * 2);
      }
      next += interval;
      const wait = next - Date.now();
      if (wait > 0) await sleep(wait);
      else next = Date.now();
    }
  };

  const clientPublisher = async (index: number) => {
    if (options.clientRate <= 0) return;
    const session = sessions[index]!;
    const channel = channelNames[index % channelNames.length]!;
    const src = `c${index}`;
    const interval = 1000 / options.clientRate;
    const inflight: Promise<void>[] = [];
    let seq = 0;
    // Spread the clients' phases so they do not all publish in the same tick.
    await sleep(Math.random() * interval);
    while (running()) {
      seq += 1;
      const mine = seq;
      inflight.push(
        session.publish(channel, { src, seq: mine, at: Date.now() }).then(
          () => logs.get(channel)!.ack(src, mine),
          (error: unknown) => {
            clientRejects += 1;
            const reason = error instanceof RejectedError ? error.protocolCode : 'ERROR';
            rejectReasons[reason] = (rejectReasons[reason] ?? 0) + 1;
          },
        ),
      );
      await sleep(Math.min(interval, Math.max(0, stopAt - Date.now())));
    }
    // Every publish must end in an ack or a rejection; one still pending after the settle time is reported.
    if (!(await within(Promise.all(inflight), options.settleMs))) unacknowledged += session.pending;
  };

  try {
    const publishing = Promise.all([...channelNames.map(httpPublisher), ...sessions.map((_, i) => clientPublisher(i))]);
    // Publishing ends at the duration; what follows (waiting for acks and stragglers) is settling.
    const settling = setTimeout(() => (phase = 'settling'), Math.max(0, stopAt - Date.now()));
    await publishing.finally(() => clearTimeout(settling));
    phase = 'settling';

    // Settle: wait until every subscriber has everything acknowledged on its channel, or time runs out.
    const settleEnd = Date.now() + options.settleMs;
    while (Date.now() < settleEnd) {
      const missing = tallies.reduce((n, t) => n + logs.get(t.channel)!.missingAt(t), 0);
      if (missing === 0) break;
      await sleep(200);
    }
  } finally {
    clearInterval(progressTimer);
    // "All clients back": give stragglers a moment (they may be inside a backoff), then count.
    const backBy = Date.now() + Math.min(options.settleMs, 10_000);
    while (sessions.some((s) => !s.ready) && Date.now() < backBy) await sleep(100);
    connectedAtEnd = sessions.filter((s) => s.ready).length;
    for (const s of sessions) s.close();
  }

  const channels = channelNames.map((c) => channelReport(c, logs.get(c)!, tallies.filter((t) => t.channel === c)));
  const totals = channels.reduce(
    (acc, c) => {
      for (const key of Object.keys(acc) as (keyof typeof acc)[]) {
        acc[key] = key === 'worstGapMs' ? Math.max(acc[key], c[key]) : acc[key] + c[key];
      }
      return acc;
    },
    { subscribers: 0, published: 0, publishedHttp: 0, publishedByClients: 0, delivered: 0, lost: 0, duplicated: 0, outOfOrder: 0, reconnects: 0, resumed: 0, notRecovered: 0, worstGapMs: 0 },
  );
  const expectRestarts = options.expectRestarts ?? 1;
  const restartsSeen = Math.max(0, ...tallies.map((t) => t.reconnects));
  const checks = drillChecks({ totals, unacknowledged, publishAbandoned, clientRejects, rejectReasons, restartsSeen, expectRestarts, rate: options.rate, clientRate: options.clientRate, prefix });
  return {
    prefix,
    durationMs: Date.now() - started,
    channels,
    totals,
    publishRetries,
    publishAbandoned,
    clientRejects,
    rejectReasons,
    unacknowledged,
    connectedAtEnd,
    clients: options.clients,
    restartsSeen,
    expectRestarts,
    checks,
    ok: checks.every((c) => c.ok),
  };
}
