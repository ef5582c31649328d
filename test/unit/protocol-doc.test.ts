import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LifelineCloseCode } from '../../src/codes/index.js';
import { ProtocolErrorCode } from '../../src/protocol/index.js';

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
    for (const code of Object.values(ProtocolErrorCode)) expect(doc, code).toContain(`\`${code}\``);
    const documented = new Set([...doc.matchAll(/`([A-Z][A-Z_]{3,})`/g)].map((m) => m[1]!));
    for (const code of documented) if (/^[A-Z]+(_[A-Z]+)+$|^(FORBIDDEN|UNAVAILABLE|LIMIT)$/.test(code)) expect(Object.values(ProtocolErrorCode) as string[], code).toContain(code);
  });
});

describe('docs/protocol.md answers what a third-party client must know', () => {
  const section = (n: number) => {
    const start = doc.indexOf(`\n## ${n}. `);
    const end = doc.indexOf('\n## ', start + 1);
    return doc.slice(start, end < 0 ? undefined : end);
  };

  it('lists every close code the server sends, lifeline.v1 codes included, with the client reaction to each, 1005 and unexpected codes too', () => {
    const codes = section(2);
    for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1011, 1012, 1013, ...Object.values(LifelineCloseCode)]) expect(codes, String(code)).toContain(`| ${code} |`);
    const reactions = section(5);
    for (const code of ['1005', '1006', '4801', '4802', '3000–4999', '1016–2999']) expect(reactions, code).toContain(code);
  });

  it('gives the defaults a client needs and every HTTP status, 403 reserved_channel included', () => {
    const defaults = section(5);
    for (const fact of ['base 500 ms', 'cap 30000 ms', 'stableAfterMs', '1000–5000 ms', '10000 ms', '30000 ms', '2.5 ×']) expect(defaults, fact).toContain(fact);
    for (const status of ['| 401', '| 403', '| 500', '| 503', '| 409', '| 413', '| 400']) expect(doc, status).toContain(status);
    expect(doc).toContain('`reserved_channel`');
    expect(section(2)).toContain('Browsers cannot');
  });

  it('says what the head is, how a client knows restoring is finished, that pings count as traffic, and links the schema', () => {
    expect(section(9)).toContain('**The head.**');
    expect(section(8)).toContain('**Knowing that restoring is finished.**');
    expect(section(1)).toContain('Any message from the peer counts as an answer, as does a pong');
    expect(doc).toContain('schema/lifeline.v1.schema.json');
    expect(section(7)).toContain('`epoch`');
  });
});
