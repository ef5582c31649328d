/**
 * The package's version, read from its package.json when asked: a process started on new code on disk
 * (a `serve` worker after SIGHUP) reports the version it runs, not the one its parent started with.
 * @packageDocumentation
 */
import { readFileSync } from 'node:fs';

/** The package's version, from its package.json (two levels above dist/cli/ and src/cli/ alike). */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}
