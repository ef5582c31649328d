import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/protocol/index.js';

const frames = readFileSync(new URL('../../src/protocol/frames.ts', import.meta.url), 'utf8');
const doc = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');

describe('docs/protocol.md covers the code', () => {
  const types = [...frames.matchAll(/readonly t: '([a-z-]+)'/g)].map((m) => m[1]!);

  it('finds the frame types in the source', () => {
    expect(types).toEqual(expect.arrayContaining(['hello', 'sub', 'unsub', 'msg', 'pub', 'ping', 'welcome', 'subscribed', 'unsubscribed', 'ev', 'ack', 'reject', 'error', 'pong']));
  });

  it('documents every frame type in the frame tables', () => {
    const section = doc.slice(doc.indexOf('## 7. Frames'), doc.indexOf('## 8.'));
    for (const t of types) expect(section, `frame ${t}`).toContain(`| \`${t}\``);
  });

  it('documents every error code, and no code that does not exist', () => {
    for (const code of Object.values(ErrorCode)) expect(doc, code).toContain(`\`${code}\``);
    const documented = new Set([...doc.matchAll(/`([A-Z][A-Z_]{3,})`/g)].map((m) => m[1]!));
    for (const code of documented) if (/^[A-Z]+(_[A-Z]+)+$|^(FORBIDDEN|UNAVAILABLE|LIMIT)$/.test(code)) expect(Object.values(ErrorCode) as string[], code).toContain(code);
  });
});
