import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WebSocket as WsWebSocket } from 'ws';
import type { ClientEnvironment, WebSocketConstructor } from '../../src/client/index.js';

const dir = join(import.meta.dirname, '../../src/client');

describe('client is isomorphic', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));

  it.each(files)('%s imports nothing from Node and reads no Node globals', (file) => {
    const source = readFileSync(join(dir, file), 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/\/\/.*$/gm, '');
    expect(source).not.toMatch(/from\s+['"]node:/);
    expect(source).not.toMatch(/import\(\s*['"]/); // no literal dynamic import a bundler would follow
    expect(source).not.toMatch(/from\s+['"]ws['"]/);
    expect(source).not.toMatch(/\bprocess\./);
    expect(source).not.toMatch(/\bBuffer\b/);
    expect(source).not.toMatch(/\brequire\(/);
    for (const [, spec] of source.matchAll(/from\s+['"]([^'"]+)['"]/g)) {
      expect(spec!.startsWith('./') || spec!.startsWith('../codes/') || spec!.startsWith('../protocol/') || spec!.startsWith('../util/') || spec === '../errors.js').toBe(true);
    }
  });

  it('accepts the real implementations by type: ws, the DOM WebSocket, window', () => {
    // Compile-time checks (npm run typecheck); trivially true at run time.
    const fromWs: WebSocketConstructor = WsWebSocket;
    const fromDom: WebSocketConstructor | undefined = (globalThis as { WebSocket?: typeof WebSocket }).WebSocket;
    const env: ClientEnvironment | undefined = (globalThis as { window?: Window }).window;
    expect(typeof fromWs).toBe('function');
    void fromDom;
    void env;
  });
});
