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

  it('server and client never import each other; only adapters/ws.ts imports ws', () => {
    for (const file of all) {
      const layer = layerOf(file);
      for (const spec of importsOf(file)) {
        if (spec.startsWith('.')) {
          const target = layerOf(join(file, '..', spec));
          if (layer === 'server') expect(target, `${relative(SRC, file)} imports ${spec}`).not.toBe('client');
          if (layer === 'client') expect(target, `${relative(SRC, file)} imports ${spec}`).not.toBe('server');
          if (layer !== 'cli') expect(target, `${relative(SRC, file)} imports ${spec}`).not.toBe('cli');
        }
        // The server core reaches ws only through its adapter; the probe is a Node-only CLI that needs ws's HTTP status on refusal.
        if (spec === 'ws') expect(['server/adapters/ws.ts', 'cli/commands/probe.ts']).toContain(relative(SRC, file));
      }
    }
  });
});
