/**
 * `lifeline drill` refuses to pass when nothing was tested: no restart seen, or every client publish
 * refused; and it ends when its work does (no timer outlives it). Real server, real sockets.
 */
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { runDrillCommand } from '../../src/cli/commands/drill.js';
import { runDrill, type DrillOptions } from '../../src/cli/drill/run-drill.js';
import { createServer, type LifelineServer } from '../../src/server/index.js';

const KEY = 'drill-verdict-key-0123456789';
let server: LifelineServer | undefined;

afterEach(async () => {
  await server?.shutdown();
  server = undefined;
});

async function start(options: { clientPublish: boolean }): Promise<string> {
  server = createServer({
    publishKey: KEY,
    logger: pino({ level: 'silent' }),
    drainWindowMs: 200,
    graceMs: 100,
    retryHint: { minMs: 50, maxMs: 200 },
    ...(options.clientPublish ? { authorizePublish: () => true } : {}),
  });
  const { port } = await server.listen(0, '127.0.0.1');
  return `ws://127.0.0.1:${port}/`;
}

function drill(url: string, extra: Partial<DrillOptions> = {}): ReturnType<typeof runDrill> {
  return runDrill({ url, publishKey: KEY, clients: 4, channels: 2, durationMs: 1500, rate: 10, clientRate: 2, settleMs: 3000, ...extra });
}

const failed = (report: Awaited<ReturnType<typeof runDrill>>) => report.checks.filter((c) => !c.ok).map((c) => c.name);

describe('the drill verdict', () => {
  it('fails a drill that saw no restart, unless --expect-restarts 0 says none was planned', async () => {
    const url = await start({ clientPublish: true });
    const report = await drill(url);
    expect(report.totals.lost).toBe(0);
    expect(report.totals.published).toBeGreaterThan(0);
    expect(report.restartsSeen).toBe(0);
    expect(report.ok).toBe(false);
    expect(failed(report)).toEqual(['restarts']);
    expect(report.checks.find((c) => c.name === 'restarts')!.detail).toContain('--expect-restarts 0');

    const steady = await drill(url, { expectRestarts: 0 });
    expect(failed(steady)).toEqual([]);
    expect(steady.ok).toBe(true);
  });

  it('fails when every client publish is rejected, and says that clients may not publish there', async () => {
    const url = await start({ clientPublish: false });
    const report = await drill(url, { expectRestarts: 0 });
    expect(report.clientRejects).toBeGreaterThan(0);
    expect(report.rejectReasons).toEqual({ FORBIDDEN: report.clientRejects });
    expect(report.totals.publishedByClients).toBe(0);
    expect(report.ok).toBe(false);
    expect(failed(report)).toEqual(['clients-to-server']);
    expect(report.checks.find((c) => c.name === 'clients-to-server')!.detail).toMatch(/--client-publish 'drill\.\*'/);
  });

  it('passes a drill across a restart (connections cycled with 1012), counting the restart', async () => {
    const url = await start({ clientPublish: true });
    const running = drill(url, { durationMs: 2500 });
    // Wait until the drill's clients are connected, then cycle every connection as SIGHUP does.
    while (server!.connections.size < 4) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 500));
    await server!.restart();
    const report = await running;
    expect(failed(report)).toEqual([]);
    expect(report.restartsSeen).toBeGreaterThanOrEqual(1);
    expect(report.totals.resumed).toBeGreaterThanOrEqual(4);
    expect(report.ok).toBe(true);
  });

  it('leaves no timer behind: a short drill ends when its work does, not at a 30 s timeout', async () => {
    const url = await start({ clientPublish: true });
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    await drill(url, { expectRestarts: 0, durationMs: 500 });
    // Closing handshakes have timers of their own until they complete: wait for the server to see every close.
    while (server!.connections.size > 0) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 50));
    expect(timers()).toBeLessThanOrEqual(before);
  });

  it('on a terminal: live progress on stderr, rewritten in place, and the report as a table', async () => {
    const url = await start({ clientPublish: true });
    const out: string[] = [];
    const status: string[] = [];
    const io = { stdoutIsTTY: true, stderrIsTTY: true, env: { LIFELINE_PUBLISH_KEY: KEY, NO_COLOR: '1' }, out: (t: string) => out.push(t), err: () => {}, status: (t: string) => status.push(t) };
    const code = await runDrillCommand([url, '--clients', '4', '--channels', '2', '--duration', '2500ms', '--settle', '3s', '--expect-restarts', '0'], io);
    expect(code).toBe(0);
    expect(status.filter((l) => /^drill \d+s (subscribing|publishing|settling)/.test(l)).length).toBeGreaterThanOrEqual(2);
    expect(status.at(-1)).toBe(''); // cleared before the report
    expect(out.join('\n')).toMatch(/^channel\s+subs\s+published/);
    expect(out.join('\n')).toContain('result: OK');
  });
});
