import { describe, expect, it, vi } from 'vitest';
import { explainCode } from '../../src/codes/index.js';
import {
  ClientClosedError,
  DeadLinkError,
  ListenerError,
  NotOpenError,
  SocketError,
  UrlError,
  createClient,
} from '../../src/client/index.js';
import type {
  ClientEnvironment,
  ClientEvents,
  ClientOptions,
  LifelineClient,
  WebSocketConstructor,
  WebSocketLike,
} from '../../src/client/index.js';
import { ManualClock } from '../support/manual-clock.js';

// ---- test doubles ---------------------------------------------------------------------------

/** A fake WebSocket class that records its instances; the test plays the server. */
function fakeWebSocket() {
  const sockets: FakeSocket[] = [];
  class FakeSocket implements WebSocketLike {
    readyState = 0;
    protocol = '';
    binaryType = 'blob';
    onopen: ((event: never) => unknown) | null = null;
    onmessage: ((event: never) => unknown) | null = null;
    onerror: ((event: never) => unknown) | null = null;
    onclose: ((event: never) => unknown) | null = null;
    readonly sent: unknown[] = [];
    closedWith: { code: number | undefined; reason: string | undefined } | undefined;

    constructor(
      readonly url: string,
      readonly protocols?: string | string[],
    ) {
      sockets.push(this);
    }
    send(data: unknown): void {
      this.sent.push(data);
    }
    close(code?: number, reason?: string): void {
      this.closedWith = { code, reason };
      this.readyState = 2;
    }
    // --- the server's side ---
    open(protocol = ''): void {
      this.readyState = 1;
      this.protocol = protocol;
      this.onopen?.({} as never);
    }
    message(data: unknown): void {
      this.onmessage?.({ data } as never);
    }
    serverClose(code: number, reason = '', wasClean = true): void {
      this.readyState = 3;
      this.onclose?.({ code, reason, wasClean } as never);
    }
    /** A failed attempt: connection refused, or HTTP 503 while the server drains. */
    refuse(message = 'Unexpected server response: 503'): void {
      this.onerror?.({ message, error: new Error(message) } as never);
      this.serverClose(1006, '', false);
    }
  }
  return { WebSocket: FakeSocket as unknown as WebSocketConstructor, sockets, last: () => sockets[sockets.length - 1]! };
}

/** A fake window: an event target with document.visibilityState and navigator.onLine. */
class FakeEnvironment implements ClientEnvironment {
  readonly document = { visibilityState: 'visible' };
  readonly navigator = { onLine: true };
  private readonly listeners = new Map<string, Set<() => void>>();
  addEventListener(type: string, listener: () => void): void {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type)!.add(listener);
  }
  removeEventListener(type: string, listener: () => void): void {
    this.listeners.get(type)?.delete(listener);
  }
  fire(type: string): void {
    for (const l of [...(this.listeners.get(type) ?? [])]) l();
  }
  count(): number {
    let n = 0;
    for (const set of this.listeners.values()) n += set.size;
    return n;
  }
  goOffline(): void {
    this.navigator.onLine = false;
    this.fire('offline');
  }
  goOnline(): void {
    this.navigator.onLine = true;
    this.fire('online');
  }
  setVisibility(state: 'visible' | 'hidden'): void {
    this.document.visibilityState = state;
    this.fire('visibilitychange');
  }
}

type Recorded = { [K in keyof ClientEvents]: [K, ClientEvents[K]] }[keyof ClientEvents];

/** A client wired to fakes, with every event recorded in order. */
function setup(options: Partial<ClientOptions> = {}) {
  const clock = new ManualClock();
  const ws = fakeWebSocket();
  const env = new FakeEnvironment();
  const client = createClient({
    url: 'ws://test.invalid/live',
    WebSocket: ws.WebSocket,
    clock,
    environment: env,
    random: () => 0.5,
    autoConnect: false,
    ...options,
  });
  const events: Recorded[] = [];
  const names = ['state', 'connecting', 'open', 'message', 'close', 'reconnecting', 'stopped', 'exhausted', 'error'] as const;
  for (const name of names) client.on(name, (payload) => events.push([name, payload] as Recorded));
  const of = <K extends keyof ClientEvents>(name: K): ClientEvents[K][] =>
    events.filter((e) => e[0] === name).map((e) => e[1] as ClientEvents[K]);
  const states = () => of('state').map((s) => s.state);
  return { client, clock, ws, env, events, of, states };
}

/** Connect and open, then let the connection become stable. */
function openStable(t: ReturnType<typeof setup>): void {
  t.client.connect();
  t.ws.last().open();
  t.clock.tick(10_000);
}

// ---- tests ----------------------------------------------------------------------------------

describe('client state machine', () => {
  it('1012 with a hint: reconnecting within the hint, then connecting, then open', () => {
    const t = setup({ random: () => 0.25 });
    openStable(t);
    t.ws.last().serverClose(1012, 'service restart; retry=2000-4000ms');

    expect(t.client.state).toBe('reconnecting');
    const [close] = t.of('close');
    expect(close).toMatchObject({
      code: 1012,
      reason: 'service restart; retry=2000-4000ms',
      wasClean: true,
      name: explainCode(1012).name,
      class: 'reconnect-soon',
      retry: { minMs: 2000, maxMs: 4000 },
      willReconnect: true,
      delayMs: 2500,
    });
    expect(close!.diagnosis).toBeUndefined();
    expect(t.of('reconnecting')).toEqual([{ attempt: 1, delayMs: 2500, code: 1012 }]);

    t.clock.tick(2499);
    expect(t.ws.sockets).toHaveLength(1);
    t.clock.tick(1);
    expect(t.ws.sockets).toHaveLength(2);
    expect(t.client.state).toBe('connecting');
    expect(t.of('connecting')).toEqual([{ attempt: 0 }, { attempt: 1 }]);

    t.ws.last().open('lifeline.v1');
    expect(t.client.state).toBe('open');
    expect(t.of('open')).toEqual([
      { protocol: '', attempt: 0 },
      { protocol: 'lifeline.v1', attempt: 1 },
    ]);
    expect(t.states()).toEqual(['connecting', 'open', 'reconnecting', 'connecting', 'open']);
    expect(t.of('state')[2]).toEqual({ state: 'reconnecting', previous: 'open' });
  });

  it('1012 without a hint waits 1-5 s', () => {
    const t = setup({ random: () => 0.5 });
    openStable(t);
    t.ws.last().serverClose(1012);
    expect(t.of('reconnecting')[0]!.delayMs).toBe(3000);
  });

  it('1011: backs off and surfaces the incident id', () => {
    const t = setup({ random: () => 0.5 });
    openStable(t);
    t.ws.last().serverClose(1011, 'internal error; incident=inc_3f9a2c71d0e4');

    const [close] = t.of('close');
    expect(close).toMatchObject({ code: 1011, class: 'backoff', incident: 'inc_3f9a2c71d0e4', willReconnect: true, delayMs: 250 });
    expect(t.of('reconnecting')).toEqual([{ attempt: 1, delayMs: 250, code: 1011, incident: 'inc_3f9a2c71d0e4' }]);

    // The retry is refused (HTTP 503 while the server drains): 1006, the next backoff step.
    t.clock.tick(250);
    t.ws.last().refuse();
    expect(t.of('error').at(-1)).toBeInstanceOf(SocketError);
    expect(t.of('error').at(-1)!.code).toBe('LIFELINE_ERR_SOCKET');
    expect(t.of('close').at(-1)).toMatchObject({ code: 1006, wasClean: false, class: 'backoff', delayMs: 500 });
    expect(t.of('reconnecting').at(-1)).toEqual({ attempt: 2, delayMs: 500, code: 1006 });
  });

  it('a server that accepts and crashes at once keeps being backed off; a stable connection resets the count', () => {
    const t = setup({ random: () => 0.999 });
    t.client.connect();
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      t.ws.last().open();
      t.clock.tick(100); // well under stableAfterMs
      t.ws.last().serverClose(1011, 'internal error; incident=inc_x');
      const { delayMs } = t.of('reconnecting').at(-1)!;
      delays.push(delayMs);
      t.clock.tick(delayMs);
    }
    expect(t.of('reconnecting').map((r) => r.attempt)).toEqual([1, 2, 3, 4, 5]);
    expect(delays.map(Math.round)).toEqual([500, 999, 1998, 3996, 7992]);
    expect(t.of('open').map((o) => o.attempt)).toEqual([0, 1, 2, 3, 4]);

    t.ws.last().open();
    t.clock.tick(5000); // stableAfterMs
    t.ws.last().serverClose(1011);
    expect(t.of('reconnecting').at(-1)!.attempt).toBe(1);
    expect(t.client.attempt).toBe(1);
  });

  it('1008: stopped with a diagnosis, no reconnect; reconnect() starts again', () => {
    const t = setup();
    openStable(t);
    t.ws.last().serverClose(1008, 'token expired');

    expect(t.client.state).toBe('stopped');
    const [stopped] = t.of('stopped');
    expect(stopped!.diagnosis).toContain(explainCode(1008).name);
    expect(stopped!.diagnosis).toContain('token expired');
    expect(stopped!.close).toMatchObject({ code: 1008, class: 'stop', willReconnect: false, diagnosis: stopped!.diagnosis });
    expect(t.of('close')[0]!.diagnosis).toBe(stopped!.diagnosis);
    expect(t.of('reconnecting')).toEqual([]);
    expect(t.clock.pending).toBe(0);
    t.clock.tick(3_600_000);
    expect(t.ws.sockets).toHaveLength(1);

    t.client.reconnect();
    expect(t.client.state).toBe('connecting');
    expect(t.ws.sockets).toHaveLength(2);
    expect(t.of('connecting').at(-1)).toEqual({ attempt: 0 });
  });

  it('1000 from the server stops', () => {
    const t = setup();
    openStable(t);
    t.ws.last().serverClose(1000, 'done');
    expect(t.client.state).toBe('stopped');
  });

  it('maxAttempts: exhausted event (never a silent give-up), then reconnect() works', () => {
    const t = setup({ maxAttempts: 2 });
    t.client.connect();
    t.ws.last().refuse('connect ECONNREFUSED');
    expect(t.of('reconnecting').at(-1)!.attempt).toBe(1);
    t.clock.tick(60_000);
    t.ws.last().refuse('connect ECONNREFUSED');
    expect(t.of('reconnecting').at(-1)!.attempt).toBe(2);
    t.clock.tick(60_000);
    t.ws.last().refuse('connect ECONNREFUSED');

    expect(t.client.state).toBe('exhausted');
    const [exhausted] = t.of('exhausted');
    expect(exhausted).toMatchObject({ attempts: 2, lastClose: { code: 1006, willReconnect: false } });
    expect(exhausted!.lastClose.diagnosis).toMatch(/2 consecutive reconnect attempts/);
    expect(t.of('close').at(-1)!.willReconnect).toBe(false);
    expect(t.clock.pending).toBe(0);
    expect(t.ws.sockets).toHaveLength(3);

    t.client.reconnect();
    expect(t.of('connecting').at(-1)).toEqual({ attempt: 0 });
    t.ws.last().open();
    expect(t.client.state).toBe('open');
    expect(t.states().slice(-3)).toEqual(['exhausted', 'connecting', 'open']);
  });

  it('maxAttempts: 0 gives up on the first drop', () => {
    const t = setup({ maxAttempts: 0 });
    openStable(t);
    t.ws.last().serverClose(1012);
    expect(t.client.state).toBe('exhausted');
    expect(t.of('exhausted')[0]!.attempts).toBe(0);
  });

  it('close() is final: one last close event, no timers, nothing after', () => {
    const t = setup();
    openStable(t);
    const socket = t.ws.last();
    t.client.close(1000, 'bye');

    expect(t.client.state).toBe('closed');
    expect(socket.closedWith).toEqual({ code: 1000, reason: 'bye' });
    expect(t.env.count()).toBe(0);
    socket.message('late');
    socket.onerror?.({} as never);
    socket.serverClose(1000, 'bye');

    const after = t.events.slice(t.events.findIndex((e) => e[0] === 'state' && e[1].state === 'closed'));
    expect(after.map((e) => e[0])).toEqual(['state', 'close']);
    expect(t.of('close').at(-1)).toMatchObject({ code: 1000, willReconnect: false });
    expect(t.clock.pending).toBe(0);
    t.clock.tick(3_600_000);
    expect(t.ws.sockets).toHaveLength(1);

    expect(() => t.client.connect()).toThrow(ClientClosedError);
    expect(() => t.client.reconnect()).toThrow(expect.objectContaining({ code: 'LIFELINE_ERR_CLIENT_CLOSED' }));
    expect(() => t.client.send('x')).toThrow(NotOpenError);
    t.client.close(); // again: nothing
    expect(t.events.length).toBe(after.length + t.events.indexOf(after[0]!));
  });

  it('close() while reconnecting cancels the pending attempt', () => {
    const t = setup();
    openStable(t);
    t.ws.last().serverClose(1012);
    expect(t.clock.pending).toBe(1);
    t.client.close();
    expect(t.clock.pending).toBe(0);
    t.clock.tick(60_000);
    expect(t.ws.sockets).toHaveLength(1);
    expect(t.states().at(-1)).toBe('closed');
  });

  it('close() validates its arguments', () => {
    const t = setup();
    expect(() => t.client.close(1006)).toThrow(RangeError);
    expect(() => t.client.close(1012)).toThrow(RangeError);
    expect(() => t.client.close(4000, 'x'.repeat(124))).toThrow(RangeError);
    expect(t.client.state).toBe('idle');
    t.client.close(4000, 'app done');
    expect(t.client.state).toBe('closed');
  });

  it('send(): delivers when open, throws NotOpenError otherwise', () => {
    const t = setup();
    expect(() => t.client.send('too early')).toThrow(NotOpenError);
    try {
      t.client.send('x');
    } catch (error) {
      expect((error as NotOpenError).code).toBe('LIFELINE_ERR_NOT_OPEN');
    }
    t.client.connect();
    expect(() => t.client.send('still connecting')).toThrow(NotOpenError);
    t.ws.last().open();
    t.client.send('hello');
    expect(t.ws.last().sent).toEqual(['hello']);
  });

  it('delivers messages and asks for ArrayBuffer binary data', () => {
    const t = setup();
    t.client.connect();
    expect(t.ws.last().binaryType).toBe('arraybuffer');
    t.ws.last().open();
    t.ws.last().message('{"a":1}');
    expect(t.of('message')).toEqual([{ data: '{"a":1}' }]);
  });

  it('offline pauses the reconnect timer without burning attempts; online resumes at once', () => {
    const t = setup();
    openStable(t);
    t.env.goOffline();
    expect(t.client.state).toBe('open'); // an offline event alone does not kill a socket that may still work
    t.ws.last().serverClose(1006, '', false);
    expect(t.client.state).toBe('reconnecting');
    expect(t.clock.pending).toBe(0);
    t.clock.tick(600_000);
    expect(t.ws.sockets).toHaveLength(1);
    expect(t.client.attempt).toBe(1);

    t.env.goOnline();
    expect(t.ws.sockets).toHaveLength(2);
    expect(t.client.state).toBe('connecting');
    expect(t.of('connecting').at(-1)).toEqual({ attempt: 1 });
    t.ws.last().open();
    expect(t.client.state).toBe('open');
  });

  it('offline while a backoff timer is pending pauses it', () => {
    const t = setup();
    t.client.connect();
    t.ws.last().refuse();
    expect(t.clock.pending).toBe(1);
    t.env.goOffline();
    expect(t.clock.pending).toBe(0);
    t.clock.tick(60_000);
    expect(t.ws.sockets).toHaveLength(1);
    t.env.goOnline();
    expect(t.ws.sockets).toHaveLength(2);
  });

  it('starts paused when the environment says it is offline', () => {
    const t = setup();
    t.env.navigator.onLine = false;
    const client = createClient({
      url: 'ws://x.invalid',
      WebSocket: t.ws.WebSocket,
      clock: t.clock,
      environment: t.env,
      autoConnect: false,
    });
    client.connect(); // an explicit connect is still tried
    t.ws.last().refuse();
    expect(client.state).toBe('reconnecting');
    expect(t.clock.pending).toBe(0);
    t.env.goOnline();
    expect(client.state).toBe('connecting');
    client.close();
  });

  it('dead link: a late (throttled) timer still sees the true silence', () => {
    const t = setup({ deadLinkMs: 10_000 });
    t.client.connect();
    t.ws.last().open();
    // Traffic every 4 s keeps the link alive for a long time.
    for (let i = 0; i < 10; i++) {
      t.clock.tick(4000);
      t.ws.last().message('tick');
    }
    expect(t.client.state).toBe('open');
    expect(t.of('error')).toEqual([]);

    // The tab is throttled: a minute passes and no timer fires; then one (late) timer fires.
    const socket = t.ws.last();
    t.clock.jump(60_000);
    t.clock.tick(0);
    const dead = t.of('error').at(-1);
    expect(dead).toBeInstanceOf(DeadLinkError);
    expect((dead as DeadLinkError).silentMs).toBeGreaterThanOrEqual(60_000);
    expect(socket.closedWith).toBeDefined();
    expect(t.of('close').at(-1)).toMatchObject({ code: 1006, wasClean: false, class: 'backoff', willReconnect: true });
    expect(t.client.state).toBe('reconnecting');

    // The abandoned socket's own close, when it finally comes, changes nothing.
    const before = t.events.length;
    socket.serverClose(1006, '', false);
    expect(t.events.length).toBe(before);
  });

  it('dead link: a silent link is declared dead at the deadline, checks at most deadLinkMs/2 apart', () => {
    const t = setup({ deadLinkMs: 10_000 });
    t.client.connect();
    t.ws.last().open();
    t.clock.tick(9_999);
    expect(t.client.state).toBe('open');
    t.clock.tick(1);
    expect(t.client.state).toBe('reconnecting');
    expect(t.of('error').at(-1)!.code).toBe('LIFELINE_ERR_DEAD_LINK');
  });

  it('dead link: a page that becomes visible checks the link at once', () => {
    const t = setup({ deadLinkMs: 10_000 });
    t.client.connect();
    t.ws.last().open();
    t.env.setVisibility('hidden');
    t.clock.jump(30_000); // hidden: timers are not running
    expect(t.client.state).toBe('open');
    t.env.setVisibility('visible');
    expect(t.client.state).toBe('reconnecting');
    expect(t.of('error').at(-1)).toBeInstanceOf(DeadLinkError);
  });

  it('visible again with recent traffic: the link is left alone', () => {
    const t = setup({ deadLinkMs: 10_000 });
    t.client.connect();
    t.ws.last().open();
    t.env.setVisibility('hidden');
    t.clock.jump(3000);
    t.env.setVisibility('visible');
    expect(t.client.state).toBe('open');
  });

  it('deadLinkMs 0 (the default) never declares a link dead', () => {
    const t = setup();
    openStable(t);
    t.clock.jump(3_600_000);
    t.env.setVisibility('visible');
    t.env.goOnline();
    t.clock.tick(0);
    expect(t.client.state).toBe('open');
    expect(t.clock.pending).toBe(0);
  });

  it('application codes stop by default and follow applicationCodes', () => {
    const t = setup();
    openStable(t);
    t.ws.last().serverClose(4001, 'kicked');
    expect(t.client.state).toBe('stopped');
    expect(t.of('close')[0]!.class).toBe('application');

    const u = setup({ applicationCodes: (code) => (code === 4001 ? 'reconnect-soon' : 'stop') });
    openStable(u);
    u.ws.last().serverClose(4001, 'moved');
    expect(u.client.state).toBe('reconnecting');
    expect(u.of('reconnecting')[0]).toEqual({ attempt: 1, delayMs: 3000, code: 4001 });
  });

  it('the policy option overrides, and undefined falls back', () => {
    const policy = vi.fn((code: number) => (code === 1008 ? ({ action: 'reconnect', delayMs: 10 } as const) : undefined));
    const t = setup({ policy });
    openStable(t);
    t.ws.last().serverClose(1008);
    expect(t.of('reconnecting')[0]).toEqual({ attempt: 1, delayMs: 10, code: 1008 });
    expect(policy).toHaveBeenCalledWith(1008, '', 1);
    t.clock.tick(10);
    t.ws.last().serverClose(1002);
    expect(t.client.state).toBe('stopped');
  });

  it('an unexpected code from a weird peer is handled like 1006', () => {
    const t = setup();
    openStable(t);
    t.ws.last().serverClose(2500, 'what');
    expect(t.client.state).toBe('reconnecting');
    expect(t.of('close')[0]).toMatchObject({ code: 2500, class: 'backoff', willReconnect: true });
    t.clock.tick(1000);
    t.ws.last().serverClose(99_999);
    expect(t.of('close')[1]).toMatchObject({ code: 99_999, name: explainCode(1006).name, class: 'backoff' });
  });

  it('calls the url function per attempt; a rejection is reported and backed off', async () => {
    const url = vi.fn(async ({ attempt }: { attempt: number }) => {
      if (attempt === 1) throw new Error('token service down');
      return `ws://test.invalid/live?attempt=${attempt}`;
    });
    const t = setup({ url });
    t.client.connect();
    await Promise.resolve();
    expect(t.ws.last().url).toBe('ws://test.invalid/live?attempt=0');
    t.ws.last().refuse();
    t.clock.tick(250);
    await vi.waitFor(() => expect(t.of('error').at(-1)).toBeInstanceOf(UrlError));
    expect(t.of('close').at(-1)).toMatchObject({ code: 1006, willReconnect: true });
    expect(t.ws.sockets).toHaveLength(1);
    t.clock.tick(500);
    await vi.waitFor(() => expect(t.ws.sockets).toHaveLength(2));
    expect(t.ws.last().url).toBe('ws://test.invalid/live?attempt=2');
    expect(url).toHaveBeenCalledTimes(3);
  });

  it('a WebSocket constructor that throws (invalid URL) stops with a diagnosis', () => {
    const Throwing = class {
      constructor() {
        throw new SyntaxError('Invalid URL');
      }
    } as unknown as WebSocketConstructor;
    const t = setup({ WebSocket: Throwing });
    t.client.connect();
    expect(t.client.state).toBe('stopped');
    expect(t.of('error')[0]!.code).toBe('LIFELINE_ERR_CONNECT');
    expect(t.of('stopped')[0]!.diagnosis).toContain('Invalid URL');
  });

  it('passes protocols to the WebSocket', () => {
    const t = setup({ protocols: ['lifeline.v1'] });
    t.client.connect();
    expect(t.ws.last().protocols).toEqual(['lifeline.v1']);
  });

  it('a throwing listener does not break the state machine', () => {
    const t = setup({ random: () => 0 });
    t.client.on('close', () => {
      throw new Error('listener bug');
    });
    t.client.on('state', ({ state }) => {
      if (state === 'reconnecting') throw new Error('another bug');
    });
    openStable(t);
    t.ws.last().serverClose(1012);
    expect(t.client.state).toBe('reconnecting');
    const errors = t.of('error');
    expect(errors.map((e) => (e as ListenerError).event)).toEqual(['close', 'state']);
    expect(errors[0]).toBeInstanceOf(ListenerError);
    expect((errors[0]!.cause as Error).message).toBe('listener bug');
    t.clock.tick(1000);
    t.ws.last().open();
    expect(t.client.state).toBe('open');
  });

  it('listeners can re-enter: close() from an open listener wins over the rest of the transition', () => {
    const t = setup();
    t.client.on('open', () => t.client.close());
    t.client.connect();
    t.ws.last().open();
    expect(t.client.state).toBe('closed');
    expect(t.ws.last().closedWith).toEqual({ code: 1000, reason: '' });
    expect(t.clock.pending).toBe(0);
  });

  it('listeners can re-enter: reconnect() from a stopped listener', () => {
    const t = setup();
    const off = t.client.on('stopped', () => t.client.reconnect());
    openStable(t);
    t.ws.last().serverClose(1008);
    off();
    expect(t.client.state).toBe('connecting');
    expect(t.ws.sockets).toHaveLength(2);
  });

  it('connect() while reconnecting skips the wait and keeps the count', () => {
    const t = setup();
    t.client.connect();
    t.ws.last().refuse();
    t.clock.tick(250);
    t.ws.last().refuse();
    expect(t.client.state).toBe('reconnecting');
    expect(t.of('reconnecting').at(-1)).toEqual({ attempt: 2, delayMs: 500, code: 1006 });
    t.client.connect();
    expect(t.clock.pending).toBe(0);
    expect(t.of('connecting').at(-1)).toEqual({ attempt: 2 });
  });

  it('on() returns an unsubscribe function', () => {
    const t = setup();
    const seen: string[] = [];
    const off = t.client.on('state', ({ state }) => seen.push(state));
    t.client.connect();
    off();
    t.ws.last().open();
    expect(seen).toEqual(['connecting']);
  });

  it('autoConnect (default): connects on the next microtask, so listeners added right away see everything', async () => {
    const clock = new ManualClock();
    const ws = fakeWebSocket();
    const client: LifelineClient = createClient({ url: 'ws://x.invalid', WebSocket: ws.WebSocket, clock, environment: null });
    const seen: unknown[] = [];
    client.on('connecting', (e) => seen.push(e));
    expect(client.state).toBe('idle');
    await Promise.resolve();
    expect(seen).toEqual([{ attempt: 0 }]);
    expect(ws.sockets).toHaveLength(1);
    client.close();
  });
});

describe('client options', () => {
  const base = { url: 'ws://x.invalid', autoConnect: false, environment: null } as const;
  it.each<[string, Record<string, unknown>, typeof TypeError | typeof RangeError]>([
    ['url missing', { url: undefined }, TypeError],
    ['url empty', { url: '' }, TypeError],
    ['url number', { url: 5 }, TypeError],
    ['maxAttempts negative', { maxAttempts: -1 }, RangeError],
    ['maxAttempts fractional', { maxAttempts: 1.5 }, RangeError],
    ['maxAttempts string', { maxAttempts: '3' }, TypeError],
    ['stableAfterMs NaN', { stableAfterMs: Number.NaN }, RangeError],
    ['deadLinkMs negative', { deadLinkMs: -5 }, RangeError],
    ['deadLinkMs Infinity', { deadLinkMs: Infinity }, RangeError],
    ['soon inverted', { soon: { minMs: 5000, maxMs: 1000 } }, RangeError],
    ['soon.minMs above default maxMs', { soon: { minMs: 6000 } }, RangeError],
    ['hintLimits negative', { hintLimits: { minMs: -1 } }, RangeError],
    ['backoff factor < 1', { backoff: { factor: 0.5 } }, RangeError],
    ['backoff baseMs string', { backoff: { baseMs: '500' } }, TypeError],
    ['backoff not an object', { backoff: 5 }, TypeError],
    ['lang unknown', { lang: 'fr' }, RangeError],
    ['lang zh without the texts (explain)', { lang: 'zh' }, RangeError],
    ['autoConnect string', { autoConnect: 'yes' }, TypeError],
    ['protocols number', { protocols: 1 }, TypeError],
    ['random not a function', { random: 0.5 }, TypeError],
    ['policy not a function', { policy: {} }, TypeError],
    ['WebSocket not a function', { WebSocket: {} }, TypeError],
    ['clock incomplete', { clock: { now: () => 0 } }, TypeError],
    ['environment without listeners', { environment: {} }, TypeError],
  ])('rejects %s synchronously', (_name, bad, kind) => {
    expect(() => createClient({ ...base, ...bad } as unknown as ClientOptions)).toThrow(kind);
  });

  it('accepts partial nested options merged over the defaults', () => {
    expect(() => createClient({ ...base, soon: { maxMs: 2000 }, backoff: { capMs: 10_000 }, maxAttempts: Infinity })).not.toThrow();
  });

  it('reads no environment when there is none (Node): no globalThis.addEventListener', () => {
    expect(typeof (globalThis as { addEventListener?: unknown }).addEventListener).toBe('undefined');
    expect(() => createClient({ url: 'ws://x.invalid', autoConnect: false })).not.toThrow();
  });
});

describe('client without an injected WebSocket (Node 20)', () => {
  it('loads a WebSocket lazily and treats a refused connection as 1006', async () => {
    const clock = new ManualClock();
    const client = createClient({ url: 'ws://127.0.0.1:1/', clock, environment: null, random: () => 0.5 });
    const errors: unknown[] = [];
    client.on('error', (e) => errors.push(e));
    const close = await new Promise<ClientEvents['close']>((resolve) => client.on('close', resolve));
    expect(close).toMatchObject({ code: 1006, class: 'backoff', willReconnect: true, delayMs: 250 });
    expect(client.state).toBe('reconnecting');
    expect(errors.length).toBeGreaterThan(0);
    client.close();
    expect(clock.pending).toBe(0);
  });
});
