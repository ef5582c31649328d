import { formatReason, truncateUtf8 } from '../protocol/index.js';
import type { TransportSocket, UpgradeInfo } from './transport.js';

/** Which side started the close of a connection. */
export type ClosedBy = 'server' | 'client' | 'transport';

/** What a connection reports to its server about its output. */
export interface OutputMeter {
  /** Bytes buffered for one peer above which it is a slow consumer and is closed (1013). */
  readonly maxBufferedBytes: number;
  /** A message was queued for the peer. */
  sent(): void;
  /** The peer was closed for not reading its output. */
  slowConsumer(connection: Connection): void;
}

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
    private readonly meter?: OutputMeter,
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
    // A peer that does not read must not make the server buffer without bound. It is closed with 1013
    // and a retry window: it reconnects and resumes from its last offset, so it loses nothing either.
    if (this.meter && this.socket.bufferedAmount() > this.meter.maxBufferedBytes) {
      this.meter.slowConsumer(this);
      this.closeWith(1013, { text: 'slow consumer: output buffer over limit', retry: { minMs: 1000, maxMs: 5000 } });
      return;
    }
    this.socket.send(data);
    this.meter?.sent();
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
