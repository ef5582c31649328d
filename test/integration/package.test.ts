/**
 * The package as npm ships it: `npm pack --json` in a copy of the repository (its build runs, and must
 * keep stdout for the JSON), publint and arethetypeswrong (ESM-only profile) on the tarball, no source
 * map without its sources, the metadata; then a client-only consumer (`--omit=optional`) that installs
 * nothing but lifeline, uses the client and the CLI, is told which package a server feature needs, and
 * loads the store conformance suite (`lifeline/testing`) with no test runner installed.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

const exec = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = (name: string) => join(root, 'node_modules', '.bin', name);

interface PackEntry {
  filename: string;
  size: number;
  unpackedSize: number;
  files: { path: string; size: number }[];
}

let work: string;
let pack: PackEntry;
let tarball: string;

/** Run a command; resolve with its exit code and output whatever the code. */
async function run(file: string, args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(file, args, { cwd, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, NO_COLOR: '1' } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

beforeAll(async () => {
  // A copy, so the pack's own build (prebuild empties dist/) never races the tests that use this dist/.
  work = mkdtempSync(join(tmpdir(), 'lifeline-pack-'));
  const repo = join(work, 'repo');
  for (const entry of ['src', 'bin', 'docs', 'schema', 'scripts', 'package.json', 'README.md', 'LICENSE', 'tsconfig.base.json', 'tsconfig.build.json']) cpSync(join(root, entry), join(repo, entry), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(repo, 'node_modules'), 'dir');
  const packed = await run('npm', ['pack', '--json', '--pack-destination', work], repo);
  expect(packed.code, packed.stderr.slice(-2000)).toBe(0);
  // Valid JSON on stdout: the build's figures went to stderr.
  pack = (JSON.parse(packed.stdout) as PackEntry[])[0]!;
  tarball = join(work, pack.filename);
  console.log(`tarball: ${pack.size} bytes, ${pack.unpackedSize} unpacked, ${pack.files.length} files`);
}, 180_000);

describe('the tarball', () => {
  it('ships what it needs, a LICENSE and metadata, and no source map without its sources', async () => {
    const paths = pack.files.map((f) => f.path);
    for (const p of ['LICENSE', 'README.md', 'package.json', 'bin/lifeline.js', 'dist/client/index.js', 'dist/client/index.d.ts', 'dist/browser/lifeline-client.js', 'docs/cli.md', 'dist/testing/index.js', 'dist/testing/index.d.ts', 'dist/store/sqlite/index.js', 'dist/store/redis/index.js', 'docs/store-engines.md']) expect(paths).toContain(p);
    expect(paths.filter((p) => p.startsWith('src/') || p.startsWith('test/'))).toEqual([]);
    // A map is only worth shipping with what it maps to; lifeline ships neither.
    const maps = paths.filter((p) => p.endsWith('.map'));
    expect(maps).toEqual([]);
    const { stdout } = await run('tar', ['-xzOf', tarball, 'package/dist/browser/lifeline-client.js'], work);
    expect(stdout).not.toContain('sourceMappingURL');
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(pkg).toMatchObject({ license: 'MIT', type: 'module', repository: { type: 'git' }, engines: { node: expect.stringMatching(/\^20/) } });
    expect(readFileSync(join(root, 'LICENSE'), 'utf8')).toMatch(/^MIT License/);
    // The native and server-side packages are optional: a client-only install can leave them out.
    expect(pkg.dependencies).toBeUndefined();
    expect(Object.keys(pkg.optionalDependencies as object).sort()).toEqual(['better-sqlite3', 'pino', 'prom-client', 'ws']);
    expect(pkg.peerDependenciesMeta).toEqual({ ioredis: { optional: true } });
  });

  it('passes publint', async () => {
    const r = await run(bin('publint'), ['run', tarball, '--strict'], work);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
  }, 60_000);

  it('passes arethetypeswrong with the ESM-only profile', async () => {
    const r = await run(bin('attw'), [tarball, '--profile', 'esm-only', '--format', 'table-flipped'], work);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
  }, 60_000);
});

describe('a client-only consumer (npm install lifeline --omit=optional)', () => {
  let app: string;
  beforeAll(async () => {
    app = join(work, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }));
    writeFileSync(join(app, 'check.mjs'), CHECK);
    const r = await run('npm', ['install', tarball, '--omit=optional', '--prefer-offline', '--no-audit', '--no-fund'], app);
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
  }, 180_000);

  it('installs lifeline alone: nothing native, nothing server-side', async () => {
    const lock = JSON.parse(readFileSync(join(app, 'node_modules/.package-lock.json'), 'utf8')) as { packages: Record<string, unknown> };
    expect(Object.keys(lock.packages)).toEqual(['node_modules/lifeline']);
  });

  it('uses the client, explains codes with the CLI, and names the package a server feature needs', async () => {
    const r = await run(process.execPath, ['check.mjs'], app);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { testing: number };
    expect(out).toEqual({
      client: 'function',
      closeName: 'Service Restart',
      server: { code: 'LIFELINE_ERR_MISSING_DEPENDENCY', packageName: 'pino' },
      sqlite: { code: 'LIFELINE_ERR_MISSING_DEPENDENCY', packageName: 'better-sqlite3' },
      testing: out.testing,
    });
    // The conformance suite loads without any test runner installed and registers its tests with the one passed in.
    expect(out.testing).toBeGreaterThan(50);
    const explain = await run(join(app, 'node_modules/.bin/lifeline'), ['explain', '1012', '--text'], app);
    expect(explain.code).toBe(0);
    expect(explain.stdout).toContain('1012 Service Restart');
    const serve = await run(join(app, 'node_modules/.bin/lifeline'), ['serve', '--port', '0'], app);
    expect(serve.code).toBe(1);
    expect(serve.stderr.trim().split('\n')).toHaveLength(1);
    expect(serve.stderr).toContain('npm install pino');
  });
});

/** What the consumer runs: the client from the package, and the server features it did not install. */
const CHECK = `
import { createSession } from 'lifeline/client';
import { explainCode } from 'lifeline/codes';
import { createServer } from 'lifeline/server';
import { createSqliteStore } from 'lifeline/store/sqlite';
import { createMemoryStore } from 'lifeline/store';
import { storeConformance } from 'lifeline/testing';
let tests = 0;
const noop = () => {};
storeConformance({
  name: 'memory',
  open: (options) => createMemoryStore(options),
  test: { describe: (_name, body) => body(), it: () => { tests++; }, expect: () => ({}), afterEach: noop },
});
const failure = (f) => { try { f(); return 'no error'; } catch (e) { return { code: e.code, packageName: e.packageName }; } };
console.log(JSON.stringify({
  client: typeof createSession,
  closeName: explainCode(1012, 'en').name,
  server: failure(() => createServer()),
  sqlite: failure(() => createSqliteStore({ path: ':memory:' })),
  testing: tests,
}));
`;
