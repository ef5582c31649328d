/**
 * Security of a real `lifeline serve`: the admin cookie from a page on another origin of the same
 * site, secrets in log lines, `/metrics` for anyone, and channel names that are also the names of
 * `Object.prototype` members.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ServerFrame, WelcomeFrame } from '../../src/protocol/index.js';
import { destroyRawPeers, rawConnect, textFrame, type RawPeer } from '../support/raw-socket.js';
import { killAll, startServe } from '../support/serve-process.js';
import { connectV1, type V1Peer } from '../support/v1-peer.js';

const ADMIN = 'admin-token-for-the-security-test';
const PUBLISH = 'publish-key-for-the-security-test';
const peers: V1Peer[] = [];
afterEach(async () => {
  for (const p of peers.splice(0)) p.ws.terminate();
  destroyRawPeers();
  await killAll();
});

/** The frames of a raw peer, decoded. */
function decoded(peer: RawPeer): ServerFrame[] {
  return peer.texts().map((t) => JSON.parse(t) as ServerFrame);
}

describe('security', () => {
  it('the admin cookie counts at the WebSocket handshake only from the dashboard\'s own origin', async () => {
    const serve = await startServe(['--admin-token', ADMIN, '--store', 'memory']);
    const login = await fetch(`http://127.0.0.1:${serve.port}/?token=${ADMIN}`, { redirect: 'manual' });
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    expect(cookie).toMatch(/=/);

    const attempt = async (origin: string): Promise<ServerFrame> => {
      const peer = await rawConnect(serve.port, { protocol: 'lifeline.v1', headers: { Origin: origin, Cookie: cookie } });
      expect(peer.status).toBe(101);
      peer.write([textFrame(JSON.stringify({ t: 'hello', v: 1 })), textFrame(JSON.stringify({ t: 'sub', ch: '$lifeline.stats' }))]);
      await peer.until(() => decoded(peer).some((f) => f.t === 'subscribed' || f.t === 'error'));
      return decoded(peer).find((f) => f.t === 'subscribed' || f.t === 'error')!;
    };
    // Another port of the same host: the same site, so the browser sends the SameSite=Strict cookie along.
    expect(await attempt('http://127.0.0.1:1')).toMatchObject({ t: 'error', code: 'FORBIDDEN', ref: '$lifeline.stats' });
    expect(await attempt(`http://127.0.0.1:${serve.port}`)).toMatchObject({ t: 'subscribed', ch: '$lifeline.stats' });
  });

  it('no log line carries the publish key, the admin token or a Redis password, across reloads', async () => {
    const password = 'redis-password-never-logged';
    const serve = await startServe(['--admin-token', ADMIN, '--publish-key', PUBLISH, '--drain-window', '100ms']);
    serve.kill('SIGHUP');
    await serve.waitForLog((e) => e.msg === 'configuration reloaded');
    serve.kill('SIGHUP');
    await serve.waitForLog((e) => e.msg === 'drain finished');
    const redisServe = await startServe(['--store', `redis://lifeline:${password}@127.0.0.1:6379`, '--publish-key', PUBLISH]).catch((e: unknown) => e);
    const text = JSON.stringify([serve.logs, typeof redisServe === 'object' && redisServe !== null && 'logs' in redisServe ? redisServe.logs : String(redisServe)]);
    expect(text).toContain('configuration reloaded');
    for (const secret of [ADMIN, PUBLISH, password]) expect(text).not.toContain(secret);
  });

  it('/metrics needs the admin token when there is one', async () => {
    const serve = await startServe(['--admin-token', ADMIN, '--store', 'memory']);
    const open = await fetch(`http://127.0.0.1:${serve.port}/metrics`);
    expect(open.status).toBe(401);
    const wrong = await fetch(`http://127.0.0.1:${serve.port}/metrics`, { headers: { authorization: 'Bearer not-the-token' } });
    expect(wrong.status).toBe(401);
    const ok = await fetch(`http://127.0.0.1:${serve.port}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('lifeline_connections_open');
  });

  it('channels named __proto__, constructor and toString resume like any other, and are reported lost like any other', async () => {
    const serve = await startServe(['--store', 'memory']);
    const names = ['__proto__', 'constructor', 'toString', 'hasOwnProperty'];
    const first = await connectV1(serve.url);
    peers.push(first);
    first.send({ t: 'hello', v: 1 });
    const welcome = await first.next<WelcomeFrame>((f) => f.t === 'welcome');
    for (const ch of names) first.send({ t: 'sub', ch });
    const positions: Record<string, { epoch: string; offset: number }> = Object.create(null);
    for (let i = 0; i < names.length; i++) {
      const f = await first.next((x) => x.t === 'subscribed');
      if (f.t === 'subscribed') positions[f.ch] = { epoch: f.epoch, offset: f.offset };
    }
    first.ws.close();
    await first.closed;
    // Written by hand: JSON.stringify would not spell a `__proto__` member.
    const channels = `{${names.map((n) => `"${n}":${JSON.stringify(positions[n])}`).join(',')}}`;

    const resumed = await connectV1(serve.url);
    peers.push(resumed);
    resumed.send(`{"t":"hello","v":1,"token":${JSON.stringify(welcome.token)},"channels":${channels}}`);
    const back = await resumed.next<WelcomeFrame>((f) => f.t === 'welcome');
    expect(back).toMatchObject({ resumed: true, recovered: true, lost: [] });
    const subscribed = [];
    for (let i = 0; i < names.length; i++) subscribed.push(await resumed.next((f) => f.t === 'subscribed'));
    expect(subscribed.map((f) => (f.t === 'subscribed' ? [f.ch, f.recovered] : [])).sort()).toEqual(names.map((n) => [n, true]).sort());

    const stranger = await connectV1(serve.url);
    peers.push(stranger);
    stranger.send(`{"t":"hello","v":1,"token":"not-a-token","channels":${channels}}`);
    const fresh = await stranger.next<WelcomeFrame>((f) => f.t === 'welcome');
    expect(fresh.resumed).toBe(false);
    expect([...fresh.lost].sort()).toEqual([...names].sort());
  });
});
