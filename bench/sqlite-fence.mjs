#!/usr/bin/env node
/**
 * What the SQLite engine's rollback fence costs an append: appends per second on one file without the
 * fence, with it (`fenceSynchronous` normal, the default), with the fence fsynced on every append
 * (`fenceSynchronous: 'full'`), and `synchronous: 'full'` without and with the fence for comparison, in
 * one run, interleaved in rounds so a busy machine weighs on each alike. Uses the built package
 * (`npm run build` first).
 *
 *   node bench/sqlite-fence.mjs [appends per round, default 5000] [rounds, default 3] [channels, default 100]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSqliteStore } from '../dist/store/sqlite/index.js';

const perRound = Number(process.argv[2] ?? 5000);
const rounds = Number(process.argv[3] ?? 3);
const channels = Number(process.argv[4] ?? 100);
const dir = mkdtempSync(join(tmpdir(), 'lifeline-fence-bench-'));

const variants = {
  'no fence': { fence: false },
  'fence (normal)': { fence: true, fenceSynchronous: 'normal' },
  'fence (full: fsync per append)': { fence: true, fenceSynchronous: 'full' },
  // For comparison: what `synchronous: 'full'` costs (no loss to a power loss at all), with its fence.
  'synchronous full, no fence': { synchronous: 'full', fence: false },
  'synchronous full, fence (normal)': { synchronous: 'full', fence: true },
};
const totals = Object.fromEntries(Object.keys(variants).map((k) => [k, { appends: 0, ms: 0 }]));
const data = { text: 'x'.repeat(200) };

try {
  for (let round = 0; round < rounds; round++) {
    for (const [name, options] of Object.entries(variants)) {
      const path = join(dir, `${name.replace(/\W+/g, '-')}-${round}.db`);
      const store = createSqliteStore({ path, ...options });
      // A few appends first, so each channel exists (its first append creates the rows) before timing.
      for (let c = 0; c < channels; c++) await store.append(`ch-${c}`, data);
      const start = process.hrtime.bigint();
      for (let i = 0; i < perRound; i++) await store.append(`ch-${i % channels}`, data);
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      await store.close();
      totals[name].appends += perRound;
      totals[name].ms += ms;
    }
  }
  const rate = (name) => (totals[name].appends / totals[name].ms) * 1000;
  const base = rate('no fence');
  console.log(`sqlite appends/s, one process, ${rounds} rounds of ${perRound} appends over ${channels} channels, 200-byte data (synchronous normal unless said):`);
  for (const name of Object.keys(variants)) {
    console.log(`  ${name.padEnd(32)} ${rate(name).toFixed(0).padStart(8)}/s   ratio to no fence ${(rate(name) / base).toFixed(2)}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
