/**
 * The process's own resources running out: a full data disk must make `/readyz` say so (and recover
 * by itself), and running out of file descriptors must be logged and counted, with new clients
 * accepted again once descriptors return.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { killAll, startServe } from '../support/serve-process.js';

const KEY = 'process-resources-publish-key';
const cleanups: (() => void)[] = [];
afterEach(async () => {
  await killAll();
  for (const c of cleanups.splice(0).reverse()) c();
});

/** A 4 MiB tmpfs to fill, or undefined (with the reason) where this machine cannot mount one. */
function smallDisk(): { dir: string } | { skip: string } {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-full-disk-'));
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir], { encoding: 'utf8' });
  if (mounted.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return { skip: `cannot mount a tmpfs here (${(mounted.stderr || mounted.error?.message || '').trim()})` };
  }
  cleanups.push(() => {
    spawnSync('umount', ['-l', dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir };
}

async function publish(port: number, i: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/publish`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ channel: 'fill', data: { i, pad: 'f'.repeat(16 * 1024) }, idempotencyKey: `fill-${i}` }),
  });
  await res.arrayBuffer();
  return res.status;
}

describe('the process running out', () => {
  it('a full data disk turns /readyz 503 and publishes into 503 store_unavailable; freeing space makes it ready again', async (context) => {
    const disk = smallDisk();
    if ('skip' in disk) {
      console.log(`skipped: ${disk.skip}`);
      context.skip();
      return;
    }
    // A filler to delete later, so there is something to free.
    writeFileSync(join(disk.dir, 'filler'), Buffer.alloc(1024 * 1024));
    const serve = await startServe(['--data-dir', join(disk.dir, 'data'), '--publish-key', KEY]);
    expect((await fetch(`http://127.0.0.1:${serve.port}/readyz`)).status).toBe(200);
    let status = 200;
    for (let i = 0; i < 1000 && status === 200; i++) status = await publish(serve.port, i);
    expect(status).toBe(503);
    const ready = await fetch(`http://127.0.0.1:${serve.port}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { status: string }).status).toBe('store-unavailable');
    rmSync(join(disk.dir, 'filler'));
    await expect.poll(async () => (await fetch(`http://127.0.0.1:${serve.port}/readyz`)).status, { timeout: 10_000 }).toBe(200);
    // Ready before its log line is read: the line comes through the process's stdout pipe.
    await expect.poll(() => serve.logs.some((e) => e.msg === 'store available again'), { timeout: 10_000 }).toBe(true);
  });

  it('out of file descriptors: accept failures are logged and counted, and clients are accepted again once descriptors return', async () => {
    // The CLI under prlimit: few enough descriptors that a few dozen connections use them all.
    const serve = await startServe(['--store', 'memory', '--publish-key', KEY], { wrap: ['prlimit', '--nofile=72:72', '--'] });
    const sockets: WebSocket[] = [];
    const attempts = await Promise.all(
      Array.from({ length: 90 }, async () => {
        const ws = new WebSocket(serve.url);
        sockets.push(ws);
        ws.on('error', () => {});
        return new Promise<boolean>((resolve) => {
          ws.once('open', () => resolve(true));
          ws.once('error', () => resolve(false));
          ws.once('close', () => resolve(false));
          setTimeout(() => resolve(false), 5000);
        });
      }),
    );
    expect(attempts.filter(Boolean).length).toBeLessThan(90);
    await expect.poll(() => serve.logs.some((e) => typeof e.msg === 'string' && e.msg.includes('out of file descriptors')), { timeout: 10_000 }).toBe(true);
    for (const ws of sockets) ws.terminate();
    await new Promise((r) => setTimeout(r, 500));
    const again = new WebSocket(serve.url);
    sockets.push(again);
    await new Promise<void>((resolve, reject) => {
      again.once('open', () => resolve());
      again.once('error', reject);
    });
    const metrics = await (await fetch(`http://127.0.0.1:${serve.port}/metrics`)).text();
    const failures = Number(/^lifeline_accept_errors_total (\d+)/m.exec(metrics)?.[1]);
    expect(failures).toBeGreaterThan(0);
    again.close();
  });
});
