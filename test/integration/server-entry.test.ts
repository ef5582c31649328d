/**
 * `lifeline/server` never loads prom-client: metrics are their own entry, `lifeline/server/metrics`.
 * Checked on the built package, through its exports map, in a fresh process: the CommonJS packages the
 * server loads (ws, pino, prom-client) are in that process's `require.cache` once loaded.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

const SCRIPT = `
import { createRequire } from 'node:module';
const loaded = (name) => Object.keys(createRequire(import.meta.url).cache).some((p) => p.includes('/node_modules/' + name + '/'));
const seen = {};
const { createServer } = await import('lifeline/server');
const { default: pino } = await import('pino');
const server = createServer({ logger: pino({ level: 'silent' }) });
await server.listen(0);
seen.server = { ws: loaded('ws'), promClient: loaded('prom-client') };
const { createMetrics } = await import('lifeline/server/metrics');
seen.metricsImported = { promClient: loaded('prom-client') };
createMetrics(server);
seen.metricsCreated = { promClient: loaded('prom-client') };
await server.shutdown();
process.stdout.write(JSON.stringify(seen));
`;

/** Every file of the built package that `entry` reaches through relative imports (static or dynamic). */
function moduleGraph(entry: string): Map<string, string> {
  const seen = new Map<string, string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    const text = readFileSync(file, 'utf8');
    seen.set(file, text);
    for (const m of text.matchAll(/(?:from|import\()\s*['"](\.{1,2}\/[^'"]+)['"]/g)) visit(join(dirname(file), m[1]!));
  };
  visit(entry);
  return seen;
}

describe('the lifeline/server entry', () => {
  it('reaches no module that loads prom-client; the metrics entry does', () => {
    // A call with the name as its first argument: require, requireOptional, import().
    const loadsPromClient = (text: string): boolean => /\(\s*['"]prom-client['"]/.test(text);
    const server = moduleGraph(join(root, 'dist/server/index.js'));
    expect(server.size).toBeGreaterThan(20);
    expect([...server].filter(([, text]) => loadsPromClient(text)).map(([file]) => relative(root, file))).toEqual([]);
    const metrics = moduleGraph(join(root, 'dist/server/metrics/index.js'));
    expect([...metrics].filter(([, text]) => loadsPromClient(text)).map(([file]) => relative(root, file))).toEqual(['dist/server/metrics/prometheus.js']);
  });

  it('runs a server without loading prom-client; lifeline/server/metrics loads it when metrics are made', async () => {
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['--input-type=module', '-e', SCRIPT], { cwd: root }, (error, stdout, stderr) => (error ? reject(new Error(stderr || error.message)) : resolve(stdout)));
    });
    expect(JSON.parse(out)).toEqual({
      // ws is loaded (so the cache is where these packages show), prom-client is not.
      server: { ws: true, promClient: false },
      // Importing the metrics entry does not load it either: only making metrics does.
      metricsImported: { promClient: false },
      metricsCreated: { promClient: true },
    });
  });
});
