#!/usr/bin/env node
/**
 * Summarise a V8 heap snapshot (`npm run bench -- idle --heap-snapshot`): objects grouped by type and
 * constructor name, with count and self size, largest first. With `--per N`, sizes are also divided
 * by N (the number of connections) to read as bytes per connection.
 *
 *   node bench/heap-top.mjs <file.heapsnapshot> [--top 30] [--per 10000]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({ options: { top: { type: 'string', default: '30' }, per: { type: 'string' } }, allowPositionals: true });
if (positionals.length !== 1) {
  console.error('usage: node bench/heap-top.mjs <file.heapsnapshot> [--top N] [--per CONNECTIONS]');
  process.exit(2);
}
const snapshot = JSON.parse(readFileSync(positionals[0], 'utf8'));
const fields = snapshot.snapshot.meta.node_fields;
const types = snapshot.snapshot.meta.node_types[0];
const width = fields.length;
const iType = fields.indexOf('type');
const iName = fields.indexOf('name');
const iSize = fields.indexOf('self_size');
const groups = new Map();
let total = 0;
for (let i = 0; i < snapshot.nodes.length; i += width) {
  const type = types[snapshot.nodes[i + iType]];
  let name = snapshot.strings[snapshot.nodes[i + iName]];
  if (type === 'string' || type === 'concatenated string' || type === 'sliced string') name = '(string)';
  else if (type === 'number') name = '(heap number)';
  else if (name.length > 60) name = `${name.slice(0, 57)}...`;
  const key = `${type} ${name}`;
  const size = snapshot.nodes[i + iSize];
  total += size;
  const g = groups.get(key) ?? { count: 0, size: 0 };
  g.count += 1;
  g.size += size;
  groups.set(key, g);
}
const per = values.per ? Number(values.per) : undefined;
console.log(`${positionals[0]}: ${(total / 2 ** 20).toFixed(1)} MiB in ${groups.size} groups${per ? `; per connection over ${per}` : ''}\n`);
console.log(`${'self bytes'.padStart(12)} ${'count'.padStart(9)}${per ? `${'B/conn'.padStart(9)}${'n/conn'.padStart(8)}` : ''}  type name`);
for (const [key, g] of [...groups].sort((a, b) => b[1].size - a[1].size).slice(0, Number(values.top))) {
  const extra = per ? `${(g.size / per).toFixed(0).padStart(9)}${(g.count / per).toFixed(2).padStart(8)}` : '';
  console.log(`${String(g.size).padStart(12)} ${String(g.count).padStart(9)}${extra}  ${key}`);
}
