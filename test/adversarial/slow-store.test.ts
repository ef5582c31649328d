/**
 * A slow store must not turn into wrong answers: a publish whose write was sent but not confirmed is
 * never "not stored", a `msg` answered UNAVAILABLE runs on its resend, and input the store cannot
 * represent is the client's mistake, never an outage.
 */
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type LifelineServer } from '../../src/server/index.js';
import { createRedisStore } from '../../src/store/redis/index.js';
import { connectV1, type V1Peer } from '../support/v1-peer.js';
import { freePort } from '../support/ports.js';
import { PrivateRedis } from '../support/private-redis.js';
import { killAll, startServe } from '../support/serve-process.js';

const KEY = 'slow-store-test-publish-key';
let redis: PrivateRedis;
let admin: Redis;
const servers: LifelineServer[] = [];
const peers: V1Peer[] = [];

beforeAll(async () => {
  redis = new PrivateRedis(await freePort());
  await redis.start();
  admin = new Redis(redis.url);
});
afterEach(async () => {
  for (const p of peers.splice(0)) p.ws.terminate();
  await Promise.all(servers.splice(0).map((s) => s.shutdown()));
  await killAll();
});
afterAll(async () => {
  admin.disconnect();
  await redis.kill();
});

/**
 * Stall the private Redis for `seconds`: it answers no client meanwhile and runs what they sent once
 * it resumes (CLIENT PAUSE, the same as a `DEBUG SLEEP` from the clients' side). Resolves when it resumes.
 */
async function stall(seconds: number): Promise<void> {
  await admin.call('CLIENT', 'PAUSE', String(seconds * 1000), 'ALL');
  await new Promise((r) => setTimeout(r, seconds * 1000));
}

describe('a slow store', () => {
  it('an HTTP publish sent during a stall is answered "outcome unknown", never "not stored"; retrying its key gives the truth', async () => {
    const server = createServer({
      logger: pino({ level: 'silent' }),
      publishKey: KEY,
      store: createRedisStore({ url: redis.url, prefix: 'slow-http:', commandTimeoutMs: 1000 }),
    });
    servers.push(server);
    const { port } = await server.listen(0);
    await server.store.head('warm-up');
    const publish = (idempotencyKey?: string) =>
      fetch(`http://127.0.0.1:${port}/publish`, {
        method: 'POST',
        headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ channel: 'during-stall', data: { n: 1 }, ...(idempotencyKey ? { idempotencyKey } : {}) }),
      });
    const stalled = stall(3);
    await new Promise((r) => setTimeout(r, 200));
    const [withoutKey, withKey] = await Promise.all([publish(), publish('stall-1')]);
    for (const res of [withoutKey, withKey]) {
      const body = (await res.json()) as { error: string; message: string };
      expect(res.status).toBe(503);
      expect(body.error).toBe('outcome_unknown');
      expect(body.message).not.toMatch(/not stored/);
    }
    await stalled;
    // The retry the answer prescribes (same key) says what happened, and never stores it twice.
    let retry: Response | undefined;
    for (let attempt = 0; attempt < 40 && retry?.status !== 200; attempt++) {
      await new Promise((r) => setTimeout(r, 250));
      retry = await publish('stall-1');
    }
    expect(retry!.status).toBe(200);
    const { offset } = (await retry!.json()) as { offset: number };
    const head = await server.store.head('during-stall');
    const history = await server.store.read('during-stall', { epoch: head.epoch, offset: 0 }, 10);
    expect(history.messages.filter((m) => m.offset === offset)).toHaveLength(1);
    // At most: the keyless one (if Redis ran it after the stall) and the keyed one, once.
    expect(head.offset).toBeLessThanOrEqual(2);
    expect(server.stats().protocol.outcomeUnknown).toBe(2);
  });

  it('a msg answered UNAVAILABLE during a stall runs exactly once on its resend, after its claim lapses', async () => {
    let runs = 0;
    const server = createServer({
      logger: pino({ level: 'silent' }),
      store: createRedisStore({ url: redis.url, prefix: 'slow-msg:', commandTimeoutMs: 1000 }),
      claimLeaseMs: 500,
      onSessionMessage: () => {
        runs += 1;
      },
    });
    servers.push(server);
    const { port } = await server.listen(0);
    const peer = await connectV1(`ws://127.0.0.1:${port}/`);
    peers.push(peer);
    peer.send({ t: 'hello', v: 1, origin: 'slow-store-msg-client-01' });
    await peer.next((f) => f.t === 'welcome');
    const stalled = stall(3);
    await new Promise((r) => setTimeout(r, 200));
    peer.send({ t: 'msg', id: 1, data: 'once' });
    const first = await peer.next((f) => (f.t === 'error' && f.ref === 1) || ((f.t === 'ack' || f.t === 'reject') && f.id === 1), 10_000);
    expect(first).toMatchObject({ t: 'error', code: 'UNAVAILABLE', ref: 1 });
    await stalled;
    // The client's rule: keep it, resend after a backoff, until ack or reject.
    let answer;
    for (let attempt = 0; attempt < 40; attempt++) {
      await new Promise((r) => setTimeout(r, 250));
      peer.send({ t: 'msg', id: 1, data: 'once' });
      answer = await peer.next((f) => (f.t === 'error' && f.ref === 1) || ((f.t === 'ack' || f.t === 'reject') && f.id === 1), 10_000);
      if (answer.t !== 'error') break;
    }
    expect(answer).toEqual({ t: 'ack', id: 1 });
    expect(runs).toBe(1);
    // And the record holds: a further resend is acked without running again.
    peer.send({ t: 'msg', id: 1, data: 'once' });
    expect(await peer.next((f) => f.t === 'ack' && f.id === 1)).toEqual({ t: 'ack', id: 1 });
    expect(runs).toBe(1);
  });

  it('data nested deeper than JSON text can hold is the client\'s mistake: HTTP 400 and reject BAD_REQUEST, no outage, no error log', async () => {
    const serve = await startServe(['--demo', '--publish-key', KEY]);
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const res = await fetch(`http://127.0.0.1:${serve.port}/publish`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: `{"channel":"deep","data":${deep}}`,
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('bad_data');
    const peer = await connectV1(serve.url);
    peers.push(peer);
    peer.send({ t: 'hello', v: 1, origin: 'deep-json-publisher-0001' });
    await peer.next((f) => f.t === 'welcome');
    peer.ws.send(`{"t":"pub","id":1,"ch":"deep","data":${deep}}`);
    expect(await peer.next((f) => f.t === 'reject' || f.t === 'error')).toEqual({ t: 'reject', id: 1, code: 'BAD_REQUEST' });
    peer.ws.send(`{"t":"msg","id":2,"data":${deep}}`);
    expect(await peer.next((f) => (f.t === 'reject' || f.t === 'ack') && f.id === 2)).toEqual({ t: 'reject', id: 2, code: 'BAD_REQUEST' });
    // Still open, still ready, nothing logged as an error.
    peer.send({ t: 'ping', n: 7 });
    expect(await peer.next((f) => f.t === 'pong')).toEqual({ t: 'pong', n: 7 });
    expect((await fetch(`http://127.0.0.1:${serve.port}/readyz`)).status).toBe(200);
    expect(serve.logs.filter((e) => typeof e.level === 'number' && e.level >= 50)).toEqual([]);
  });
});
