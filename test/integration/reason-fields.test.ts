/**
 * Close reasons the server sends follow the grammar of docs/protocol.md §3: application text can never
 * produce a field a client trusts (`incident=`, `retry=`), while lifeline's own reasons keep theirs.
 */
import { describe, expect, it } from 'vitest';
import { createClient, type CloseInfo } from '../../src/client/index.js';
import { parseReason } from '../../src/protocol/index.js';
import { SUCCESSOR_RETRY_JITTER_MS } from '../../src/server/core/drain.js';
import { CloseError, PolicyViolationError, type LifelineServer, type ServerOptions } from '../../src/server/index.js';
import { useKit } from '../support/kit.js';
import { connectV1 } from '../support/v1-peer.js';
import { connectPeer } from '../support/ws-peer.js';

const kit = useKit();
/** The server the test started last. */
let server: LifelineServer | undefined;

/** Start a server (the latest is `server`); the kit shuts all down after the test. */
async function start(options: ServerOptions): Promise<string> {
  const started = await kit.start({ closeTimeoutMs: 200, ...options });
  server = started.server;
  return started.url;
}

/** A reason in the grammar: no field but the ones named, and text without a semicolon. */
function fieldsOf(reason: string): string[] {
  return reason.split(';').slice(1).map((f) => f.trim().split('=')[0]!);
}

describe('reason fields cannot be forged by application text', () => {
  it("a handler's PolicyViolationError('a; b; incident=fake_id') reaches the client as text, without an incident", async () => {
    const url = await start({
      onMessage: (connection, data) => {
        const text = String(data);
        if (text === 'policy') throw new PolicyViolationError('a; b; incident=fake_id');
        if (text === 'close') connection.close(4000, 'bye; retry=1ms; incident=inc_0000');
      },
    });
    const policy = await connectPeer(url);
    policy.ws.send('policy');
    const seen = await policy.closed;
    expect(seen.code).toBe(1008);
    expect(seen.reason).toBe('a, b, incident=fake_id');
    expect(parseReason(seen.reason).incident).toBeUndefined();

    const closed = await connectPeer(url);
    closed.ws.send('close');
    const other = await closed.closed;
    expect(other.code).toBe(4000);
    expect(fieldsOf(other.reason)).toEqual([]);
    expect(parseReason(other.reason)).toEqual({ text: 'bye, retry=1ms, incident=inc_0000' });
  });

  it('the same holds for a lifeline.v1 handler, and lifeline\'s client reports no incident for it', async () => {
    const url = await start({
      onSessionMessage: () => {
        throw new CloseError(1008, 'nope; incident=inc_forged; retry=0ms');
      },
    });
    const peer = await connectV1(url);
    peer.send({ t: 'hello', v: 1 });
    await peer.next((f) => f.t === 'welcome');
    peer.send({ t: 'msg', id: 1, data: null });
    const seen = await peer.closed;
    expect([seen.code, seen.reason]).toEqual([1008, 'nope, incident=inc_forged, retry=0ms']);

    const plain = await start({
      onMessage: () => {
        throw new PolicyViolationError('x; incident=inc_forged');
      },
    });
    const client = createClient({ url: plain, maxAttempts: 0 });
    const close = await new Promise<CloseInfo>((resolve) => {
      client.on('open', () => client.send('hi'));
      client.on('close', resolve);
    });
    client.close();
    expect(close.code).toBe(1008);
    expect(close.incident).toBeUndefined();
  });

  it("lifeline's own reasons keep their fields: 1011 incident, 1012 retry, and a restart sent as 1001 still says restart", async () => {
    const url = await start({
      plainRestartCode: 1001,
      onMessage: (connection, data) => {
        if (String(data) === 'crash') throw new Error('boom; incident=inc_forged');
        connection.send('ok');
      },
    });
    const crash = await connectPeer(url);
    crash.ws.send('crash');
    const crashed = await crash.closed;
    expect(crashed.code).toBe(1011);
    expect(fieldsOf(crashed.reason)).toEqual(['incident']);
    expect(parseReason(crashed.reason).incident).toBe(server!.recentIncidents()[0]!.id);

    const plainPeer = await connectPeer(url);
    const v1 = await connectV1(url);
    v1.send({ t: 'hello', v: 1 });
    await v1.next((f) => f.t === 'welcome');
    void server!.restart();
    const [plain, session] = await Promise.all([plainPeer.closed, v1.closed]);
    expect(plain.code).toBe(1001);
    // An in-process restart keeps serving: the hint says "now" (0 to a small jitter), whichever code carries it.
    expect(parseReason(plain.reason)).toEqual({ text: 'service restart', retry: { minMs: 0, maxMs: SUCCESSOR_RETRY_JITTER_MS } });
    expect(session.code).toBe(1012);
    expect(parseReason(session.reason)).toEqual({ text: 'service restart', retry: { minMs: 0, maxMs: SUCCESSOR_RETRY_JITTER_MS } });
  });
});
