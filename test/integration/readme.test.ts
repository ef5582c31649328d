/**
 * The README's recipes, run as printed, in a fresh directory where `npx lifeline` is this package:
 * the CLI's explain/compare lines, and "Drill a deploy" (a server, a drill, a SIGTERM deploy and a new
 * version) which must pass, having seen the restart.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const README = readFileSync(join(root, 'README.md'), 'utf8');

/** The first ```sh block after `heading` that contains `marker`. */
function block(heading: string, marker: string): string {
  const from = README.indexOf(heading);
  expect(from, heading).toBeGreaterThan(-1);
  const blocks = [...README.slice(from).matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const found = blocks.find((b) => b.includes(marker));
  expect(found, `${heading}: a sh block with ${marker}`).toBeDefined();
  return found!;
}

/** A directory whose `npx lifeline` is this repository (as after `npm install lifeline`). */
function consumer(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-readme-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'readme-consumer', version: '1.0.0', private: true }));
  mkdirSync(join(dir, 'node_modules', '.bin'), { recursive: true });
  symlinkSync(root, join(dir, 'node_modules', 'lifeline'), 'dir');
  symlinkSync(join('..', 'lifeline', 'bin', 'lifeline.js'), join(dir, 'node_modules', '.bin', 'lifeline'));
  return dir;
}

/** The environment of a person's shell: none of the npm_* variables `npm test` sets. */
function shellEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('npm_')));
}

async function bash(script: string, cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn('bash', ['-c', script], { cwd, env: shellEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

async function portIsFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

describe('README recipes, as printed', () => {
  it('"Ask the CLI what a close code means": every line exits 0', async () => {
    const lines = block('Ask the CLI what a close code means', 'npx lifeline explain').trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(3);
    const dir = consumer();
    for (const line of lines) {
      const r = await bash(line, dir);
      expect(r.code, `${line}\n${r.stderr}`).toBe(0);
      expect(r.stdout.length, line).toBeGreaterThan(0);
    }
  });

  it('"Drill a deploy": the drill sees the restart, loses nothing, and passes; nothing is left running', async () => {
    const recipe = block('### Drill a deploy', 'npx lifeline drill');
    // The recipe listens on 8080, as a person would; a busy port would make it fail for another reason.
    expect(await portIsFree(8080), 'port 8080 is taken: the README recipe listens there').toBe(true);
    const dir = consumer();
    const r = await bash(recipe, dir);
    expect(r.stdout, r.stderr.slice(-3000)).toContain('drill passed');
    const report = r.stdout.split('\n').filter((l) => l.startsWith('{"prefix"')).map((l) => JSON.parse(l) as { ok: boolean; restartsSeen: number; totals: { lost: number; published: number } })[0];
    expect(report).toMatchObject({ ok: true, totals: { lost: 0 } });
    expect(report!.restartsSeen).toBeGreaterThanOrEqual(1);
    expect(report!.totals.published).toBeGreaterThan(0);
    expect(r.code).toBe(0);
    // The last line waited for the new version to drain: it removed its pid file on the way out.
    expect(existsSync(join(dir, 'lifeline.pid'))).toBe(false);
    expect(await portIsFree(8080)).toBe(true);
  }, 150_000);
});
