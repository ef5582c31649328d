/**
 * lifeline inside the frameworks people use: each example in examples/frameworks/ runs as a process
 * and is checked over real sockets: lifeline's HTTP routes (health, POST /publish, metrics) through
 * the framework, the framework's own route, a lifeline.v1 session on the attached server, and a
 * SIGTERM drain.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createSession, type LifelineSession } from '../../src/client/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const KEY = 'frameworks-publish-key-0123456789';
const ADMIN = 'frameworks-admin-token-0123456789';
const children = new Set<ChildProcess>();
const sessions: LifelineSession[] = [];

afterEach(() => {
  for (const s of sessions.splice(0)) s.close();
  for (const c of children) c.kill('SIGKILL');
  children.clear();
});

async function start(example: string): Promise<{ child: ChildProcess; base: string }> {
  const child = spawn(process.execPath, [`examples/frameworks/${example}.mjs`, '0'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LIFELINE_PUBLISH_KEY: KEY, LIFELINE_ADMIN_TOKEN: ADMIN } });
  children.add(child);
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      const m = /listening on (\d+)/.exec(c.toString());
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`${example} exited ${code}: ${stderr}`)));
  });
  return { child, base: `127.0.0.1:${port}` };
}

function publish(base: string, body: unknown): Promise<Response> {
  return fetch(`http://${base}/publish`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

const EXAMPLES = [
  { name: 'node-http', path: '/live' },
  { name: 'express', path: '/' },
  { name: 'fastify', path: '/live' },
  { name: 'koa', path: '/live' },
  { name: 'hono', path: '/live' },
];

describe('examples/frameworks', () => {
  for (const { name, path } of EXAMPLES) {
    it(`${name}: health, publish, metrics and the app's own route through the framework; a session on ${path}; SIGTERM drains`, async () => {
      const { child, base } = await start(name);
      const health = await fetch(`http://${base}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ status: 'alive' });
      expect((await fetch(`http://${base}/readyz`)).status).toBe(200);
      const hello = await fetch(`http://${base}/hello`);
      expect(await hello.text()).toBe(`hello from ${name === 'node-http' ? 'node:http' : name}\n`);

      const session = createSession({ url: `ws://${base}${path}` });
      sessions.push(session);
      const received = new Promise<unknown>((resolve) => session.on('message', (m) => resolve(m.data)));
      const subscribed = new Promise<void>((resolve) => session.on('subscribed', () => resolve()));
      session.subscribe('news');
      await subscribed;
      const res = await publish(base, { channel: 'news', data: { title: name }, idempotencyKey: `${name}-1` });
      expect(res.status, await res.clone().text()).toBe(200);
      expect(await res.json()).toMatchObject({ channel: 'news', offset: 1, duplicate: false });
      expect(await received).toEqual({ title: name });

      const metrics = await fetch(`http://${base}/metrics`);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toContain('lifeline_connections_opened_total 1');

      const closed = new Promise<number>((resolve) => session.on('close', (c) => resolve(c.code)));
      child.kill('SIGTERM');
      expect(await closed).toBe(1012);
      const [code] = await once(child, 'exit');
      expect(code).toBe(0);
    });
  }

  it('node-http: another WebSocket endpoint on the same server keeps working beside lifeline', async () => {
    const { base } = await start('node-http');
    const echo = new WebSocket(`ws://${base}/echo`);
    await once(echo, 'open');
    echo.send('ping');
    const [reply] = await once(echo, 'message');
    expect(String(reply)).toBe('ping');
    // And lifeline still answers its own path.
    const session = createSession({ url: `ws://${base}/live` });
    sessions.push(session);
    await new Promise<void>((resolve) => session.on('welcome', () => resolve()));
    echo.close();
  });

  it('express: express.json() first does not break POST /publish, and the dashboard is mounted', async () => {
    const { base } = await start('express');
    const bad = await fetch(`http://${base}/publish`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: '{"channel": "news", "data": ' });
    expect(bad.status).toBe(400); // express.json() refused it first, as Express does
    const ok = await publish(base, { channel: 'news', data: 1 });
    expect(ok.status).toBe(200);
    const login = await fetch(`http://${base}/?token=${ADMIN}`, { redirect: 'manual' });
    expect(login.status).toBe(303);
    expect(login.headers.get('set-cookie')).toMatch(/HttpOnly/i);
  });
});
