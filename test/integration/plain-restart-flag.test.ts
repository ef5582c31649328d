/** `lifeline serve --plain-restart-code 1001`: the 1001 fallback for RFC 6455-era clients, from the command line, in a real process. */
import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseReason } from '../../src/protocol/index.js';
import { startServe } from '../support/serve-process.js';
import { connectV1 } from '../support/v1-peer.js';
import { connectPeer } from '../support/ws-peer.js';

describe('lifeline serve --plain-restart-code', () => {
  it('1001: a restart closes plain clients with 1001 whose reason still says restart and carries the window; lifeline.v1 clients get 1012', async () => {
    const server = await startServe(['--demo', '--store', 'memory', '--drain-window', '0s', '--plain-restart-code', '1001']);
    try {
      const plain = await connectPeer(server.url);
      const v1 = await connectV1(server.url);
      v1.send({ t: 'hello', v: 1 });
      await v1.next((f) => f.t === 'welcome');
      server.kill('SIGHUP');
      const [p, s] = await Promise.all([plain.closed, v1.closed]);
      expect(p.code).toBe(1001);
      expect(parseReason(p.reason).text).toBe('service restart');
      expect(parseReason(p.reason).retry).toBeDefined();
      expect(s.code).toBe(1012);
    } finally {
      server.kill('SIGTERM');
      await server.exited;
    }
  });

  it('anything but 1012 or 1001 is a one-line usage error (exit 2)', async () => {
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(process.execPath, ['bin/lifeline.js', 'serve', '--plain-restart-code', '1000'], (error, _stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stderr }));
    });
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('--plain-restart-code');
  });
});
