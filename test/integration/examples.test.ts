/** The examples are documentation that must keep working: run them as a user would. */
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDataDir } from '../support/serve-process.js';
import { freePort } from '../support/ports.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const children: ReturnType<typeof spawn>[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

describe('examples/', () => {
  it('the chat client publishes, gets its line back by offset, and has its command acknowledged', async () => {
    const port = await freePort();
    const server = spawn(process.execPath, ['examples/chat-server.mjs', String(port), tempDataDir()], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(server);
    await new Promise<void>((resolve, reject) => {
      server.stdout!.on('data', (c: Buffer) => c.toString().includes('chat server listening') && resolve());
      server.on('exit', (code) => reject(new Error(`chat server exited ${code}`)));
    });
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['examples/chat-client.mjs', `ws://127.0.0.1:${port}/?user=ada`, '--once'], { cwd: root, timeout: 15_000 }, (error, stdout, stderr) =>
        error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout),
      );
    });
    expect(out).toContain('stored at offset 1');
    expect(out).toContain('[room.lobby #1] {"type":"line","text":"hello, lobby"}');
    expect(out).toContain('topic command acknowledged');
    expect(out).toMatch(/\[room\.lobby #2\] \{"type":"topic","by":"ada"/);
  });
});
