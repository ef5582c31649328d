/**
 * The client's import graph stays free of the registry's texts (its English and Chinese prose is most
 * of the registry's bytes), and the built bundle sizes are within budget.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/** Every source file reachable from `entry` through relative imports (type-only imports do not count: they leave no code). */
function reachable(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:^|\n)\s*(import|export)\s+(type\s+)?[^'"]*?from\s+['"](\.[^'"]+)['"]/g)) {
      if (m[2]) continue;
      visit(join(dirname(file), m[3]!.replace(/\.js$/, '.ts')));
    }
  };
  visit(join(SRC, entry));
  return seen;
}

describe('the browser client', () => {
  it('imports none of the registry texts (src/codes/texts-*.ts) nor the registry built from them', () => {
    const files = [...reachable('client/index.ts')].map((f) => relative(SRC, f));
    expect(files).toContain('client/session.ts');
    expect(files.filter((f) => /^codes\/(texts-|registry|explain|compare|labels|index)/.test(f))).toEqual([]);
  });

  it("takes of the registry only its outline (English names and default reactions, by code), not the other facts", () => {
    const files = [...reachable('client/index.ts')].map((f) => relative(SRC, f));
    expect(files.filter((f) => f.startsWith('codes/')).sort()).toEqual(['codes/outline.ts', 'codes/types.ts']);
  });

  // Issue 12's targets: 12 KB for the session, 8 KB for the plain client. Issues 11, 13 and 17 took the
  // session to 12.9 KB; the bundle diet brought it back to 11.9 KB (the plain client to 6.6 KB).
  it('bundles createSession and createClient within budget (12 KB and 6.8 KB gzip), as measured by the build', () => {
    const sizeFile = fileURLToPath(new URL('../../dist/browser/size.json', import.meta.url));
    expect(existsSync(sizeFile), 'run npm run build first').toBe(true);
    const size = JSON.parse(readFileSync(sizeFile, 'utf8')) as Record<'createSession' | 'createClient', { gzipBytes: number }>;
    expect(size.createSession.gzipBytes).toBeLessThanOrEqual(12_000);
    expect(size.createClient.gzipBytes).toBeLessThanOrEqual(6_800);
    expect(size.createClient.gzipBytes).toBeLessThan(size.createSession.gzipBytes);
  });
});
