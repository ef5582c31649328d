/** A private redis-server for a test to kill and restart (it needs `redis-server` on PATH, not the shared Redis). */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/** A private redis-server with append-only persistence, to kill and restart. */
export class PrivateRedis {
  private child: ChildProcess | undefined;
  readonly dir = mkdtempSync(join(tmpdir(), 'lifeline-redis-'));
  /**
   * @param port - where it listens
   * @param extraArgs - further redis-server arguments, e.g. `['--replicaof', '127.0.0.1', '6380']`
   */
  constructor(
    readonly port: number,
    readonly extraArgs: readonly string[] = [],
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Start (or restart) it and wait until it answers. */
  async start(): Promise<void> {
    this.child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', this.dir, ...this.extraArgs], { stdio: 'ignore' });
    const missing = new Promise<never>((_, reject) =>
      this.child!.once('error', (error) => reject(new Error(`cannot start redis-server (${(error as NodeJS.ErrnoException).code}): this test needs it on PATH (apt-get install redis-server)`))),
    );
    const probe = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => {});
    for (let i = 0; i < 100; i++) {
      try {
        await Promise.race([probe.connect(), missing]);
        await probe.ping();
        probe.disconnect();
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    throw new Error('redis-server did not start');
  }

  /** A replica: wait until its link to its primary is up and it holds the primary's data. */
  async waitLinked(timeoutMs = 20_000): Promise<void> {
    const client = new Redis(this.url, { maxRetriesPerRequest: 0 });
    try {
      const deadline = Date.now() + timeoutMs;
      while (!/master_link_status:up/.test(await client.info('replication'))) {
        if (Date.now() > deadline) throw new Error(`replica on port ${this.port} did not link to its primary within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      client.disconnect();
    }
  }

  /** Send it a signal (SIGSTOP to freeze it, SIGCONT to let it go on). */
  signal(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  /** SIGKILL it. */
  async kill(): Promise<void> {
    const child = this.child;
    // Ended already (by an exit code, or by a signal: then exitCode stays null): 'exit' will not come again.
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
    await once(child, 'exit');
  }
}
