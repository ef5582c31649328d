/**
 * The one file that imports `ws`: it turns an HTTP upgrade into a {@link TransportSocket}
 * and reports the socket's life through {@link TransportEvents}.
 * @packageDocumentation
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { requireOptional } from '../../optional-dependency.js';
import type { TransportEvents, TransportSocket, UpgradeInfo } from '../transport.js';

/** Options of the `ws` adapter. */
export interface WsAdapterOptions {
  /** Largest accepted message in bytes; larger ones close with 1009 (by `ws`). */
  readonly maxPayload: number;
  /** Subprotocols this server speaks, in order of preference. */
  readonly subprotocols: readonly string[];
}

/** An upgrade handler bound to one `ws` server. */
export interface WsAdapter {
  /**
   * Complete a WebSocket handshake and hand the socket to `accept`, which returns the sink for its events.
   */
  upgrade(
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    accept: (socket: TransportSocket, info: UpgradeInfo) => TransportEvents,
  ): void;
  /** Stop the `ws` server (does not touch sockets already handed over). */
  close(): void;
}

/** `ws` reports the close code a protocol error caused on the error object. */
function closeCodeOf(error: Error): number {
  const code = (error as { code?: string }).code;
  switch (code) {
    case 'WS_ERR_INVALID_UTF8':
      return 1007;
    case 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH':
      return 1009;
    default:
      // Other WS_ERR_* codes (bad opcode, RSV bits, masking, control frame rules) are all 1002.
      return 1002;
  }
}

/**
 * Sockets written to since the event loop last turned. Each is corked on its first write and uncorked
 * once, in `setImmediate`: every frame queued for a peer in one turn (a burst of channel messages, the
 * replies to pipelined requests) leaves in one write system call instead of one per frame.
 */
let corked: WsSocket[] = [];
function uncorkAll(): void {
  const sockets = corked;
  corked = [];
  for (const s of sockets) s.uncork();
}

class WsSocket implements TransportSocket {
  private corked = false;
  /** @param raw - the TCP socket under `ws`, to cork and uncork (Node's public stream API; `ws` writes to it) */
  constructor(
    private readonly ws: WebSocket,
    private readonly raw: Duplex,
  ) {}
  get protocol(): string {
    return this.ws.protocol;
  }
  bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }
  send(data: string | Uint8Array): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    if (!this.corked) {
      this.corked = true;
      this.raw.cork();
      if (corked.push(this) === 1) setImmediate(uncorkAll);
    }
    this.ws.send(data);
  }
  uncork(): void {
    this.corked = false;
    this.raw.uncork();
  }
  close(code: number, reason: string): void {
    if (this.ws.readyState === this.ws.CLOSED) return;
    this.ws.close(code, reason);
  }
  terminate(): void {
    this.ws.terminate();
  }
  ping(): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.ping();
  }
}

/**
 * Report one socket's life to the core. At module level so that the listeners, which live as long as
 * the socket, close over `ws` and `events` only, never over the upgrade request.
 */
function wire(ws: WebSocket, events: TransportEvents): void {
  let closed = false;
  ws.on('message', (data, isBinary) => {
    // `ws` hands over Buffer (default binaryType 'nodebuffer'); text is decoded here once.
    const buf = data as Buffer;
    events.message(isBinary ? new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength) : buf.toString('utf8'), isBinary);
  });
  ws.on('pong', () => events.pong());
  // Without an 'error' listener a malformed frame would throw out of the socket and take the process down.
  ws.on('error', (error) => events.protocolError(error, closeCodeOf(error)));
  ws.on('close', (code, reason) => {
    if (closed) return;
    closed = true;
    events.closed(code, reason.toString('utf8'));
  });
}

/** Create the `ws`-backed adapter. */
export function createWsAdapter(options: WsAdapterOptions): WsAdapter {
  const { WebSocketServer } = requireOptional<typeof import('ws')>('ws', 'createServer');
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: options.maxPayload,
    // Compression costs CPU and memory per connection and opens CRIME-style questions; off by default.
    perMessageDeflate: false,
    clientTracking: false,
    // The server's order of preference decides, not the order the client listed them in.
    handleProtocols: (protocols) => options.subprotocols.find((p) => protocols.has(p)) ?? false,
  });

  return {
    upgrade(request, socket, head, accept) {
      // Read before the handshake: nothing that outlives it may hold the request (about 1.2 KB of heap
      // and 2 KB of RSS per connection: the IncomingMessage, its raw headers and parser buffer).
      const info: UpgradeInfo = {
        remoteAddress: request.socket.remoteAddress ?? '',
        url: request.url ?? '/',
        headers: request.headers,
      };
      wss.handleUpgrade(request, socket, head, (ws) => wire(ws, accept(new WsSocket(ws, socket), info)));
    },
    close() {
      wss.close();
    },
  };
}
