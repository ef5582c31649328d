#!/usr/bin/env node
/**
 * Summarise a V8 CPU profile (`node --cpu-prof`, or `npm run bench -- <scenario> --profile`):
 * the functions with the most self time, and the lifeline source files with the most total time.
 *
 *   node bench/profile-top.mjs <file.cpuprofile> [--top 25]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({ options: { top: { type: 'string', default: '25' } }, allowPositionals: true });
if (positionals.length !== 1) {
  console.error('usage: node bench/profile-top.mjs <file.cpuprofile> [--top N]');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(positionals[0], 'utf8'));
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
for (let i = 0; i < profile.samples.length; i++) {
  const dt = profile.timeDeltas[i] ?? 0;
  self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + dt);
}
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const short = (url) => url.replace(/^file:\/\/.*?\/(node_modules|dist|bench)\//, '$1/').replace(/^node:/, 'node:');
const keyOf = (n) => `${n.callFrame.functionName || '(anonymous)'} ${short(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;

let total = 0;
const bySelf = new Map();
const byFileTotal = new Map();
for (const [id, us] of self) {
  total += us;
  const n = nodes.get(id);
  const key = keyOf(n);
  bySelf.set(key, (bySelf.get(key) ?? 0) + us);
  // Inclusive time per file: count each file once per stack.
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const url = short(nodes.get(cur).callFrame.url);
    if (!url || seen.has(url)) continue;
    seen.add(url);
    byFileTotal.set(url, (byFileTotal.get(url) ?? 0) + us);
  }
}
const top = Number(values.top);
const pct = (us) => `${((us / total) * 100).toFixed(1).padStart(5)}%`;
console.log(`${positionals[0]}: ${(total / 1e6).toFixed(2)} s sampled\n\nself time:`);
for (const [key, us] of [...bySelf].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(us)}  ${key}`);
console.log('\ntotal time by file:');
for (const [url, us] of [...byFileTotal].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(us)}  ${url}`);
