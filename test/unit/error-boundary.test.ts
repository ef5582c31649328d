/**
 * The error boundary (the 1011 rule, src/server/core/error-boundary.ts) on fake sockets: what a handler
 * failure closes with and records, what a client's mistake closes with, and the order handlers run in.
 * The process test (test/integration/error-boundary.test.ts) keeps the real sockets and the real log.
 */
import { describe, expect, it } from 'vitest';
import { parseReason } from '../../src/protocol/index.js';
import { RECENT_INCIDENTS, type Incident } from '../../src/server/core/error-boundary.js';
import { createServerCore, type ServerCoreOptions } from '../../src/server/core/server-core.js';
import { CloseError, HandlerFailure, PolicyViolationError } from '../../src/server/errors.js';
import { openFake, recordingLogger } from '../support/fake-socket.js';
import { ManualClock, settle } from '../support/manual-clock.js';

function core(options: Partial<ServerCoreOptions> = {}) {
  const clock = new ManualClock(1_700_000_000_000);
  const logger = recordingLogger();
  const server = createServerCore({ logger, clock, heartbeatMs: 0, ...options });
  return { clock, logger, server, open: () => openFake(server, clock) };
}

/** A handler call the test finishes by hand. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe('the error boundary', () => {
  it('a handler failure closes that connection only, with 1011 and an incident id, and nothing from the error', async () => {
    const secret = new Error('db password s3cr3t at /srv/app/handlers.ts:12\nsecond line');
    const { server, logger, open } = core({
      onMessage: (_c, data) => {
        if (data === 'crash') throw secret;
      },
    });
    const incidents: Incident[] = [];
    server.on('incident', (i) => incidents.push(i));
    const victim = open();
    const bystander = open();
    victim.events.message('crash', false);
    bystander.events.message('fine', false);
    await settle();

    expect(victim.closed!.code).toBe(1011);
    const fields = parseReason(victim.closed!.reason);
    expect(fields).toEqual({ text: 'internal error', incident: expect.stringMatching(/^inc_[0-9a-f]{12}$/) });
    for (const leak of ['s3cr3t', '/srv', 'handlers.ts', 'Error', 'second line']) expect(victim.closed!.reason).not.toContain(leak);
    expect(bystander.closed).toBeUndefined();

    // Operators get everything, under the same id: the log entry with the error, the event, the ring, the count.
    const entry = logger.entries.find((e) => e.fields.incident === fields.incident)!;
    expect(entry).toMatchObject({ level: 'error', fields: { handler: 'message', err: secret } });
    expect(incidents).toEqual([{ id: fields.incident, at: 1_700_000_000_000, connection: entry.fields.connection, handler: 'message', summary: 'db password s3cr3t at /srv/app/handlers.ts:12' }]);
    expect(server.recentIncidents()).toEqual(incidents);
    expect(server.stats().incidents).toBe(1);
  });

  it('a rejected promise and a thrown non-Error are incidents too, each with its own id', async () => {
    const { server, open } = core({
      onMessage: async (_c, data) => {
        if (data === 'reject') throw new Error('async failure');
        throw 'a string';
      },
    });
    const a = open();
    const b = open();
    a.events.message('reject', false);
    b.events.message('string', false);
    await settle();
    expect([a.closed!.code, b.closed!.code]).toEqual([1011, 1011]);
    expect(parseReason(a.closed!.reason).incident).not.toBe(parseReason(b.closed!.reason).incident);
    expect(server.recentIncidents().map((i) => i.summary)).toEqual(['async failure', 'a string']);
  });

  it("a CloseError is the client's mistake: its own code and reason, a retry hint if it has one, never an incident", async () => {
    const { server, open } = core({
      onMessage: (_c, data) => {
        if (data === 'policy') throw new PolicyViolationError('not allowed here');
        throw new CloseError(4001, 'come back later', { retry: { minMs: 100, maxMs: 200 } });
      },
    });
    const policy = open();
    const app = open();
    policy.events.message('policy', false);
    app.events.message('app', false);
    await settle();
    expect(policy.closed!.code).toBe(1008);
    expect(parseReason(policy.closed!.reason)).toEqual({ text: 'not allowed here' });
    expect(app.closed!.code).toBe(4001);
    expect(parseReason(app.closed!.reason)).toEqual({ text: 'come back later', retry: { minMs: 100, maxMs: 200 } });
    expect(server.stats().incidents).toBe(0);
    expect(server.recentIncidents()).toEqual([]);
  });

  it('a HandlerFailure keeps the incident id assigned where it happened, and logs its cause', async () => {
    const cause = new Error('the real failure');
    const { logger, open } = core({
      onMessage: () => {
        throw new HandlerFailure('inc_0123456789ab', cause);
      },
    });
    const socket = open();
    socket.events.message('x', false);
    await settle();
    expect(parseReason(socket.closed!.reason).incident).toBe('inc_0123456789ab');
    expect(logger.entries.find((e) => e.fields.incident === 'inc_0123456789ab')!.fields.err).toBe(cause);
  });

  it(`keeps the last ${RECENT_INCIDENTS} incidents, oldest out first`, async () => {
    const { server, open } = core({
      onMessage: (_c, data) => {
        throw new Error(String(data));
      },
    });
    for (let i = 0; i < RECENT_INCIDENTS + 10; i++) open().events.message(`failure ${i}`, false);
    await settle();
    const recent = server.recentIncidents();
    expect(recent).toHaveLength(RECENT_INCIDENTS);
    expect(recent[0]!.summary).toBe('failure 10');
    expect(recent.at(-1)!.summary).toBe(`failure ${RECENT_INCIDENTS + 9}`);
    expect(server.stats().incidents).toBe(RECENT_INCIDENTS + 10);
  });

  it("runs one connection's handlers one at a time, in arrival order, and other connections' meanwhile", async () => {
    const log: string[] = [];
    const gates = new Map<string, ReturnType<typeof gate>>();
    const { open } = core({
      onMessage: async (_c, data) => {
        log.push(`start ${String(data)}`);
        const g = gate();
        gates.set(String(data), g);
        await g.promise;
        log.push(`end ${String(data)}`);
      },
    });
    const a = open();
    const b = open();
    a.events.message('a1', false);
    a.events.message('a2', false);
    b.events.message('b1', false);
    await settle();
    expect(log).toEqual(['start a1', 'start b1']);
    gates.get('a1')!.open();
    await settle();
    expect(log).toEqual(['start a1', 'start b1', 'end a1', 'start a2']);
    gates.get('b1')!.open();
    gates.get('a2')!.open();
    await settle();
    expect(log.slice(4)).toEqual(['end b1', 'end a2']);
  });

  it('with nothing queued, a handler starts in the same turn as its message arrived', () => {
    const log: string[] = [];
    const { open } = core({ onMessage: (_c, data) => void log.push(String(data)) });
    const socket = open();
    socket.events.message('now', false);
    expect(log).toEqual(['now']);
  });

  it('work queued behind a handler that closed the connection is skipped; the close handler still runs', async () => {
    const log: string[] = [];
    const held = gate();
    const { open } = core({
      onMessage: async (connection, data) => {
        log.push(String(data));
        if (data !== 'bye') return;
        // Hold the chain, so that the next messages queue up behind this one.
        await held.promise;
        connection.close(4000, 'done');
      },
      onClose: () => void log.push('onClose'),
    });
    const socket = open();
    socket.events.message('bye', false);
    socket.events.message('after 1', false);
    socket.events.message('after 2', false);
    await settle();
    expect(log).toEqual(['bye']);
    held.open();
    await settle();
    expect(log).toEqual(['bye', 'onClose']);
    expect(socket.closed!.code).toBe(4000);
  });

  it('server.run goes through the boundary: a throw there is an incident like a handler failure', async () => {
    const { server, open } = core();
    const socket = open();
    const [connection] = server.connections;
    server.run(connection!, () => {
      throw new Error('background work failed');
    });
    await settle();
    expect(socket.closed!.code).toBe(1011);
    expect(server.recentIncidents()[0]).toMatchObject({ handler: 'message', summary: 'background work failed' });
  });

  it('a failing onConnection or onClose is an incident named after its handler', async () => {
    const { server, open } = core({
      onConnection: () => {
        throw new Error('on connection');
      },
      onClose: () => {
        throw new Error('on close');
      },
    });
    const socket = open();
    await settle();
    expect(socket.closed!.code).toBe(1011);
    expect(server.recentIncidents().map((i) => i.handler)).toEqual(['connection', 'close']);
  });
});
