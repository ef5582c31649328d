/**
 * One registry of error codes (src/errors.ts `ERROR_CODES`), held to its documentation and to the source both ways:
 * every code has an entry in docs/errors.md and every entry is a code; every code is raised by the class the
 * table names, and every `LifelineError` subclass in the source carries a registered code. The exhaustive
 * `switch` below is checked by the type checker (`npm run typecheck`): a code added to the table without a case
 * here fails to compile.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, LifelineError, type LifelineErrorCode } from '../../src/errors.js';
import * as client from '../../src/client/index.js';
import * as server from '../../src/server/index.js';
import * as store from '../../src/store/index.js';
import * as codes from '../../src/codes/index.js';
import * as protocol from '../../src/protocol/index.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(dir, name);
    return statSync(join(ROOT, path)).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Exhaustive over the union: the compiler refuses this function if a code has no case. */
function sourceOf(code: LifelineErrorCode): string {
  switch (code) {
    case 'LIFELINE_ERR_NOT_OPEN':
    case 'LIFELINE_ERR_CLIENT_CLOSED':
    case 'LIFELINE_ERR_SOCKET':
    case 'LIFELINE_ERR_DEAD_LINK':
    case 'LIFELINE_ERR_URL':
    case 'LIFELINE_ERR_NO_WEBSOCKET':
    case 'LIFELINE_ERR_CONNECT':
    case 'LIFELINE_ERR_POLICY':
    case 'LIFELINE_ERR_LISTENER':
    case 'LIFELINE_ERR_QUEUE_FULL':
    case 'LIFELINE_ERR_REJECTED':
    case 'LIFELINE_ERR_CREDENTIALS':
    case 'LIFELINE_ERR_SERVER':
    case 'LIFELINE_ERR_SERVER_FRAME':
    case 'LIFELINE_ERR_SUBPROTOCOL':
      return 'client';
    case 'LIFELINE_ERR_FRAME':
    case 'LIFELINE_ERR_UNKNOWN_FRAME':
      return 'protocol';
    case 'LIFELINE_ERR_INVALID_CLOSE_CODE':
      return 'codes';
    case 'LIFELINE_ERR_CLOSE':
    case 'LIFELINE_ERR_DECLINED':
    case 'LIFELINE_ERR_HANDLER_FAILED':
    case 'LIFELINE_ERR_PRESENCE_UNAVAILABLE':
    case 'LIFELINE_ERR_PING_FLOOD':
      return 'server';
    case 'LIFELINE_ERR_STORE':
    case 'LIFELINE_ERR_STORE_UNAVAILABLE':
    case 'LIFELINE_ERR_STORE_OUTCOME_UNKNOWN':
    case 'LIFELINE_ERR_IDEMPOTENCY_CONFLICT':
    case 'LIFELINE_ERR_ID_FORGOTTEN':
      return 'store';
    case 'LIFELINE_ERR_MISSING_DEPENDENCY':
      return 'package';
    case 'LIFELINE_ERR_USAGE':
    case 'LIFELINE_ERR_WORKER_START':
      return 'cli';
    default: {
      const unhandled: never = code;
      return unhandled;
    }
  }
}

const registered = Object.keys(ERROR_CODES) as LifelineErrorCode[];
const doc = read('docs/errors.md');
const documented = [...doc.matchAll(/^### `(LIFELINE_ERR_[A-Z_]+)`$/gm)].map((m) => m[1]!);
const files = sources('src').map((path) => ({ path, text: read(path) }));

describe('the error registry', () => {
  it('has codes, each in the part of lifeline the table says (the exhaustive switch agrees)', () => {
    expect(registered.length).toBeGreaterThan(20);
    for (const code of registered) expect(sourceOf(code), code).toBe(ERROR_CODES[code].source);
  });

  it('docs/errors.md has one entry per code, and no entry that is not a code', () => {
    // LIFELINE_ERR_DECLINED is raised on both sides (the server's class and the client's), documented once per side.
    expect(new Set(documented)).toEqual(new Set(registered));
    for (const code of registered) {
      const entries = documented.filter((d) => d === code).length;
      expect(entries, code).toBe(code === 'LIFELINE_ERR_DECLINED' ? 2 : 1);
      const entry = doc.slice(doc.indexOf(`### \`${code}\``)).split('\n### ')[0]!;
      expect(entry, `${code} names its class`).toContain(`\`${ERROR_CODES[code].className}\``);
      expect(entry, `${code} says when`).toContain('**When:**');
    }
  });

  it('every code is raised in the source by the class the table names', () => {
    for (const code of registered) {
      const { className } = ERROR_CODES[code];
      const declaring = files.filter((f) => new RegExp(`export class ${className}\\b`).test(f.text));
      // DeclinedError exists on both sides of the wire (the server's, thrown by handlers; the client's rejection).
      expect(declaring.length, `${className} is declared`).toBe(code === 'LIFELINE_ERR_DECLINED' ? 2 : 1);
      const raisers = files.filter((f) => f.path !== join('src', 'errors.ts') && f.text.includes(`'${code}'`));
      expect(raisers.length, `${code} appears in the source outside the table`).toBeGreaterThan(0);
    }
  });

  it('every LifelineError subclass in the source carries a registered code', () => {
    const classes = files.flatMap((f) => [...f.text.matchAll(/export class (\w+)(?:<[^>]*>)? extends (\w+)/g)].map((m) => ({ name: m[1]!, base: m[2]! })));
    const lifeline = new Set(['LifelineError']);
    // Close the subclass relation over the source, however deep.
    for (let grew = true; grew; ) {
      grew = false;
      for (const c of classes) if (lifeline.has(c.base) && !lifeline.has(c.name)) (lifeline.add(c.name), (grew = true));
    }
    const named = new Set(Object.values(ERROR_CODES).map((e) => e.className));
    // Subclasses that share their parent's code (CloseError's three) are not in the table under their own name.
    const sharing = new Set(['PolicyViolationError', 'UnsupportedDataError', 'InvalidPayloadError']);
    for (const name of lifeline) if (name !== "LifelineError" && !sharing.has(name)) expect((named as Set<string>).has(name), `${name} is in ERROR_CODES`).toBe(true);
  });

  it('instances carry the registered code and are LifelineErrors, from the public entries', () => {
    const made: LifelineError[] = [
      new client.QueueFullError(3),
      new client.RejectedError(1, 'FORBIDDEN'),
      new client.DeclinedError(1, 'out_of_stock', 'none left'),
      new client.ServerError('LIMIT', 'too many'),
      new server.PolicyViolationError('no'),
      new server.DeclinedError('out_of_stock', 'none left'),
      new store.StoreUnavailableError(),
      new store.StoreOutcomeUnknownError(),
      new store.StoreError('broken'),
      new codes.InvalidCloseCodeError(70_000),
      new protocol.FrameError(1002, 'bad'),
    ];
    for (const error of made) {
      expect(error).toBeInstanceOf(LifelineError);
      expect(registered).toContain(error.code);
      expect(error.name, error.code).toBe(ERROR_CODES[error.code].className === 'CloseError' ? 'PolicyViolationError' : ERROR_CODES[error.code].className);
    }
    expect(new client.DeclinedError(1, 'x', '')).toMatchObject({ code: 'LIFELINE_ERR_DECLINED', protocolCode: 'DECLINED' });
    expect(new client.DeclinedError(1, 'x', '')).toBeInstanceOf(client.RejectedError);
    expect(new store.StoreOutcomeUnknownError()).toBeInstanceOf(store.StoreUnavailableError);
  });
});
