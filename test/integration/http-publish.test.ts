/**
 * `POST /publish` and the HTTP plumbing around it, over real sockets to a real `createServer`: what a
 * client sending odd or hostile requests gets (authentication, idempotency keys, bytes that are not
 * UTF-8, bodies that never come, headers that trickle).
 */
import { connect, type Socket } from 'node:net';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { mountMetrics } from '../../src/cli/serve-metrics.js';
import { DashboardAccess } from '../../src/dashboard/server/access.js';
import type { ServerOptions } from '../../src/server/index.js';
import { createServer } from '../../src/server/index.js';
import { useKit } from '../support/kit.js';
import { connectPeer } from '../support/ws-peer.js';

const kit = useKit();
const KEY = 'k'.repeat(24);

async function start(options: ServerOptions = {}): Promise<number> {
  const { port } = await kit.start({ publishKey: KEY, ...options });
  return port;
}

/** A `POST /publish` with a JSON (or raw) body; the answer's status and parsed body. */
async function publish(port: number, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${port}/publish`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : body instanceof Uint8Array ? new Uint8Array(body) : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('HTTP publish: authentication', () => {
  it('takes the Bearer scheme in any case (RFC 7235: auth schemes are case-insensitive)', async () => {
    const port = await start();
    for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
      expect((await publish(port, { channel: 'c', data: scheme }, { authorization: `${scheme} ${KEY}` })).status).toBe(200);
    }
    // Another scheme, or the key without one, is still refused.
    expect((await publish(port, { channel: 'c', data: 1 }, { authorization: `Basic ${KEY}` })).status).toBe(401);
    expect((await publish(port, { channel: 'c', data: 1 }, { authorization: KEY })).status).toBe(401);
    expect((await publish(port, { channel: 'c', data: 1 }, { authorization: `bearer ${KEY}x` })).status).toBe(401);
  });

  it('the admin token is taken in any case of the scheme too (/metrics, the dashboard)', async () => {
    const { server, port } = await kit.start();
    const admin = 'a'.repeat(32);
    await mountMetrics(server, pino({ level: 'silent' }), { adminToken: admin });
    const metrics = (authorization: string) => fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization } }).then(async (r) => (await r.text(), r.status));
    expect(await metrics(`bearer ${admin}`)).toBe(200);
    expect(await metrics(`Bearer ${admin}`)).toBe(200);
    expect(await metrics(`bearer ${admin}x`)).toBe(401);
    const access = new DashboardAccess({ demo: false, adminToken: admin });
    expect(access.isAdmin({ authorization: `bearer ${admin}` })).toBe(true);
    expect(access.isAdmin({ authorization: `BEARER ${admin}` })).toBe(true);
    expect(access.isAdmin({ authorization: `Basic ${admin}` })).toBe(false);
  });
});

describe('HTTP publish: idempotency keys', () => {
  it('counts a key in code points: 200 emoji are a valid key, 201 are not (body and header alike)', async () => {
    const port = await start();
    // 101 emoji are 202 UTF-16 units but 101 characters: well within the limit.
    for (const key of ['😀'.repeat(101), '😀'.repeat(200), 'a'.repeat(200)]) {
      const first = await publish(port, { channel: 'c', data: key.length, idempotencyKey: key });
      expect(first.status).toBe(200);
      // The same key again is the same message: the key was taken whole, not cut.
      expect((await publish(port, { channel: 'c', data: key.length, idempotencyKey: key })).body).toMatchObject({ duplicate: true, offset: first.body.offset });
    }
    for (const key of ['😀'.repeat(201), 'a'.repeat(201)]) {
      expect((await publish(port, { channel: 'c', data: 1, idempotencyKey: key })).body.error).toBe('bad_idempotency_key');
    }
    // In the header (UTF-8 bytes), the same count: 200 emoji pass, 201 do not.
    const header = (key: string) => Buffer.from(key, 'utf8').toString('latin1');
    expect((await publish(port, { channel: 'c', data: 'h' }, { 'idempotency-key': header('😃'.repeat(200)) })).status).toBe(200);
    expect((await publish(port, { channel: 'c', data: 'h' }, { 'idempotency-key': header('😃'.repeat(201)) })).body.error).toBe('bad_idempotency_key');
    // A key sent in the header is the same key as in the body.
    const viaBody = await publish(port, { channel: 'c', data: 'same', idempotencyKey: 'clé-😀' });
    expect((await publish(port, { channel: 'c', data: 'same' }, { 'idempotency-key': header('clé-😀') })).body).toMatchObject({ duplicate: true, offset: viaBody.body.offset });
  });

  it('a key that is present but not a 1-200 character string is refused 400, never taken as no key', async () => {
    const port = await start();
    for (const idempotencyKey of [null, 5, '', true, ['k'], { k: 1 }, 'k'.repeat(201)]) {
      const answer = await publish(port, { channel: 'c', data: 1, idempotencyKey });
      expect(answer.status, JSON.stringify(idempotencyKey)).toBe(400);
      expect(answer.body.error).toBe('bad_idempotency_key');
    }
    // null is refused with a good header key too: the body's key is what is wrong.
    expect((await publish(port, { channel: 'c', data: 1, idempotencyKey: null }, { 'idempotency-key': 'good' })).status).toBe(400);
    expect((await publish(port, { channel: 'c', data: 1 }, { 'idempotency-key': '' })).body.error).toBe('bad_idempotency_key');
    // Nothing was stored by any of them.
    const next = await publish(port, { channel: 'c', data: 'first' });
    expect(next.body.offset).toBe(1);
  });

  it('a body key and a header key that differ are refused 400; the same key in both is one key', async () => {
    const port = await start();
    const differ = await publish(port, { channel: 'c', data: 1, idempotencyKey: 'a' }, { 'idempotency-key': 'b' });
    expect(differ.status).toBe(400);
    expect(differ.body.error).toBe('bad_idempotency_key');
    const both = await publish(port, { channel: 'c', data: 1, idempotencyKey: 'a' }, { 'idempotency-key': 'a' });
    expect(both.body).toMatchObject({ offset: 1, duplicate: false });
    expect((await publish(port, { channel: 'c', data: 1 }, { 'idempotency-key': 'a' })).body).toMatchObject({ offset: 1, duplicate: true });
  });
});

describe('HTTP publish: body encoding', () => {
  it('a body that is not valid UTF-8 is refused 400 bad_json, nothing stored (it was stored with U+FFFD)', async () => {
    const { server, port } = await kit.start({ publishKey: KEY });
    const broken = Buffer.concat([Buffer.from('{"channel":"c","data":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    const answer = await publish(port, broken);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: 'bad_json', message: 'body is not valid UTF-8' });
    // A lone continuation byte and a truncated sequence alike.
    expect((await publish(port, Buffer.from([0x7b, 0x80, 0x7d]))).body.error).toBe('bad_json');
    expect((await publish(port, Buffer.concat([Buffer.from('{"channel":"c","data":"'), Buffer.from([0xe2, 0x82]), Buffer.from('"}')]))).body.error).toBe('bad_json');
    // Well-formed UTF-8 beyond ASCII is stored as sent.
    const fine = await publish(port, Buffer.from('{"channel":"c","data":"héllo 😀"}', 'utf8'));
    expect(fine.body).toMatchObject({ offset: 1 });
    const read = await server.store.read('c', { epoch: fine.body.epoch as string, offset: 0 }, 10);
    expect(read.messages.map((m) => m.data)).toEqual(['héllo 😀']);
  });
});

/** A raw HTTP client: what the server wrote, and whether it closed the connection. */
interface RawClient {
  readonly socket: Socket;
  /** Everything the server sent so far, as latin1 text. */
  readonly received: () => string;
  /** Resolves with what the server sent once it closed the connection, or 'still open' after `boundMs`. */
  readonly closed: (boundMs: number) => Promise<string | 'still open'>;
  /** Resolves once the server sent something. */
  readonly answered: () => Promise<string>;
}


function raw(port: number): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    kit.defer(() => socket.destroy());
    let text = '';
    let ended = false;
    const waiters: (() => void)[] = [];
    const wake = () => {
      for (const w of waiters.splice(0)) w();
    };
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      wake();
    });
    // A reset after the answer is also the server closing; the answer was read before it.
    socket.on('error', () => {});
    socket.on('close', () => {
      ended = true;
      wake();
    });
    socket.once('connect', () =>
      resolve({
        socket,
        received: () => text,
        closed: (boundMs) =>
          new Promise((done) => {
            const timer = setTimeout(() => done('still open'), boundMs);
            const check = () => {
              if (ended) {
                clearTimeout(timer);
                done(text);
              } else waiters.push(check);
            };
            check();
          }),
        answered: () =>
          new Promise((done) => {
            const check = () => (text !== '' || ended ? done(text) : waiters.push(check));
            check();
          }),
      }),
    );
    socket.once('error', reject);
  });
}

/** Generous: the server closes these at once; only a server that keeps the socket (minutes) reaches it. */
const BOUND_MS = 5000;

describe('HTTP: early answers close the connection', () => {
  it('a 401 to a POST whose chunked body trickles forever closes the socket instead of reading on', async () => {
    const port = await start();
    const client = await raw(port);
    client.socket.write('POST /publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{\r\n');
    const answer = await client.answered();
    expect(answer).toMatch(/^HTTP\/1\.1 401 /);
    expect(answer.toLowerCase()).toContain('connection: close');
    // The client could go on sending the body for ever; the server has closed instead.
    expect(client.socket.writable).toBe(true);
    const closed = await client.closed(BOUND_MS);
    expect(closed).not.toBe('still open');
  });

  it('a declared Content-Length over the limit is refused 413 at once, before any body byte, and closed', async () => {
    const port = await start();
    const client = await raw(port);
    client.socket.write(`POST /publish HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\nContent-Type: application/json\r\nContent-Length: ${10 << 20}\r\n\r\n`);
    const closed = await client.closed(BOUND_MS);
    expect(closed).toMatch(/^HTTP\/1\.1 413 /);
    expect(closed).toContain('"error":"too_large"');
    expect(closed.toLowerCase()).toContain('connection: close');
  });

  it('a chunked body that grows over the limit is answered 413 (not a reset) and closed', async () => {
    const port = await start({ maxPayload: 1024 });
    const client = await raw(port);
    client.socket.write(`POST /publish HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n${'a'.repeat(0x800)}\r\n`);
    const closed = await client.closed(BOUND_MS);
    expect(closed).toMatch(/^HTTP\/1\.1 413 /);
  });

  it('a 403 (publishing off) closes too; answers after a whole body keep the connection', async () => {
    const { port } = await kit.start();
    const off = await raw(port);
    off.socket.write('POST /publish HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{');
    const closed = await off.closed(BOUND_MS);
    expect(closed).toMatch(/^HTTP\/1\.1 403 /);
    const port2 = await start();
    const kept = await raw(port2);
    const body = '{"channel":"c"}';
    kept.socket.write(`POST /publish HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    expect(await kept.answered()).toMatch(/^HTTP\/1\.1 400 [^]*keep-alive/i);
  });
});

describe('HTTP: headers and request timeouts', () => {
  it('an upgrade whose headers trickle past headersTimeoutMs gets 408 and is closed', async () => {
    const port = await start({ headersTimeoutMs: 200, requestTimeoutMs: 400 });
    const client = await raw(port);
    client.socket.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n');
    let i = 0;
    const trickle = setInterval(() => client.socket.writable && client.socket.write(`X-Slow-${i++}: a\r\n`), 50);
    const closed = await client.closed(BOUND_MS);
    clearInterval(trickle);
    expect(closed).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('an authorised publish whose body trickles past requestTimeoutMs gets 408 and is closed', async () => {
    const port = await start({ headersTimeoutMs: 200, requestTimeoutMs: 400 });
    const client = await raw(port);
    client.socket.write(`POST /publish HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{\r\n`);
    const trickle = setInterval(() => client.socket.writable && client.socket.write('1\r\n \r\n'), 50);
    const closed = await client.closed(BOUND_MS);
    clearInterval(trickle);
    expect(closed).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('an upgraded WebSocket is not subject to the request timeout', async () => {
    const { url } = await kit.start({ headersTimeoutMs: 100, requestTimeoutMs: 200, onMessage: (c, d) => c.send(d) });
    const peer = await connectPeer(url);
    // Well past both timeouts and many of Node's checks (every 25 ms here).
    await new Promise((r) => setTimeout(r, 1000));
    expect(await peer.request('still here')).toBe('still here');
  });

  it('the options are checked: integers >= 0, headersTimeoutMs <= requestTimeoutMs', () => {
    expect(() => createServer({ logger: pino({ level: 'silent' }), headersTimeoutMs: 500, requestTimeoutMs: 400 })).toThrow(RangeError);
    expect(() => createServer({ logger: pino({ level: 'silent' }), headersTimeoutMs: -1 })).toThrow(RangeError);
    expect(() => createServer({ logger: pino({ level: 'silent' }), requestTimeoutMs: 1.5 })).toThrow(RangeError);
    // 0 turns a timeout off.
    expect(() => createServer({ logger: pino({ level: 'silent' }), headersTimeoutMs: 500, requestTimeoutMs: 0 })).not.toThrow();
  });
});
