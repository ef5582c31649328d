/**
 * The cost of durability `replicas` (issue 16): the Redis store's appends acknowledged by the primary
 * alone (`primary`, the default) against appends acknowledged once one replica has them (`replicas`:
 * WAIT, one per batch, on the store's append connection). Each run starts its own private primary and
 * replica (append-only files, fsync every second) and measures, in this process, through the store:
 * - sequential: one append at a time (a publisher that waits for each acknowledgement), latency p50/p99;
 * - concurrent: `concurrency` publishers for `windowMs`, appends acknowledged per second and their latency.
 * The ratio of `replicas` to `primary` in the same run is the cost. Rounds alternate the order.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from '../lib/context.mjs';
import { redisMissing, startReplicated } from '../lib/redis.mjs';
import { Histogram, monoMs, round } from '../lib/stats.mjs';

export const name = 'durability';

export const modes = {
  full: { sequential: 5000, concurrency: 64, windowMs: 10_000, warm: 500, rounds: 2 },
  quick: { sequential: 2000, concurrency: 64, windowMs: 5000, warm: 300, rounds: 2 },
  smoke: { sequential: 50, concurrency: 4, windowMs: 300, warm: 10, rounds: 1 },
};

export const implementations = [
  { id: 'primary', label: 'durability primary (acknowledged by the Redis primary)', durability: 'primary' },
  { id: 'replicas', label: 'durability replicas (acknowledged once 1 replica has it: WAIT)', durability: 'replicas' },
];

const payload = { text: 'x'.repeat(100) };

export async function run(impl, params) {
  const missing = redisMissing();
  if (missing) return { skipped: missing, params };
  const { createRedisStore } = await import(pathToFileURL(join(ROOT, 'dist', 'store', 'redis', 'index.js')).href);
  const redis = await startReplicated(1);
  const store = createRedisStore({ url: redis.url, prefix: 'bench:', durability: impl.durability, replicas: 1 });
  try {
    for (let i = 0; i < params.warm; i++) await store.append(`warm${i % 8}`, payload);
    const sequential = new Histogram();
    const t0 = monoMs();
    for (let i = 0; i < params.sequential; i++) {
      const t = monoMs();
      await store.append(`seq${i % 8}`, payload);
      sequential.record(monoMs() - t);
    }
    const sequentialSeconds = (monoMs() - t0) / 1000;
    const loaded = new Histogram();
    let done = 0;
    const until = monoMs() + params.windowMs;
    const started = monoMs();
    await Promise.all(
      Array.from({ length: params.concurrency }, async (_, p) => {
        for (let i = 0; monoMs() < until; i++) {
          const t = monoMs();
          await store.append(`ch${(p + i) % 32}`, payload);
          loaded.record(monoMs() - t);
          done++;
        }
      }),
    );
    const seconds = (monoMs() - started) / 1000;
    const stats = store.durabilityStats();
    return {
      params,
      sequential: { appendsPerSec: round(params.sequential / sequentialSeconds, 0), latencyMs: sequential.summary() },
      concurrent: { appendsPerSec: round(done / seconds, 0), latencyMs: loaded.summary() },
      replicationShort: stats.replicationShort,
      // Histograms for `combine`; the runner drops `raw` before writing the result.
      raw: { sequential, concurrent: loaded },
    };
  } finally {
    await store.close();
    await redis.stop();
  }
}

/** Rounds combined: latencies merged, throughputs averaged. */
export function combine(rounds) {
  if (rounds.some((r) => r.skipped)) return rounds[0];
  const merged = (key) => {
    const h = new Histogram();
    for (const r of rounds) h.merge(r.raw[key]);
    return { appendsPerSec: round(rounds.reduce((s, r) => s + r[key].appendsPerSec, 0) / rounds.length, 0), latencyMs: h.summary() };
  };
  return { params: rounds[0].params, sequential: merged('sequential'), concurrent: merged('concurrent'), replicationShort: rounds.reduce((s, r) => s + r.replicationShort, 0) };
}
