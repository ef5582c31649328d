/** The docs a newcomer follows: the index links every page, and docs/errors.md lists every error code. */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (p: string) => readFileSync(join(root, p), 'utf8');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? sources(join(dir, n)) : n.endsWith('.ts') ? [join(dir, n)] : []));
}

describe('docs/', () => {
  it('the index links every page, and every link resolves', () => {
    const index = read('docs/README.md');
    for (const page of readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md') && f !== 'README.md')) expect(index, page).toContain(`(${page})`);
    for (const [, target] of index.matchAll(/\]\(([^)#]+)/g)) expect(existsSync(join(root, 'docs', target!)), target).toBe(true);
  });

  it('errors.md lists every LIFELINE_ERR_* code the source uses', () => {
    const errors = read('docs/errors.md');
    const codes = new Set(sources(join(root, 'src')).flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/'(LIFELINE_ERR_[A-Z_]+)'/g)].map((m) => m[1]!)));
    expect(codes.size).toBeGreaterThan(15);
    for (const code of codes) expect(errors, code).toContain(`\`${code}\``);
  });
});
