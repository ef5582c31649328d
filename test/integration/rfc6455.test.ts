/**
 * RFC 6455 framing beside `ws`, with frames built byte by byte: every protocol error `ws` can raise
 * closes with the code `ws` puts on the wire, and the log line and counter say that same code; replies
 * to messages that arrived before a bad frame or the peer's Close are not lost in silence; and the
 * fragment limit can be set.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type LifelineServer, type ServerOptions } from '../../src/server/index.js';
import { closeFrame, destroyRawPeers, fragments, frame, OP, rawConnect, textFrame } from '../support/raw-socket.js';

const servers: LifelineServer[] = [];
afterEach(async () => {
  destroyRawPeers();
  await Promise.all(servers.splice(0).map((s) => s.shutdown()));
});

interface Started {
  server: LifelineServer;
  port: number;
  logs: Record<string, unknown>[];
  /** The log lines as written (JSON text), to see what a parser keeping one of two equal keys would lose. */
  lines: string[];
}

/** An echo server whose log lines are kept. */
async function echo(options: ServerOptions = {}): Promise<Started> {
  const logs: Record<string, unknown>[] = [];
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) {
        if (!line) continue;
        lines.push(line);
        logs.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  const server = createServer({
    logger: pino({ level: 'info' }, sink),
    drainWindowMs: 0,
    graceMs: 1000,
    onMessage: (connection, data) => {
      connection.send(data);
    },
    ...options,
  });
  servers.push(server);
  const { port } = await server.listen(0);
  return { server, port, logs, lines };
}

/** Bytes of a 64-bit length header with the top bit set (a length no implementation can hold). */
function hugeLengthFrame(): Buffer {
  return Buffer.from([0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4]);
}

const cases: { name: string; bytes: () => Buffer; code: number; wsCode: string }[] = [
  { name: 'RSV2 set', bytes: () => frame({ opcode: OP.text, payload: 'x', rsv: 2 }), code: 1002, wsCode: 'WS_ERR_UNEXPECTED_RSV_2_3' },
  { name: 'RSV1 set without an extension', bytes: () => frame({ opcode: OP.text, payload: 'x', rsv: 4 }), code: 1002, wsCode: 'WS_ERR_UNEXPECTED_RSV_1' },
  { name: 'a reserved opcode', bytes: () => frame({ opcode: 0x3, payload: 'x' }), code: 1002, wsCode: 'WS_ERR_INVALID_OPCODE' },
  { name: 'a stray continuation', bytes: () => frame({ opcode: OP.continuation, payload: 'x' }), code: 1002, wsCode: 'WS_ERR_INVALID_OPCODE' },
  { name: 'a new message inside a fragmented one', bytes: () => Buffer.concat([frame({ opcode: OP.text, payload: 'a', fin: false }), frame({ opcode: OP.text, payload: 'b' })]), code: 1002, wsCode: 'WS_ERR_INVALID_OPCODE' },
  { name: 'a fragmented ping', bytes: () => frame({ opcode: OP.ping, payload: 'x', fin: false }), code: 1002, wsCode: 'WS_ERR_EXPECTED_FIN' },
  { name: 'an unmasked frame', bytes: () => frame({ opcode: OP.text, payload: 'x', mask: false }), code: 1002, wsCode: 'WS_ERR_EXPECTED_MASK' },
  { name: 'a ping over 125 bytes', bytes: () => frame({ opcode: OP.ping, payload: Buffer.alloc(126) }), code: 1002, wsCode: 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH' },
  { name: 'a close frame with one byte', bytes: () => frame({ opcode: OP.close, payload: Buffer.from([3]) }), code: 1002, wsCode: 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH' },
  { name: 'a close code that cannot be sent (1005)', bytes: () => closeFrame(1005), code: 1002, wsCode: 'WS_ERR_INVALID_CLOSE_CODE' },
  { name: 'invalid UTF-8 in a text message', bytes: () => frame({ opcode: OP.text, payload: Buffer.from([0x61, 0xff]) }), code: 1007, wsCode: 'WS_ERR_INVALID_UTF8' },
  { name: 'invalid UTF-8 in a close reason', bytes: () => frame({ opcode: OP.close, payload: Buffer.from([0x03, 0xe8, 0xff]) }), code: 1007, wsCode: 'WS_ERR_INVALID_UTF8' },
  { name: 'a message over maxPayload', bytes: () => textFrame('y'.repeat(70_000)), code: 1009, wsCode: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' },
  { name: 'a 64-bit length with the top bit set', bytes: hugeLengthFrame, code: 1009, wsCode: 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH' },
  { name: 'more fragments than maxFragments', bytes: () => Buffer.concat(fragments(Buffer.from('z'.repeat(40)), 1)), code: 1008, wsCode: 'WS_ERR_TOO_MANY_BUFFERED_PARTS' },
];

describe('protocol errors: the code on the wire is the code logged and counted', () => {
  for (const c of cases) {
    it(`${c.name}: ${c.code} (${c.wsCode}), after the reply to the message before it`, async () => {
      const { server, port, logs, lines } = await echo({ maxPayload: 65_536, maxFragments: 32 });
      const peer = await rawConnect(port);
      // A valid message and the bad frame in one write: the reply to the first must not vanish.
      peer.write([textFrame('before'), c.bytes()]);
      const close = await peer.close;
      expect(close?.code).toBe(c.code);
      const texts = peer.texts();
      expect(texts[0]).toBe('before');
      // The reply came before the close.
      expect(peer.frames.findIndex((f) => f.opcode === OP.text)).toBeLessThan(peer.frames.findIndex((f) => f.opcode === OP.close));
      await expect.poll(() => logs.find((l) => l.msg === 'peer protocol error')).toBeDefined();
      const logged = logs.find((l) => l.msg === 'peer protocol error')!;
      expect({ closeCode: logged.closeCode, code: logged.code }).toEqual({ closeCode: c.code, code: c.wsCode });
      // The ws library's own text is kept under a key of its own: a line with two "msg" keys loses one to
      // every JSON parser (and is not JSON that strict parsers accept).
      expect(typeof logged.detail === 'string' && logged.detail.length > 0).toBe(true);
      const line = lines.find((l) => l.includes('peer protocol error'))!;
      expect(line.match(/"msg":/g)).toHaveLength(1);
      expect(server.stats().protocolErrors).toEqual({ [c.code]: 1 });
    });
  }
});

describe('replies around the end of a connection', () => {
  it("the peer's Close in the same write as a message: an asynchronous handler's reply goes out before the server's Close", async () => {
    const { port } = await echo({
      onMessage: async (connection, data) => {
        await new Promise((r) => setTimeout(r, 30));
        connection.send(`async:${String(data)}`);
      },
    });
    const peer = await rawConnect(port);
    peer.write([textFrame('one'), textFrame('two'), closeFrame(1000, 'bye')]);
    const close = await peer.close;
    expect(close).toEqual({ code: 1000, reason: 'bye' });
    expect(peer.texts()).toEqual(['async:one', 'async:two']);
    const closeAt = peer.frames.findIndex((f) => f.opcode === OP.close);
    expect(peer.frames.slice(0, closeAt).filter((f) => f.opcode === OP.text)).toHaveLength(2);
  });

  it('a reply that can no longer go out (the server already answered a bad frame) is reported to the handler and counted', async () => {
    const results: boolean[] = [];
    const { server, port } = await echo({
      onMessage: async (connection, data) => {
        await new Promise((r) => setTimeout(r, 30));
        results.push(connection.send(data));
        results.push(connection.state === 'open');
      },
    });
    const peer = await rawConnect(port);
    peer.write([textFrame('lost'), frame({ opcode: 0x3, payload: 'x' })]);
    expect((await peer.close)?.code).toBe(1002);
    await expect.poll(() => results.length).toBe(2);
    expect(results).toEqual([false, false]);
    expect(server.stats().unsent.closing).toBe(1);
  });
});

describe('maxFragments', () => {
  const message = Buffer.alloc(4 * 1024 * 1024, 0x61);

  it('4 MiB in 64-byte fragments is closed with 1008 by the default limit (16384 fragments)', async () => {
    const { server, port } = await echo({ maxPayload: 8 * 1024 * 1024 });
    const peer = await rawConnect(port);
    peer.write(fragments(message, 64));
    expect((await peer.close)?.code).toBe(1008);
    expect(server.stats().protocolErrors).toEqual({ 1008: 1 });
  });

  it('with the limit raised, the same message is echoed whole', async () => {
    const { port } = await echo({ maxPayload: 8 * 1024 * 1024, maxFragments: 100_000 });
    const peer = await rawConnect(port);
    peer.write(fragments(message, 64));
    await peer.until((frames) => frames.some((f) => f.opcode === OP.text && f.fin), 30_000);
    const echoed = Buffer.concat(peer.frames.filter((f) => f.opcode === OP.text || f.opcode === OP.continuation).map((f) => f.payload));
    expect(echoed.length).toBe(message.length);
    expect(echoed.equals(message)).toBe(true);
  });
});

describe('beside a plain ws echo server, measured the same way', () => {
  /** What one case does to a server: the close code on the wire, and whether the reply came first. */
  async function grade(port: number, bytes: Buffer): Promise<{ code: number | undefined; replied: boolean }> {
    const peer = await rawConnect(port);
    peer.write([textFrame('before'), bytes]);
    const close = await peer.close;
    const textAt = peer.frames.findIndex((f) => f.opcode === OP.text);
    const closeAt = peer.frames.findIndex((f) => f.opcode === OP.close);
    return { code: close?.code, replied: textAt !== -1 && textAt < closeAt };
  }

  it('every case above closes with the same code as ws, and both reply first', async () => {
    const { WebSocketServer } = await import('ws');
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', maxPayload: 65_536, maxFragments: 32 } as ConstructorParameters<typeof WebSocketServer>[0]);
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    wss.on('connection', (ws) => {
      ws.on('error', () => {});
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
    try {
      const wsPort = (wss.address() as { port: number }).port;
      const { port } = await echo({ maxPayload: 65_536, maxFragments: 32 });
      const rows = [];
      for (const c of cases) {
        const bytes = c.bytes();
        rows.push({ case: c.name, ws: await grade(wsPort, bytes), lifeline: await grade(port, bytes) });
      }
      console.table(rows.map((r) => ({ case: r.case, ws: `${r.ws.code}${r.ws.replied ? ' +reply' : ''}`, lifeline: `${r.lifeline.code}${r.lifeline.replied ? ' +reply' : ''}` })));
      for (const r of rows) expect(r.lifeline, r.case).toEqual(r.ws);
      expect(rows.every((r) => r.lifeline.replied)).toBe(true);
    } finally {
      await new Promise((r) => wss.close(r));
    }
  });
});

describe('pings', () => {
  it('a burst of 1,000 pings read at once is answered pong for pong, each with its payload, and the connection stays open', async () => {
    const { port } = await echo();
    const peer = await rawConnect(port);
    const pings = Array.from({ length: 1000 }, (_, i) => frame({ opcode: OP.ping, payload: `p${i}`.padEnd(125, '.') }));
    peer.write(pings);
    await peer.until((frames) => frames.filter((f) => f.opcode === OP.pong).length >= 1000, 20_000);
    const pongs = peer.frames.filter((f) => f.opcode === OP.pong).map((f) => f.payload.toString().replace(/\.+$/, ''));
    expect(pongs).toEqual(Array.from({ length: 1000 }, (_, i) => `p${i}`));
    peer.write(textFrame('still here'));
    await peer.until((frames) => frames.some((f) => f.opcode === OP.text));
    expect(peer.texts()).toEqual(['still here']);
  });

  it('a flood of pings faster than their pongs can go out is a policy breach: closed with 1008 and a Close frame, logged and counted', async () => {
    const { server, port, logs } = await echo();
    const peer = await rawConnect(port);
    // 5,000 empty pings in one write: read and parsed in one go, far past the pongs the server holds.
    peer.write(Array.from({ length: 5000 }, () => frame({ opcode: OP.ping, payload: '' })));
    expect(await peer.close).toEqual({ code: 1008, reason: 'too many pings' });
    expect(peer.frames.filter((f) => f.opcode === OP.pong).length).toBeLessThanOrEqual(1024);
    expect(server.stats().protocolErrors).toEqual({ 1008: 1 });
    await expect.poll(() => logs.some((l) => l.closeCode === 1008 && l.code === 'LIFELINE_ERR_PING_FLOOD')).toBe(true);
  });
});
