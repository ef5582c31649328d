/**
 * `POST /publish` and the HTTP plumbing around it, over real sockets to a real `createServer`: what a
 * client sending odd or hostile requests gets (authentication, idempotency keys, bytes that are not
 * UTF-8, bodies that never come, headers that trickle).
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { mountMetrics } from '../../src/cli/serve-metrics.js';
import { DashboardAccess } from '../../src/dashboard/server/access.js';
import type { ServerOptions } from '../../src/server/index.js';
import { useKit } from '../support/kit.js';

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
