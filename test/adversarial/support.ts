/**
 * What the adversarial tier needs beside the shared kit: the peak memory of a server process (read
 * from the kernel, so no sampling can miss a spike), a bystander that must keep being served, and a
 * watch on `/healthz` that must answer throughout an attack.
 */
import { readFileSync } from 'node:fs';
import { WebSocket } from 'ws';

/** Peak resident memory of process `pid` so far (VmHWM), in MiB. */
export function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]);
  return kb / 1024;
}

/** Bytes process `pid` has caused to be written to storage so far (`write_bytes` of /proc/pid/io). */
export function bytesWritten(pid: number): number {
  return Number(/write_bytes:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1]);
}

/** Polls `GET /healthz` until stopped; every poll must answer 200 within `timeoutMs`. */
export function watchHealth(port: number, everyMs = 250, timeoutMs = 5000): { stop(): Promise<{ ok: number; failed: number }> } {
  let ok = 0;
  let failed = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(timeoutMs) });
        if (res.status === 200) ok += 1;
        else failed += 1;
        await res.arrayBuffer();
      } catch {
        failed += 1;
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { ok, failed };
    },
  };
}

/**
 * A well-behaved `lifeline.v1` client beside the attack: subscribed to `channel`, it records every
 * offset it receives. Its connection must stay open and every message published must reach it.
 */
export async function bystander(port: number, channel: string): Promise<{ offsets: number[]; closed: () => boolean; close(): void }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`, 'lifeline.v1');
  const offsets: number[] = [];
  let isClosed = false;
  ws.on('close', () => (isClosed = true));
  ws.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const subscribed = new Promise<void>((resolve) => {
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as { t: string; ch?: string; off?: number };
      if (frame.t === 'welcome') ws.send(JSON.stringify({ t: 'sub', ch: channel }));
      if (frame.t === 'subscribed') resolve();
      if (frame.t === 'ev' && frame.ch === channel) offsets.push(frame.off!);
    });
  });
  ws.send(JSON.stringify({ t: 'hello', v: 1 }));
  await subscribed;
  return { offsets, closed: () => isClosed, close: () => ws.close() };
}

/** `POST /publish` `count` messages to `channel`, one after another. */
export async function publishMany(port: number, key: string, channel: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const res = await fetch(`http://127.0.0.1:${port}/publish`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ channel, data: { i }, idempotencyKey: `${channel}-${i}` }),
    });
    if (res.status !== 200) throw new Error(`publish ${i} answered ${res.status}: ${await res.text()}`);
  }
}
