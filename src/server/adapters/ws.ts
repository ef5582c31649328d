/**
 * The one file that imports `ws`: it turns an HTTP upgrade into a {@link TransportSocket}
 * and reports the socket's life through {@link TransportEvents}.
 * @packageDocumentation
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
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

class WsSocket implements TransportSocket {
  constructor(private readonly ws: WebSocket) {}
  get protocol(): string {
    return this.ws.protocol;
  }
  bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }
  send(data: string | Uint8Array): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(data);
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

/** Create the `ws`-backed adapter. */
export function createWsAdapter(options: WsAdapterOptions): WsAdapter {
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
      wss.handleUpgrade(request, socket, head, (ws) => {
        const info: UpgradeInfo = {
          remoteAddress: request.socket.remoteAddress ?? '',
          url: request.url ?? '/',
          headers: request.headers,
        };
        const events = accept(new WsSocket(ws), info);
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
      });
    },
    close() {
      wss.close();
    },
  };
}
