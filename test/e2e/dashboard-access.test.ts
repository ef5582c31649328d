/**
 * Who may see the dashboard of a real `lifeline serve`: with an admin token, only its holder (cookie
 * from `/?token=…`, checked again at the WebSocket handshake for `$lifeline.*` subscriptions); admin
 * POSTs refuse cross-site requests; without a token and without `--demo`, the dashboard is off.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import type { ServerFrame } from '../../src/protocol/index.js';
import { killAll, startServe, type ServeProcess } from '../support/serve-process.js';
import { connectV1 } from '../support/v1-peer.js';
import { closeAllPeers, connectPeer } from '../support/ws-peer.js';
import { launchBrowser, screenshot, until, watchErrors } from './support.js';

const TOKEN = 'e2e-admin-token-4b1d9c2f07';
let browser: Browser;
let guarded: ServeProcess;
let off: ServeProcess;
let cookie: string;

beforeAll(async () => {
  [browser, guarded, off] = await Promise.all([launchBrowser(), startServe(['--admin-token', TOKEN, '--drain-window', '300ms']), startServe([])]);
});

afterAll(async () => {
  closeAllPeers();
  await browser?.close();
  await killAll();
});

/** The console's read routes, each with a query that would answer with data for an admin. */
const CONSOLE_READS = ['connections', 'connection?id=c_x', 'channels', 'channel?name=news', 'incidents', 'incidents?id=inc_0123', 'series?window=1m'];
/** The console's admin POSTs. */
const CONSOLE_POSTS = ['/admin/disconnect', '/admin/publish', '/admin/logout'];

const base = (s: ServeProcess): string => `http://127.0.0.1:${s.port}`;
const get = (s: ServeProcess, path: string, headers: Record<string, string> = {}): Promise<Response> => fetch(`${base(s)}${path}`, { headers, redirect: 'manual' });
const post = (s: ServeProcess, path: string, headers: Record<string, string> = {}): Promise<Response> => fetch(`${base(s)}${path}`, { method: 'POST', headers, redirect: 'manual' });

/** Subscribe to a channel with a raw peer; resolves with the answer frame. */
async function trySubscribe(s: ServeProcess, channel: string, headers: Record<string, string> = {}): Promise<{ answer: ServerFrame; next: () => Promise<ServerFrame>; close: () => void }> {
  const peer = await connectV1(`ws://127.0.0.1:${s.port}/`, headers);
  peer.send({ t: 'hello', v: 1 });
  await peer.next((f) => f.t === 'welcome');
  peer.send({ t: 'sub', ch: channel });
  const answer = await peer.next((f) => f.t === 'subscribed' || f.t === 'error');
  return { answer, next: () => peer.next((f) => f.t === 'ev'), close: () => peer.ws.close() };
}

describe('dashboard access with an admin token', () => {
  it('exchanges the token for an HttpOnly SameSite=Strict cookie; a wrong or missing token is a 401 page', async () => {
    const missing = await get(guarded, '/');
    expect(missing.status).toBe(401);
    expect(await missing.text()).toContain('Admin token required');
    const wrong = await get(guarded, '/?token=not-the-token');
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain('Wrong admin token');
    expect((await get(guarded, '/_lifeline/info')).status).toBe(401);

    const login = await get(guarded, `/?token=${TOKEN}`);
    expect(login.status).toBe(303);
    expect(login.headers.get('location')).toBe('/');
    const setCookie = login.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    expect(setCookie).not.toContain(TOKEN); // the cookie proves the token; it is not the token
    cookie = setCookie.split(';')[0]!;

    const page = await get(guarded, '/', { cookie });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await page.text()).toContain('/_lifeline/app.js');
    expect(await (await get(guarded, '/_lifeline/info', { cookie })).json()).toMatchObject({ demo: false, access: 'token', statsChannel: '$lifeline.stats' });
    expect((await get(guarded, '/_lifeline/info', { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
    expect((await get(guarded, '/demo', { cookie })).status).toBe(404);
  });

  it('only admin connections may subscribe to $lifeline.stats; snapshots arrive every second', async () => {
    const anonymous = await trySubscribe(guarded, '$lifeline.stats');
    expect(anonymous.answer).toMatchObject({ t: 'error', code: 'FORBIDDEN', ref: '$lifeline.stats' });
    anonymous.close();
    const forged = await trySubscribe(guarded, '$lifeline.stats', { cookie: 'lifeline_admin=forged' });
    expect(forged.answer).toMatchObject({ t: 'error', code: 'FORBIDDEN' });
    forged.close();
    // Other channels are untouched.
    const other = await trySubscribe(guarded, 'news');
    expect(other.answer).toMatchObject({ t: 'subscribed', ch: 'news' });
    other.close();

    const admin = await trySubscribe(guarded, '$lifeline.stats', { cookie });
    expect(admin.answer).toMatchObject({ t: 'subscribed', ch: '$lifeline.stats' });
    const event = await admin.next();
    expect(event).toMatchObject({ t: 'ev', ch: '$lifeline.stats', data: { v: 1, stats: { open: expect.any(Number) } } });
    admin.close();
  });

  it('admin POSTs need the credential and the custom header, and refuse other origins', async () => {
    expect((await post(guarded, '/admin/restart', { cookie })).status).toBe(403); // no x-lifeline-admin: a cross-site form
    expect((await post(guarded, '/admin/restart', { 'x-lifeline-admin': '1' })).status).toBe(401);
    expect((await post(guarded, '/admin/restart', { cookie, 'x-lifeline-admin': '1', origin: 'https://evil.example' })).status).toBe(403);
    expect((await get(guarded, '/admin/restart', { cookie })).status).toBe(405);
    expect((await post(guarded, '/admin/crash', { cookie, 'x-lifeline-admin': '1' })).status).toBe(404); // demo only
    const restart = await post(guarded, '/admin/restart', { cookie, 'x-lifeline-admin': '1', origin: base(guarded) });
    expect(restart.status).toBe(202);
    await guarded.waitForLog((e) => e.msg === 'reload requested');
    await guarded.waitForLog((e) => e.msg === 'drain finished');
    expect((await get(guarded, '/healthz')).status).toBe(200);
  });

  it('in the browser: /?token= logs in, the page follows the stats over its lifeline connection', async () => {
    const page = await browser.newPage();
    const errors = watchErrors(page);
    await page.goto(`http://127.0.0.1:${guarded.port}/?token=${TOKEN}&lang=en`);
    expect(new URL(page.url()).search).toBe(''); // the token left the address bar
    await page.waitForSelector('#link[data-state="open"]');
    // Its own connection is the only one, and it is not counted.
    await page.waitForFunction(() => document.querySelector('#dashboards-note')?.textContent?.includes('1 dashboard'));
    expect(await page.textContent('#stat-open')).toBe('0');
    expect(await page.isHidden('#crash')).toBe(true); // not a demo
    await screenshot(page, 'dashboard-token');

    // Log out: the cookie is deleted and the page asks for the token again.
    expect(await page.isVisible('#logout')).toBe(true);
    await Promise.all([page.waitForURL(`http://127.0.0.1:${guarded.port}/`), page.click('#logout')]);
    await page.waitForSelector('body.notice');
    expect(await page.textContent('h1')).toBe('Admin token required');
    expect((await page.context().cookies()).filter((c) => c.name === 'lifeline_admin')).toEqual([]);
    expect(errors.filter((e) => !e.includes('401'))).toEqual([]); // the token page itself is a 401
    await page.close();
  });

  it('every console route and feed refuses whoever is not the admin, and serves the admin', async () => {
    for (const path of CONSOLE_READS) {
      for (const headers of [{}, { cookie: 'lifeline_admin=forged' }, { cookie: 'lifeline_admin=v2.99999999999.forged' }, { authorization: 'Bearer not-the-token-at-all' }] as Record<string, string>[]) {
        const res = await get(guarded, `/_lifeline/api/${path}`, headers);
        expect(res.status, `${path} ${JSON.stringify(headers)}`).toBe(401);
        const body = (await res.json()) as Record<string, unknown>;
        expect(Object.keys(body).sort(), path).toEqual(['error', 'message']); // nothing else: no rows, no counts
      }
      const admin = await get(guarded, `/_lifeline/api/${path}`, { cookie });
      expect([200, 404], path).toContain(admin.status); // 404: no such connection, said to the admin only
      expect((await get(guarded, `/_lifeline/api/${path}`, { authorization: `Bearer ${TOKEN}` })).status).toBe(admin.status);
      expect((await post(guarded, `/_lifeline/api/${path}`, { cookie })).status).toBe(405);
    }
    for (const path of CONSOLE_POSTS) {
      expect((await post(guarded, path, { cookie })).status, path).toBe(403); // no x-lifeline-admin: a cross-site form
      expect((await post(guarded, path, { 'x-lifeline-admin': '1' })).status, path).toBe(401);
      expect((await post(guarded, path, { cookie, 'x-lifeline-admin': '1', origin: 'https://evil.example' })).status, path).toBe(403);
      expect((await get(guarded, path, { cookie })).status, path).toBe(405);
    }
    // The incidents feed is the server's own channel: admins only.
    const anonymous = await trySubscribe(guarded, '$lifeline.incidents');
    expect(anonymous.answer).toMatchObject({ t: 'error', code: 'FORBIDDEN', ref: '$lifeline.incidents' });
    anonymous.close();
    const admin = await trySubscribe(guarded, '$lifeline.incidents', { cookie });
    expect(admin.answer).toMatchObject({ t: 'subscribed', ch: '$lifeline.incidents' });
    admin.close();

    // The admin's disconnect works with the token, from this origin.
    const peer = await connectPeer(`ws://127.0.0.1:${guarded.port}/guarded-peer`);
    const list = await until('the peer listed', async () => {
      const page = (await (await get(guarded, '/_lifeline/api/connections?q=guarded-peer', { cookie })).json()) as { rows: { id: string }[] };
      return page.rows[0];
    });
    const res = await fetch(`${base(guarded)}/admin/disconnect`, {
      method: 'POST',
      headers: { cookie, 'x-lifeline-admin': '1', origin: base(guarded), 'content-type': 'application/json' },
      body: JSON.stringify({ connection: list.id, code: 4401, reason: 'bye' }),
    });
    expect(res.status).toBe(200);
    expect(await peer.closed).toMatchObject({ code: 4401, reason: 'bye' });
  });
});

describe('dashboard without a token and without --demo', () => {
  it('is off: 403 with a clear message, and nobody reads $lifeline.*', async () => {
    for (const path of ['/', '/?token=x', '/_lifeline/app.js', '/_lifeline/info', ...CONSOLE_READS.map((p) => `/_lifeline/api/${p}`)]) {
      const res = await get(off, path);
      expect(res.status, path).toBe(403);
      expect(await res.text(), path).toContain('--admin-token');
    }
    for (const path of ['/admin/restart', ...CONSOLE_POSTS]) expect((await post(off, path, { 'x-lifeline-admin': '1' })).status, path).toBe(403);
    const peer = await trySubscribe(off, '$lifeline.stats');
    expect(peer.answer).toMatchObject({ t: 'error', code: 'FORBIDDEN' });
    peer.close();
    expect(off.child.exitCode).toBeNull();
  });
});
