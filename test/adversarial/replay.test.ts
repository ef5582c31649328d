/**
 * Attacks on history replay, against a real `lifeline serve` process on a seeded sqlite store:
 * a resumed `hello` that asks for hundreds of megabytes of history on hundreds of channels, and
 * clients that ask a huge channel from offset 0 and never read. The server must stay small, answer
 * `/healthz` throughout, and keep serving a bystander.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSqliteStore } from '../../src/store/sqlite/index.js';
import { destroyRawPeers, rawConnect, textFrame } from '../support/raw-socket.js';
import { killAll, startServe, type ServeProcess } from '../support/serve-process.js';
import { bystander, peakRssMiB, publishMany, watchHealth } from './support.js';

const KEY = 'adversarial-replay-publish-key';
const CHANNELS = 250;
const PER_CHANNEL = 100;
const SMALL = 16 * 1024;
const BIG_COUNT = 600;
const BIG = 512 * 1024;
/** Generous: an unbounded server needs several times this (it reads every page it is asked for at once). */
const RSS_BOUND_MIB = 400;

let dir: string;
const epochs = new Map<string, string>();

beforeAll(async () => {
  // 390 MiB of small-message history on 250 channels and 300 MiB on one channel of big messages,
  // written with the store's own API, as a long-running deployment would have it.
  dir = mkdtempSync(join(tmpdir(), 'lifeline-adversarial-replay-'));
  const store = createSqliteStore({ path: join(dir, 'lifeline.db') });
  const pad = 'x'.repeat(SMALL);
  for (let c = 0; c < CHANNELS; c++) {
    for (let i = 0; i < PER_CHANNEL; i++) {
      const { message } = await store.append(`replay.${c}`, { i, pad });
      epochs.set(message.channel, message.epoch);
    }
  }
  const big = 'y'.repeat(BIG);
  for (let i = 0; i < BIG_COUNT; i++) {
    const { message } = await store.append('big', { i, big });
    epochs.set('big', message.epoch);
  }
  await store.close();
}, 120_000);

afterEach(() => {
  destroyRawPeers();
});
afterAll(async () => {
  await killAll();
  rmSync(dir, { recursive: true, force: true });
});

async function serve(): Promise<ServeProcess> {
  return startServe(['--data-dir', dir, '--publish-key', KEY]);
}

/** A `welcome` for a fresh session on a well-behaved connection, then that connection closes. */
async function freshToken(port: number): Promise<string> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`, 'lifeline.v1');
  const token = await new Promise<string>((resolve, reject) => {
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as { t: string; token?: string };
      if (frame.t === 'welcome') resolve(frame.token!);
    });
    ws.once('open', () => ws.send(JSON.stringify({ t: 'hello', v: 1 })));
    ws.once('error', reject);
  });
  ws.close();
  return token;
}

/** Scrape one sample of `/metrics`. */
async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1] ?? NaN);
}

describe('replay under attack', () => {
  it('resumed hellos asking for all 390 MiB of history on 250 channels, from two clients that never read', async () => {
    const server = await serve();
    const pid = server.pid;
    const health = watchHealth(server.port);
    const calm = await bystander(server.port, 'bystander');

    const channels = Object.fromEntries([...epochs].filter(([c]) => c.startsWith('replay.')).map(([c, epoch]) => [c, { epoch, offset: 0 }]));
    expect(Object.keys(channels)).toHaveLength(CHANNELS);
    for (let attacker = 0; attacker < 2; attacker++) {
      const token = await freshToken(server.port);
      const peer = await rawConnect(server.port, { protocol: 'lifeline.v1' });
      expect(peer.status).toBe(101);
      // About 23 KB of hello, then never read again.
      peer.write(textFrame(JSON.stringify({ t: 'hello', v: 1, token, channels })));
      peer.stopReading();
    }
    await new Promise((r) => setTimeout(r, 3000));
    await publishMany(server.port, KEY, 'bystander', 20);
    await expect.poll(() => calm.offsets.length, { timeout: 15_000 }).toBe(20);
    expect(calm.offsets).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(calm.closed()).toBe(false);

    // The server did start the replays (it sent history), and held them to its budget.
    expect(await metric(server.port, 'lifeline_replayed_messages_total')).toBeGreaterThan(0);
    expect(await metric(server.port, 'lifeline_replay_bytes_in_flight')).toBeLessThanOrEqual(await metric(server.port, 'lifeline_replay_budget_bytes') + BIG);
    const { failed, ok } = await health.stop();
    const peak = peakRssMiB(pid);
    console.log(`resumed-hello replay attack: peak RSS ${peak.toFixed(0)} MiB, /healthz ${ok} ok / ${failed} failed`);
    expect(failed).toBe(0);
    expect(ok).toBeGreaterThan(5);
    expect(peak).toBeLessThan(RSS_BOUND_MIB);
    calm.close();
  });

  it('eight clients subscribing from offset 0 to a channel of 600 x 512 KiB and never reading', async () => {
    const server = await serve();
    const pid = server.pid;
    const health = watchHealth(server.port);
    const calm = await bystander(server.port, 'bystander-2');
    for (let attacker = 0; attacker < 8; attacker++) {
      const peer = await rawConnect(server.port, { protocol: 'lifeline.v1' });
      peer.write([textFrame(JSON.stringify({ t: 'hello', v: 1 })), textFrame(JSON.stringify({ t: 'sub', ch: 'big', from: { epoch: epochs.get('big'), offset: 0 } }))]);
      peer.stopReading();
    }
    await new Promise((r) => setTimeout(r, 3000));
    await publishMany(server.port, KEY, 'bystander-2', 20);
    await expect.poll(() => calm.offsets.length, { timeout: 15_000 }).toBe(20);
    expect(calm.closed()).toBe(false);
    expect(await metric(server.port, 'lifeline_replayed_messages_total')).toBeGreaterThan(0);
    const { failed, ok } = await health.stop();
    const peak = peakRssMiB(pid);
    console.log(`big-channel replay attack: peak RSS ${peak.toFixed(0)} MiB, /healthz ${ok} ok / ${failed} failed`);
    expect(failed).toBe(0);
    expect(peak).toBeLessThan(RSS_BOUND_MIB);
    calm.close();
  });
});
