/**
 * No inbound backpressure was the way to kill a library server: one client sending 1 MiB messages as
 * fast as it can to a handler that takes 20 ms. The server must stop reading from that socket (TCP
 * then pushes back on the sender) instead of queueing without bound, and keep serving a bystander.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { WebSocket } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { peakRssMiB, watchHealth } from './support.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/slow-handler-server.mjs', import.meta.url));
const DIST = fileURLToPath(new URL('../../dist/', import.meta.url));
/** Generous: the unbounded server queued 4.2 GB in 16 s. */
const RSS_BOUND_MIB = 400;
const ATTACK_MS = 6000;

const children = new Set<ChildProcess>();
afterEach(() => {
  for (const c of children) c.kill('SIGKILL');
  children.clear();
});

async function startFixture(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [FIXTURE, DIST], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  for await (const line of createInterface({ input: child.stdout! })) {
    const m = /^listening (\d+)$/.exec(line);
    if (m) return { child, port: Number(m[1]) };
  }
  throw new Error('fixture exited before listening');
}

async function open(url: string, protocol?: string): Promise<WebSocket> {
  const ws = new WebSocket(url, protocol);
  ws.on('error', () => {});
  await once(ws, 'open');
  return ws;
}

/** Send `payload` as fast as TCP takes it, for `ms`; the sender's own buffer is kept small so only the server can be the one queueing. */
async function flood(ws: WebSocket, payload: () => string, ms: number): Promise<number> {
  const end = Date.now() + ms;
  let sent = 0;
  while (Date.now() < end && ws.readyState === WebSocket.OPEN) {
    if (ws.bufferedAmount < 8 * 1024 * 1024) {
      ws.send(payload());
      sent += 1;
    } else await new Promise((r) => setTimeout(r, 5));
  }
  return sent;
}

async function scrape(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return Number(text.split('\n').find((l) => l.startsWith(`${name} `))?.split(' ')[1] ?? NaN);
}

describe('inbound backpressure', () => {
  for (const protocol of ['plain', 'lifeline.v1'] as const) {
    it(`a ${protocol} client flooding 1 MiB messages at a 20 ms handler: the server pauses the socket and stays small`, async () => {
      const { child, port } = await startFixture();
      const url = `ws://127.0.0.1:${port}/`;
      const health = watchHealth(port);
      const calm = await open(url);
      const attacker = await open(url, protocol === 'plain' ? undefined : 'lifeline.v1');
      const body = 'z'.repeat(1024 * 1024 - 200);
      let id = 0;
      if (protocol === 'lifeline.v1') attacker.send(JSON.stringify({ t: 'hello', v: 1 }));
      const payload = protocol === 'plain' ? () => body : () => JSON.stringify({ t: 'msg', id: ++id, data: body });
      const flooding = flood(attacker, payload, ATTACK_MS);

      // The bystander is answered while the flood goes on.
      await new Promise((r) => setTimeout(r, ATTACK_MS / 2));
      const echoed = new Promise<string>((resolve) => calm.once('message', (d) => resolve(String(d))));
      calm.send('echo');
      expect(await echoed).toBe('echo');

      const sent = await flooding;
      expect(await scrape(port, 'lifeline_inbound_pauses_total')).toBeGreaterThan(0);
      const { failed } = await health.stop();
      const peak = peakRssMiB(child.pid!);
      console.log(`${protocol} inbound flood: ${sent} MiB offered in ${ATTACK_MS} ms, peak RSS ${peak.toFixed(0)} MiB, /healthz failures ${failed}`);
      expect(failed).toBe(0);
      expect(peak).toBeLessThan(RSS_BOUND_MIB);
      // The attacker is slowed, not dropped: it is still connected and its messages are still handled.
      expect(attacker.readyState).toBe(WebSocket.OPEN);
      attacker.terminate();
      calm.close();
    });
  }
});
