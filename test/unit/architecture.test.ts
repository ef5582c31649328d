import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Static and dynamic import specifiers of a source file. */
function importsOf(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  const specs = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/g), ...text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)];
  return specs.map((m) => m[1]!);
}

/** What {@link loadsOf} reports for a module loaded by a name it cannot read. */
const COMPUTED = '<computed>';

/**
 * Modules a source file loads outside its import declarations: `import('x')`, `typeof import('x')`,
 * `require('x')`, `requireOptional('x', ...)`, `createRequire(...)('x')` (any call whose first argument
 * is the name), and `import(name)` where `const name = 'x'` in the same file. An `import(...)` of
 * anything else is {@link COMPUTED}.
 */
function loadsOf(path: string): string[] {
  const text = readFileSync(path, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
  const calls = [...text.matchAll(/\(\s*['"]([^'"]+)['"]/g)].map((m) => m[1]!).filter((spec) => !spec.includes(' '));
  const dynamic = [...text.matchAll(/\bimport\(\s*([^'"\s)][^)]*)\)/g)].map((m) => {
    const name = m[1]!.trim();
    const bound = new RegExp(`\\b(?:const|let)\\s+${name.replace(/[^\w$]/g, '')}\\s*=\\s*['"]([^'"]+)['"]`).exec(text);
    return /^[\w$]+$/.test(name) && bound ? bound[1]! : COMPUTED;
  });
  return [...calls, ...dynamic];
}

function layerOf(path: string): string {
  return relative(SRC, path).split('/')[0]!.replace(/\.(ts|js)$/, '');
}

describe('dependencies point inward', () => {
  const all = files(SRC);

  it('finds the source files', () => {
    expect(all.length).toBeGreaterThan(10);
  });

  it('client, codes and protocol import nothing from Node and nothing but each other', () => {
    const allowed = new Set(['codes', 'protocol', 'util', 'errors']);
    for (const file of all.filter((f) => ['client', 'codes', 'protocol', 'util'].includes(layerOf(f)) || layerOf(f) === 'errors')) {
      for (const spec of importsOf(file)) {
        expect(spec.startsWith('node:'), `${relative(SRC, file)} imports ${spec}`).toBe(false);
        if (spec.startsWith('.')) {
          const target = layerOf(join(file, '..', spec));
          expect(allowed.has(target) || target === layerOf(file), `${relative(SRC, file)} imports ${spec}`).toBe(true);
        } else {
          expect.fail(`${relative(SRC, file)} imports the package ${spec}`);
        }
      }
    }
  });

  it('server and client never import each other; nothing but the CLI imports the CLI', () => {
    for (const file of all) {
      const layer = layerOf(file);
      for (const spec of importsOf(file)) {
        if (!spec.startsWith('.')) continue;
        const target = layerOf(join(file, '..', spec));
        if (layer === 'server') expect(target, `${relative(SRC, file)} imports ${spec}`).not.toBe('client');
        if (layer === 'client') expect(target, `${relative(SRC, file)} imports ${spec}`).not.toBe('server');
        if (layer !== 'cli') expect(target, `${relative(SRC, file)} imports ${spec}`).not.toBe('cli');
      }
    }
  });

  it('sees every load of ws, static or lazy, and only these files load it', () => {
    // The server reaches ws only through its adapter; the probe is a Node-only CLI that needs ws's HTTP
    // status on refusal; the client loads it lazily, on Node 20 only (no global WebSocket there).
    const allowed = ['cli/commands/probe.ts', 'client/environment.ts', 'server/adapters/ws.ts'];
    const loading = all.filter((file) => loadsOf(file).includes('ws')).map((file) => relative(SRC, file));
    expect(loading.sort()).toEqual(allowed);
  });

  it('every lazy load names its module where the test can read it', () => {
    for (const file of all) {
      for (const spec of loadsOf(file)) expect(spec, `${relative(SRC, file)} loads a module by a name computed at run time`).not.toBe(COMPUTED);
    }
  });

  it('the server core knows no transport: no node:http, node:net, node:stream, ws or pino, and none of the plumbing', () => {
    const core = all.filter((f) => ['server/core/', 'server/v1/'].some((dir) => relative(SRC, f).startsWith(dir)));
    expect(core.length).toBeGreaterThan(10);
    const forbidden = new Set(['node:http', 'node:https', 'node:net', 'node:stream', 'ws', 'pino', 'prom-client']);
    for (const file of core) {
      const name = relative(SRC, file);
      for (const spec of [...importsOf(file), ...loadsOf(file)]) {
        expect(forbidden.has(spec), `${name} imports ${spec}`).toBe(false);
        if (!spec.startsWith('.')) continue;
        const target = relative(SRC, join(file, '..', spec));
        for (const plumbing of ['server/server.', 'server/index.', 'server/node/', 'server/adapters/', 'server/metrics/', 'optional-dependency.']) {
          expect(target.startsWith(plumbing), `${name} imports ${spec}`).toBe(false);
        }
      }
    }
  });
});
