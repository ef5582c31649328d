/**
 * A WebSocket peer written on a bare TCP socket, for what a well-behaved library will not do: frames
 * built byte by byte (reserved bits, stray continuations, tiny fragments, several frames in one write),
 * and a peer that stops reading (so the server's output piles up in TCP, as with a hostile client).
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';

/** Opcodes of RFC 6455 §5.2. */
export const OP = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

/** One frame to build. */
export interface FrameSpec {
  readonly opcode: number;
  readonly payload?: Buffer | string;
  /** @default true */
  readonly fin?: boolean;
  /** Reserved bits as a number 0-7 (RSV1 = 4, RSV2 = 2, RSV3 = 1). @default 0 */
  readonly rsv?: number;
  /** Clients must mask; @default true */
  readonly mask?: boolean;
}

/** The bytes of one frame. */
export function frame(spec: FrameSpec): Buffer {
  const payload = typeof spec.payload === 'string' ? Buffer.from(spec.payload, 'utf8') : (spec.payload ?? Buffer.alloc(0));
  const mask = spec.mask ?? true;
  const len = payload.length;
  const head: number[] = [((spec.fin ?? true) ? 0x80 : 0) | ((spec.rsv ?? 0) << 4) | spec.opcode];
  const maskBit = mask ? 0x80 : 0;
  if (len < 126) head.push(maskBit | len);
  else if (len < 65536) head.push(maskBit | 126, len >> 8, len & 0xff);
  else {
    head.push(maskBit | 127, 0, 0, 0, 0);
    head.push((len >>> 24) & 0xff, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff);
  }
  if (!mask) return Buffer.concat([Buffer.from(head), payload]);
  const key = randomBytes(4);
  const masked = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) masked[i] = payload[i]! ^ key[i & 3]!;
  return Buffer.concat([Buffer.from(head), key, masked]);
}

/** A text frame. */
export const textFrame = (text: string, fin = true): Buffer => frame({ opcode: OP.text, payload: text, fin });

/** A close frame with a code and reason. */
export function closeFrame(code: number, reason = ''): Buffer {
  const body = Buffer.alloc(2 + Buffer.byteLength(reason));
  body.writeUInt16BE(code, 0);
  body.write(reason, 2, 'utf8');
  return frame({ opcode: OP.close, payload: body });
}

/** A message split into frames of `size` bytes of payload each. */
export function fragments(payload: Buffer, size: number, opcode: number = OP.text): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < payload.length || out.length === 0; at += size) {
    const last = at + size >= payload.length;
    out.push(frame({ opcode: out.length === 0 ? opcode : OP.continuation, payload: payload.subarray(at, at + size), fin: last }));
  }
  return out;
}

/** A frame the server sent. */
export interface ServerFrameBytes {
  readonly opcode: number;
  readonly payload: Buffer;
  readonly fin: boolean;
}

/** A connected raw peer. */
export interface RawPeer {
  readonly socket: Socket;
  /** The HTTP status and headers of the handshake answer. */
  readonly status: number;
  readonly headers: Record<string, string>;
  /** Frames received so far (only while reading). */
  readonly frames: ServerFrameBytes[];
  /** The server's close frame, once one arrived: its code and reason. */
  readonly close: Promise<{ code: number; reason: string } | undefined>;
  /** Write raw bytes (one write: several frames in one TCP segment when small). */
  write(bytes: Buffer | Buffer[]): void;
  /** Text messages received so far. */
  texts(): string[];
  /** Wait until `predicate` holds over the frames received, or time out. */
  until(predicate: (frames: readonly ServerFrameBytes[]) => boolean, timeoutMs?: number): Promise<void>;
  /** Stop reading: the server's writes pile up in TCP buffers, as with a client that never reads. */
  stopReading(): void;
  destroy(): void;
}

const open = new Set<Socket>();

/** Destroy every raw peer a test left open. */
export function destroyRawPeers(): void {
  for (const s of open) s.destroy();
  open.clear();
}

/**
 * Open a TCP connection to 127.0.0.1:`port` and do the WebSocket handshake by hand.
 * @param options.protocol - a `Sec-WebSocket-Protocol` to offer (e.g. `lifeline.v1`)
 * @param options.headers - extra request headers (Origin, Cookie, ...)
 */
export async function rawConnect(port: number, options: { path?: string; protocol?: string; headers?: Record<string, string> } = {}): Promise<RawPeer> {
  const socket = connect({ port, host: '127.0.0.1' });
  open.add(socket);
  socket.on('error', () => {});
  await once(socket, 'connect');
  const key = randomBytes(16).toString('base64');
  const lines = [
    `GET ${options.path ?? '/'} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${key}`,
    'Sec-WebSocket-Version: 13',
    ...(options.protocol ? [`Sec-WebSocket-Protocol: ${options.protocol}`] : []),
    ...Object.entries(options.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);

  let buffer = Buffer.alloc(0);
  const response = await new Promise<{ status: number; headers: Record<string, string> }>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      buffer = Buffer.concat([buffer, chunk]);
      const end = buffer.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.off('data', onData);
      const [statusLine, ...headerLines] = buffer.subarray(0, end).toString('latin1').split('\r\n');
      buffer = buffer.subarray(end + 4);
      const headers: Record<string, string> = {};
      for (const line of headerLines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status: Number(statusLine!.split(' ')[1]), headers });
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error('closed during the handshake')));
  });

  const frames: ServerFrameBytes[] = [];
  const waiters = new Set<() => void>();
  let settleClose!: (close: { code: number; reason: string } | undefined) => void;
  const close = new Promise<{ code: number; reason: string } | undefined>((resolve) => (settleClose = resolve));
  const parse = (): void => {
    for (;;) {
      if (buffer.length < 2) return;
      const b0 = buffer[0]!;
      const b1 = buffer[1]!;
      let len = b1 & 0x7f;
      let at = 2;
      if (len === 126) {
        if (buffer.length < 4) return;
        len = buffer.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (buffer.length < 10) return;
        len = Number(buffer.readBigUInt64BE(2));
        at = 10;
      }
      if (buffer.length < at + len) return;
      const f = { opcode: b0 & 0x0f, fin: (b0 & 0x80) !== 0, payload: Buffer.from(buffer.subarray(at, at + len)) };
      buffer = buffer.subarray(at + len);
      frames.push(f);
      if (f.opcode === OP.close) settleClose(f.payload.length >= 2 ? { code: f.payload.readUInt16BE(0), reason: f.payload.subarray(2).toString('utf8') } : { code: 1005, reason: '' });
      for (const w of [...waiters]) w();
    }
  };
  socket.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    parse();
  });
  socket.on('close', () => {
    open.delete(socket);
    settleClose(undefined);
    for (const w of [...waiters]) w();
  });
  parse();
  return {
    socket,
    status: response.status,
    headers: response.headers,
    frames,
    close,
    write(bytes) {
      socket.write(Array.isArray(bytes) ? Buffer.concat(bytes) : bytes);
    },
    texts: () => frames.filter((f) => f.opcode === OP.text).map((f) => f.payload.toString('utf8')),
    until(predicate, timeoutMs = 10_000) {
      return new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (predicate(frames)) {
            clearTimeout(timer);
            waiters.delete(check);
            resolve();
          } else if (socket.destroyed) {
            clearTimeout(timer);
            waiters.delete(check);
            reject(new Error(`socket closed; frames: ${frames.map((f) => f.opcode).join(',')}`));
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out; ${frames.length} frames`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    stopReading() {
      socket.pause();
    },
    destroy() {
      socket.destroy();
    },
  };
}
