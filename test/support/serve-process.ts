/**
 * Start a real `lifeline serve` process for a test, read its JSON log, signal it, and make sure
 * it does not outlive the test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh directory for one server's sqlite data. */
export function tempDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'lifeline-test-'));
}

const BIN = fileURLToPath(new URL('../../bin/lifeline.js', import.meta.url));

/** One JSON log line of the server. */
export type LogEntry = Record<string, unknown> & { msg?: string; level?: number };

/** A running server process. */
export interface ServeProcess {
  readonly child: ChildProcess;
  /**
   * The process that serves connections, by its `listening` log entry: the worker under `serve`'s
   * supervising primary (sqlite, Redis), the child itself with the memory store. Measure resources
   * (RSS, bytes written) here; signal `child`. The newest one after a SIGHUP restart.
   */
  readonly pid: number;
  readonly port: number;
  readonly url: string;
  readonly logs: LogEntry[];
  /** Resolves with the exit code (or null and the signal) when the process ends. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Wait for a log entry matching `predicate` (already seen or future). */
  waitForLog(predicate: (entry: LogEntry) => boolean, timeoutMs?: number): Promise<LogEntry>;
  kill(signal?: NodeJS.Signals): void;
}

const running = new Set<ChildProcess>();

/** Start `lifeline serve` with `args` (port 0 unless given) and wait until it listens. */
export async function startServe(args: string[] = [], options: { env?: NodeJS.ProcessEnv; wrap?: string[]; bin?: string } = {}): Promise<ServeProcess> {
  const hasPort = args.includes('--port') || args.includes('-p');
  // Never the default ./lifeline-data: tests must not share (or leave behind) state.
  const hasData = args.includes('--data-dir') || args.includes('--store');
  const extra = [...(hasPort ? [] : ['--port', '0']), ...(hasData ? [] : ['--data-dir', tempDataDir()])];
  // `wrap`: a command to run it under (e.g. prlimit); signals then go to that wrapper, which execs node.
  const [command, ...prefix] = [...(options.wrap ?? []), process.execPath];
  // `bin`: another copy of the package's launcher (a deploy directory whose code a test changes).
  const child = spawn(command!, [...prefix, options.bin ?? BIN, 'serve', ...extra, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...options.env },
  });
  running.add(child);
  const logs: LogEntry[] = [];
  const waiters = new Set<{ predicate: (e: LogEntry) => boolean; resolve: (e: LogEntry) => void }>();
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let entry: LogEntry;
    try {
      entry = JSON.parse(line) as LogEntry;
    } catch {
      entry = { msg: line, raw: true };
    }
    logs.push(entry);
    for (const w of [...waiters]) {
      if (w.predicate(entry)) {
        waiters.delete(w);
        w.resolve(entry);
      }
    }
  });
  const exited = once(child, 'exit').then(([code, signal]) => {
    running.delete(child);
    return { code: code as number | null, signal: signal as NodeJS.Signals | null };
  });
  const waitForLog = (predicate: (entry: LogEntry) => boolean, timeoutMs = 15_000): Promise<LogEntry> => {
    const seen = logs.find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const w = { predicate, resolve: (e: LogEntry) => { clearTimeout(timer); resolve(e); } };
      const timer = setTimeout(() => {
        waiters.delete(w);
        reject(new Error(`timed out waiting for a log entry; stderr: ${stderr.slice(-500)}`));
      }, timeoutMs);
      waiters.add(w);
      void exited.then(() => {
        if (waiters.delete(w)) {
          clearTimeout(timer);
          reject(new Error(`server exited before the log entry; stderr: ${stderr.slice(-500)}`));
        }
      });
    });
  };
  const listening = await waitForLog((e) => e.msg === 'listening');
  const port = listening.port as number;
  return {
    child,
    get pid() {
      const newest = logs.filter((e) => e.msg === 'listening' && typeof e.pid === 'number').at(-1);
      return (newest?.pid as number | undefined) ?? child.pid!;
    },
    port,
    url: `ws://127.0.0.1:${port}/`,
    logs,
    exited,
    waitForLog,
    kill: (signal = 'SIGTERM') => {
      child.kill(signal);
    },
  };
}

/** Kill every server process a test left running. Call from `afterEach`. */
export async function killAll(): Promise<void> {
  const children = [...running];
  for (const child of children) child.kill('SIGKILL');
  await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? once(c, 'exit') : undefined)));
}

/** `POST /publish` on a serve process with bearer `key`; resolves with the HTTP status. */
export async function publishTo(node: Pick<ServeProcess, 'port'>, key: string, channel: string, data: unknown): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${node.port}/publish`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ channel, data }),
  });
  await res.arrayBuffer();
  return res.status;
}
