/**
 * The CLI's tables are the single source of its parser, its help, its config keys and docs/cli.md:
 * every accepted option and config key must appear in the help and the reference, and the reference
 * must be exactly what the tables generate.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatDrillReport } from '../../src/cli/commands/drill.js';
import { readConfigFile } from '../../src/cli/commands/serve.js';
import { renderHelp } from '../../src/cli/help.js';
import { UsageError, type CliIo } from '../../src/cli/io.js';
import { main, version } from '../../src/cli/main.js';
import { parseCommandLine, parserOptions } from '../../src/cli/parse.js';
import { renderReference } from '../../src/cli/reference.js';
import { COMMAND_SPECS } from '../../src/cli/specs/index.js';
import { SERVE } from '../../src/cli/specs/serve.js';
import { closest } from '../../src/cli/suggest.js';
import { drillChecks } from '../../src/cli/drill/verdict.js';

const DOCS = readFileSync(new URL('../../docs/cli.md', import.meta.url), 'utf8');

function capture(tty = false, env: Record<string, string> = {}): CliIo & { stdout: () => string; stderr: () => string } {
  const out: string[] = [];
  const err: string[] = [];
  return { stdoutIsTTY: tty, stderrIsTTY: tty, env, out: (t) => out.push(t), err: (t) => err.push(t), stdout: () => out.join('\n'), stderr: () => err.join('\n') };
}

async function run(argv: string[], io = capture()): Promise<{ code: number; stdout: string; stderr: string }> {
  const code = await main(argv, io);
  return { code, stdout: io.stdout(), stderr: io.stderr() };
}

describe('one table per command', () => {
  it('docs/cli.md is exactly what the tables generate (npm run docs:cli rewrites it)', () => {
    expect(DOCS).toBe(renderReference(COMMAND_SPECS));
  });

  for (const spec of COMMAND_SPECS) {
    it(`${spec.name}: every option the parser accepts is in --help and in docs/cli.md`, () => {
      const help = renderHelp(spec);
      const section = DOCS.slice(DOCS.indexOf(`## \`lifeline ${spec.name}\``)).split('\n## ')[0]!;
      const accepted = Object.entries(parserOptions(spec));
      expect(accepted.length).toBeGreaterThan(1);
      for (const [name, option] of accepted) {
        expect(help, `--${name}`).toMatch(new RegExp(`--${name}\\b`));
        expect(section, `--${name}`).toMatch(new RegExp(`--${name}\\b`));
        if (option.short) {
          expect(help).toContain(`-${option.short}, --${name}`);
          expect(section).toContain(`-${option.short}, --${name}`);
        }
      }
    });

    it(`${spec.name}: a flag that takes a value can parse it; --help works; an unknown flag is exit 2 with a suggestion`, async () => {
      for (const [key, row] of Object.entries(spec.options)) if (row.flag !== undefined && row.type.placeholder !== '') expect(row.type.parse, key).toBeTypeOf('function');
      const help = await run([spec.name, '--help']);
      expect(help).toEqual({ code: 0, stdout: renderHelp(spec), stderr: '' });
      expect(await run(['help', spec.name])).toEqual(help);
      const first = Object.values(spec.options).find((r) => r.flag !== undefined && r.flag.length >= 4)!.flag!;
      const typo = `--${first.slice(0, -1)}x`;
      const bad = await run([spec.name, typo]);
      expect(bad.code).toBe(2);
      expect(bad.stderr.split('\n')).toHaveLength(1);
      expect(bad.stderr).toContain(`did you mean "--${first}"?`);
    });
  }

  it('every config key of serve is in its help and docs/cli.md, and the config file accepts exactly those keys', () => {
    const keys = Object.entries(SERVE.options).filter(([, row]) => row.config).map(([key]) => key);
    const help = renderHelp(SERVE);
    expect(keys).toEqual(expect.arrayContaining(['port', 'drainWindowMs', 'graceMs', 'retryHint', 'allowedOrigins', 'maxConnections', 'rateLimit', 'maxSubscriptions', 'maxBufferedBytes', 'helloTimeoutMs', 'plainRestartCode']));
    const dir = mkdtempSync(join(tmpdir(), 'lifeline-config-'));
    for (const key of keys) {
      expect(help, key).toMatch(new RegExp(`\\b${key}\\b`));
      expect(DOCS, key).toContain(`\`${key}\``);
      const row = SERVE.options[key as keyof typeof SERVE.options];
      if (row.default === undefined) continue;
      // The documented default, written into a config file, is accepted as it is.
      const file = join(dir, `${key}.json`);
      writeFileSync(file, JSON.stringify({ [key]: row.default }));
      expect(readConfigFile(file)).toEqual({ [key]: row.default });
    }
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ drainWindow: 100 }));
    expect(() => readConfigFile(file)).toThrow(/unknown setting "drainWindow".*did you mean "drainWindowMs"/);
    writeFileSync(file, JSON.stringify({ drainWindowMs: 'soon' }));
    expect(() => readConfigFile(file)).toThrow(UsageError);
    writeFileSync(file, JSON.stringify({ rateLimit: { messagesPerSecond: 5 } }));
    expect(() => readConfigFile(file)).toThrow(/burst/);
  });
});

describe('the lifeline command line', () => {
  it('--version, -V and version print the package version', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(version()).toBe(pkg.version);
    for (const argv of [['--version'], ['-V'], ['version']]) expect(await run(argv)).toEqual({ code: 0, stdout: pkg.version, stderr: '' });
  });

  it('an unknown command is exit 2 with "did you mean"; no command prints the list and exits 2', async () => {
    expect(await run(['serv'])).toMatchObject({ code: 2, stderr: expect.stringContaining('did you mean "serve"?') });
    expect(await run(['explian', '1000'])).toMatchObject({ code: 2, stderr: expect.stringContaining('did you mean "explain"?') });
    expect(await run(['help', 'drils'])).toMatchObject({ code: 2, stderr: expect.stringContaining('did you mean "drill"?') });
    const none = await run([]);
    expect(none.code).toBe(2);
    for (const spec of COMMAND_SPECS) expect(none.stdout).toContain(spec.name);
  });

  it('every usage error is exit 2 and one line on stderr', async () => {
    const cases = [
      ['serve', '--log-level', 'loud'],
      ['serve', '--port', '70000'],
      ['serve', '--port'],
      ['serve', '--port', '--demo'],
      ['serve', '--demo=yes'],
      ['serve', 'extra'],
      ['serve', '--json', '--text'],
      ['drill'],
      ['drill', 'http://x/', '--publish-key', 'k'],
      ['drill', 'ws://127.0.0.1:1/'],
      ['drill', 'ws://127.0.0.1:1/', '--publish-key', 'k', '--rate', '0', '--client-rate', '0'],
      ['drill', 'ws://127.0.0.1:1/', '--publish-key', 'k', '--duration', 'forever'],
      ['probe'],
      ['probe', 'ws://x/', '--timeout', '0'],
      ['explain', '-3'],
      ['explain', '1000', '--lang', 'fr'],
      ['compare', '1000'],
      ['--verbose'],
    ];
    for (const argv of cases) {
      const r = await run(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr.split('\n'), argv.join(' ')).toHaveLength(1);
      expect(r.stderr, argv.join(' ')).toMatch(/^lifeline: /);
    }
    expect((await run(['serve', '--log-level', 'loud'])).stderr).toContain('trace, debug, info, warn, error, fatal, silent');
    expect((await run(['explain', '1000', '--lang', 'zhh'])).stderr).toContain('did you mean "zh"?');
  });

  it('values come from the environment when the flag is absent; flags win', () => {
    const env = { LIFELINE_PUBLISH_KEY: 'from-env' };
    expect(parseCommandLine(SERVE, [], env).values.publishKey).toBe('from-env');
    expect(parseCommandLine(SERVE, ['--publish-key', 'flag'], env).values.publishKey).toBe('flag');
    expect(parseCommandLine(SERVE, ['--client-publish', 'a.*', '--client-publish', 'b'], {}).values.clientPublish).toEqual(['a.*', 'b']);
    expect(parseCommandLine(SERVE, ['--drain-window', '3s', '-p', '0'], {}).values).toEqual({ drainWindowMs: 3000, port: 0 });
  });

  it('text on a terminal, JSON lines off one; colour only on a terminal and never with NO_COLOR', async () => {
    const piped = await run(['explain', '1012']);
    expect(piped.stdout.split('\n')).toHaveLength(1);
    expect(JSON.parse(piped.stdout)).toMatchObject({ code: 1012, name: 'Service Restart' });
    const tty = await run(['explain', '1012'], capture(true));
    expect(tty.stdout).toContain('1012 Service Restart\n');
    expect((await run(['explain', '1012', '--text'])).stdout).toBe(tty.stdout);
    expect(JSON.parse((await run(['explain', '1012', '--json'], capture(true))).stdout)).toMatchObject({ code: 1012 });

    const checks = drillChecks({ totals: { subscribers: 1, published: 1, publishedHttp: 1, publishedByClients: 0, delivered: 1, lost: 0, duplicated: 0, outOfOrder: 0, reconnects: 0, resumed: 0, notRecovered: 0, worstGapMs: 0 }, unacknowledged: 0, publishAbandoned: 0, clientRejects: 0, rejectReasons: {}, restartsSeen: 0, expectRestarts: 1, rate: 1, clientRate: 0, prefix: 'drill.x' });
    const report = { prefix: 'drill.x', durationMs: 1000, channels: [], totals: { subscribers: 1, published: 1, publishedHttp: 1, publishedByClients: 0, delivered: 1, lost: 0, duplicated: 0, outOfOrder: 0, reconnects: 0, resumed: 0, notRecovered: 0, worstGapMs: 0 }, publishRetries: 0, publishAbandoned: 0, clientRejects: 0, rejectReasons: {}, unacknowledged: 0, connectedAtEnd: 1, clients: 1, restartsSeen: 0, expectRestarts: 1, checks, ok: false };
    const { styles } = await import('../../src/cli/io.js');
    expect(formatDrillReport(report, styles(true))).toContain('\u001b[31m');
    expect(formatDrillReport(report, styles(false))).not.toContain('\u001b[');
    expect(formatDrillReport(report)).toMatch(/FAIL restarts: .*--expect-restarts 0/);
    const { colourFor } = await import('../../src/cli/io.js');
    expect(colourFor(capture(true), 'stdout')).toBe(true);
    expect(colourFor(capture(true, { NO_COLOR: '1' }), 'stdout')).toBe(false);
    expect(colourFor(capture(false), 'stdout')).toBe(false);
  });

  it('"did you mean" finds near misses and nothing for far ones', () => {
    expect(closest('--prot', ['--port', '--host'])).toBe('--port');
    expect(closest('--pub', ['--publish-key', '--port'])).toBe('--publish-key');
    expect(closest('--zzzzzz', ['--port', '--host'])).toBeUndefined();
  });
});
