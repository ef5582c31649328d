import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { killAll, startServe, tempDataDir } from '../support/serve-process.js';
import { destroyRawPeers, rawConnect, type RawPeer } from '../support/raw-socket.js';

const BIN = fileURLToPath(new URL('../../bin/lifeline.js', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const children = new Set<ChildProcess>();
const wsServers: WebSocketServer[] = [];
afterEach(async () => {
  for (const c of children) c.kill('SIGKILL');
  children.clear();
  destroyRawPeers();
  for (const w of wsServers.splice(0)) {
    for (const client of w.clients) client.terminate();
    await new Promise((r) => w.close(r));
  }
  await killAll();
});

/** The text report unless JSON is asked for: off a terminal the probe prints JSON by default. */
function withMode(args: string[]): string[] {
  return args.includes('--json') || args.includes('--help') ? args : [...args, '--text'];
}

/** Run `lifeline probe ...` to completion. */
function probe(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [BIN, 'probe', ...withMode(args)], { timeout: 30_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    children.add(child);
    child.on('exit', () => children.delete(child));
  });
}

/** Start `lifeline probe ...`, resolve once it printed `text`, and return how it ends. */
async function probeUntil(args: string[], text: string): Promise<{ ended: Promise<Run> }> {
  const child = spawn(process.execPath, [BIN, 'probe', ...withMode(args)], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const seen = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      if (stdout.includes(text)) resolve();
    });
    child.on('exit', () => reject(new Error(`probe exited before printing ${text}: ${stdout} ${stderr}`)));
  });
  const done = once(child, 'exit').then(([code]) => {
    children.delete(child);
    return { code: code as number, stdout, stderr };
  });
  await seen;
  // Wrapped: an async function would otherwise wait for `done` itself.
  return { ended: done };
}

/** A raw client that completes the upgrade and never answers anything: it holds a drain open until closeTimeoutMs. */
function silentPeer(port: number): Promise<RawPeer> {
  return rawConnect(port);
}

/** A bare `ws` server (not lifeline) for closes the demo cannot produce. */
async function bareServer(options: ConstructorParameters<typeof WebSocketServer>[0] = {}): Promise<{ url: string; wss: WebSocketServer }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
  wsServers.push(wss);
  await once(wss, 'listening');
  return { url: `ws://127.0.0.1:${(wss.address() as { port: number }).port}/`, wss };
}

interface ProbeJson {
  outcome: string;
  handshake: { requested: string | null; status?: number; subprotocol: string | null; openMs?: number; retryAfter?: string; body?: string; error?: string };
  welcome?: { session: string; resumed: boolean; recovered: boolean; lost: string[]; heartbeatMs: number };
  sent: string[];
  messages: { count: number; first: string[] };
  close: { code: number; reason: string; by: string; name: string; fix: string; class: string; reconnect: boolean; incident?: string; retry?: { minMs: number; maxMs: number } } | null;
  exit: number;
}

describe('lifeline probe against real server processes', () => {
  it('1011: names the code, shows the incident id the server logged, exits 4; --json says the same', async () => {
    const server = await startServe(['--demo', '--store', 'memory']);
    const text = await probe([server.url, '--send', 'hello', '--send', 'crash']);
    expect(text.code).toBe(4);
    expect(text.stderr).toBe('');
    expect(text.stdout).toContain('1011 Internal Error');
    expect(text.stdout).toMatch(/received\s+1 message\n\s+hello\n/); // the echo before the crash
    const incident = /incident=(inc_[0-9a-f]{12})/.exec(text.stdout)?.[1];
    expect(incident).toBeDefined();
    expect(text.stdout).toMatch(new RegExp(`incident\\s+${incident}`));
    expect(text.stdout).toContain('look the incident id up in the server logs'); // the registry's advice
    expect(text.stdout).toMatch(/reconnect\s+yes: back off and retry \(backoff\)/);
    expect(text.stdout).not.toContain('s3cr3t');
    await server.waitForLog((e) => e.incident === incident);

    const json = await probe([server.url, '--send', 'crash', '--json']);
    expect(json.code).toBe(4);
    const report = JSON.parse(json.stdout) as ProbeJson;
    expect(report.outcome).toBe('closed');
    expect(report.exit).toBe(4);
    expect(report.handshake).toMatchObject({ status: 101, subprotocol: null, requested: null });
    expect(report.handshake.openMs).toBeGreaterThan(0);
    expect(report.sent).toEqual(['crash']);
    expect(report.close).toMatchObject({ code: 1011, name: 'Internal Error', class: 'backoff', reconnect: true, by: 'server' });
    expect(report.close!.incident).toMatch(/^inc_[0-9a-f]{12}$/);
    expect(report.close!.incident).not.toBe(incident);
    await server.waitForLog((e) => e.incident === report.close!.incident);
  });

  it('1012: a probe open across a SIGTERM reports the restart and the retry window, exits 3', async () => {
    const server = await startServe(['--demo', '--store', 'memory', '--drain-window', '300ms']);
    const { ended } = await probeUntil([server.url, '--timeout', '20s'], 'handshake');
    server.kill('SIGTERM');
    const run = await ended;
    expect(run.code).toBe(3);
    expect(run.stdout).toContain('1012 Service Restart');
    // The window starts when the drain window ends (300 ms here): 1000-5000 ms shifted by what was left of it.
    const m = /service restart; retry=(\d+)-(\d+)ms/.exec(run.stdout);
    expect(m).not.toBeNull();
    const [min, max] = [Number(m![1]), Number(m![2])];
    expect(min).toBeGreaterThanOrEqual(1000);
    expect(min).toBeLessThanOrEqual(1300);
    expect(max - min).toBe(4000);
    expect(run.stdout).toMatch(new RegExp(`retry\\s+come back ${min}-${max} ms after the close`));
    expect(run.stdout).toMatch(/reconnect\s+yes: reconnect soon \(reconnect-soon\)/);
    expect(run.stdout.trim().split('\n').at(-1)).toBe('exit 3');
    expect(await server.exited).toEqual({ code: 0, signal: null });
  });

  it('1008: the client is at fault, stop class, exits 5; --lang zh explains in Chinese', async () => {
    const server = await startServe(['--demo', '--store', 'memory']);
    const run = await probe([server.url, '--send', 'forbidden']);
    expect(run.code).toBe(5);
    expect(run.stdout).toContain('1008 Policy Violation');
    expect(run.stdout).toMatch(/reconnect\s+no: stop \(stop\)/);
    const zh = await probe([server.url, '--send', 'forbidden', '--lang', 'zh']);
    expect(zh.code).toBe(5);
    expect(zh.stdout).toContain('1008 违反策略');
    expect(zh.stdout).toContain('退出码 5');
  });

  it('--subprotocol speaks lifeline.v1: reports the negotiated protocol and the welcome, never the resume token', async () => {
    const server = await startServe(['--demo', '--store', 'memory']);
    const json = await probe([server.url, '--subprotocol', '--timeout', '700ms', '--json']);
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout) as ProbeJson;
    expect(report.outcome).toBe('open-at-timeout');
    expect(report.close).toBeNull();
    expect(report.handshake).toMatchObject({ requested: 'lifeline.v1', subprotocol: 'lifeline.v1', status: 101 });
    expect(report.welcome).toMatchObject({ resumed: false, lost: [], heartbeatMs: 30_000 });
    expect(report.welcome!.session).toMatch(/^s_[A-Za-z0-9_-]{22}$/);
    expect(report.messages.count).toBe(1);
    // The token is `<session>.<secret>`: the secret must not be anywhere in the output.
    expect(json.stdout).not.toMatch(/s_[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}/);
    expect(json.stdout).toContain('<hidden>');

    const text = await probe([server.url, '--subprotocol', '--timeout', '500ms']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/handshake\s+open in [\d.]+ ms \(HTTP 101\), subprotocol: lifeline\.v1/);
    expect(text.stdout).toMatch(/welcome\s+session s_[A-Za-z0-9_-]{22}, new, heartbeat 30000 ms/);
    expect(text.stdout).toMatch(/close\s+none: still open after 500 ms/);

    // A crash in an acknowledged message is a 1011 for protocol clients too.
    const crash = await probe([server.url, '--subprotocol', '--send', '{"t":"msg","id":1,"data":"crash"}', '--json']);
    expect(crash.code).toBe(4);
    expect((JSON.parse(crash.stdout) as ProbeJson).close).toMatchObject({ code: 1011 });
  });

  it('a handshake refused during a drain reports 503 and Retry-After, exits 4', async () => {
    const config = join(tempDataDir(), 'config.json');
    // A peer that never answers the close keeps the drain (and so the 503s) going for closeTimeoutMs.
    writeFileSync(config, JSON.stringify({ closeTimeoutMs: 20_000 }));
    const server = await startServe(['--demo', '--store', 'memory', '--drain-window', '100ms', '--config', config]);
    await silentPeer(server.port);
    server.kill('SIGTERM');
    await server.waitForLog((e) => e.msg === 'drain started');

    const json = await probe([server.url, '--json']);
    expect(json.code).toBe(4);
    const report = JSON.parse(json.stdout) as ProbeJson;
    expect(report.outcome).toBe('refused');
    expect(report.handshake).toMatchObject({ status: 503, retryAfter: '5' });
    expect(report.handshake.body).toContain('restarting');
    expect(report.close).toMatchObject({ code: 1006, by: 'handshake', class: 'backoff', reconnect: true });

    const text = await probe([server.url]);
    expect(text.code).toBe(4);
    expect(text.stdout).toMatch(/handshake\s+refused: HTTP 503, Retry-After: 5/);
    expect(text.stdout).toContain('1006 Abnormal Closure');
    expect(server.child.exitCode).toBeNull(); // still draining: it was the 503, not a dead port
  });

  it('nothing listening: a failed connection is the backoff class, exit 4', async () => {
    const net = createNetServer();
    await new Promise<void>((r) => net.listen(0, '127.0.0.1', r));
    const { port } = net.address() as { port: number };
    await new Promise((r) => net.close(r));
    const run = await probe([`ws://127.0.0.1:${port}/`, '--json']);
    expect(run.code).toBe(4);
    const report = JSON.parse(run.stdout) as ProbeJson;
    expect(report.outcome).toBe('failed');
    expect(report.handshake.error).toContain('ECONNREFUSED');
    expect(report.close).toMatchObject({ code: 1006, by: 'handshake' });
  });
});

describe('lifeline probe exit statuses for closes the demo cannot produce', () => {
  it('1000 exits 0; an application code (4xxx) exits 6; a vanished peer (1006 after open) exits 4', async () => {
    const { url, wss } = await bareServer();
    wss.on('connection', (ws) => {
      ws.on('message', (data) => {
        const text = String(data);
        if (text === 'normal') ws.close(1000, 'bye');
        else if (text === 'app') ws.close(4403, 'not your room');
        else if (text === 'vanish') ws.terminate();
      });
    });
    const normal = await probe([url, '--send', 'normal', '--json']);
    expect(normal.code).toBe(0);
    expect((JSON.parse(normal.stdout) as ProbeJson).close).toMatchObject({ code: 1000, name: 'Normal Closure' });

    const app = await probe([url, '--send', 'app']);
    expect(app.code).toBe(6);
    expect(app.stdout).toContain('4403');
    expect(app.stdout).toMatch(/reconnect\s+no: the application decides \(application\)/);

    const vanish = await probe([url, '--send', 'vanish', '--json']);
    expect(vanish.code).toBe(4);
    expect((JSON.parse(vanish.stdout) as ProbeJson).close).toMatchObject({ code: 1006, by: 'network' });
  });

  it('--subprotocol against a server that does not speak lifeline.v1 exits 5 (retrying cannot help)', async () => {
    const { url } = await bareServer({ handleProtocols: () => false });
    const run = await probe([url, '--subprotocol', '--json']);
    expect(run.code).toBe(5);
    const report = JSON.parse(run.stdout) as ProbeJson;
    expect(report.handshake).toMatchObject({ requested: 'lifeline.v1', status: 101, subprotocol: null });
    const text = await probe([url, '--subprotocol']);
    expect(text.stdout).toContain('does not speak lifeline.v1');
  });
});

describe('lifeline probe usage', () => {
  it('bad arguments: exit 2 and one line on stderr, nothing on stdout', async () => {
    const cases = [
      [],
      ['http://127.0.0.1:1/'],
      ['not a url'],
      ['ws://127.0.0.1:1/', 'ws://127.0.0.1:2/'],
      ['ws://127.0.0.1:1/', '--timeout', 'soon'],
      ['ws://127.0.0.1:1/', '--timeout', '0'],
      ['ws://127.0.0.1:1/', '--lang', 'fr'],
      ['ws://127.0.0.1:1/', '--bogus'],
      ['ws://127.0.0.1:1/', '--send'],
    ];
    for (const args of cases) {
      const run = await probe(args);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(run.stderr, args.join(' ')).toMatch(/^lifeline: /);
      expect(run.stdout, args.join(' ')).toBe('');
    }
  });

  it('--help documents every exit status', async () => {
    const run = await probe(['--help']);
    expect(run.code).toBe(0);
    for (const status of ['0', '2', '3', '4', '5', '6']) expect(run.stdout).toMatch(new RegExp(`^\\s+${status}\\s+\\S`, 'm'));
  });
});
