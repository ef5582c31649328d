import { formatReason, truncateUtf8 } from '../protocol/index.js';
import type { TransportSocket, UpgradeInfo } from './transport.js';

/** Which side started the close of a connection. */
export type ClosedBy = 'server' | 'client' | 'transport';

/** Lifecycle of a {@link Connection}. */
export type ConnectionState = 'open' | 'closing' | 'closed';

/**
 * One client connection, as handlers see it. Handlers for the same connection run one at a time,
 * in the order messages arrived.
 */
export class Connection {
  /** Unique id, used in logs, incidents and metrics-free diagnostics. */
  readonly id: string;
  /** The upgrade request's facts (address, path, headers). */
  readonly info: UpgradeInfo;
  /** When the connection opened, in ms since the epoch. */
  readonly openedAt: number;
  /** Free-form state for the application's handlers. */
  readonly locals: Record<string, unknown> = {};

  /** @internal */ state: ConnectionState = 'open';
  /** @internal who started the close */ closedBy: ClosedBy | undefined;
  /** @internal set between a ping and its pong */ awaitingPong = false;
  /** @internal handler calls queued or running */ pending = 0;
  /** @internal tail of this connection's serial handler chain */ chain: Promise<void> = Promise.resolve();
  /** @internal resolves once the transport reports the close */ readonly closed: Promise<void>;
  /** @internal */ markClosed!: () => void;

  /** @internal created by the server core */
  constructor(
    id: string,
    info: UpgradeInfo,
    private readonly socket: TransportSocket,
    /** The identity the `authenticate` hook returned, if any. */
    readonly user?: string,
  ) {
    this.id = id;
    this.info = info;
    this.openedAt = Date.now();
    this.closed = new Promise((resolve) => {
      this.markClosed = resolve;
    });
  }

  /** The negotiated subprotocol, `''` for a plain WebSocket client. */
  get protocol(): string {
    return this.socket.protocol;
  }

  /** Bytes waiting to be written to this peer. */
  get bufferedAmount(): number {
    return this.socket.bufferedAmount();
  }

  /** Send a text (string) or binary (bytes) message. Ignored once the connection is closing. */
  send(data: string | Uint8Array): void {
    if (this.state !== 'open') return;
    this.socket.send(data);
  }

  /**
   * Close with a code and a reason. The reason is cut to 123 bytes of UTF-8 on a character boundary.
   * @param code - @default 1000
   */
  close(code = 1000, reason = ''): void {
    if (this.state !== 'open') return;
    this.state = 'closing';
    this.closedBy ??= 'server';
    this.socket.close(code, truncateUtf8(reason));
  }

  /** @internal close with structured reason fields (incident, retry hint) */
  closeWith(code: number, fields: Parameters<typeof formatReason>[0]): void {
    this.close(code, formatReason(fields));
  }

  /** @internal drop the TCP connection without a handshake */
  terminate(): void {
    this.closedBy ??= 'server';
    this.state = 'closing';
    this.socket.terminate();
  }

  /** @internal */
  ping(): void {
    this.socket.ping();
  }
}
