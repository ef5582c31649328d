import { formatReason } from '../../protocol/index.js';
import type { TransportSocket, UpgradeInfo } from './transport.js';

/** Which side started the close of a connection. */
export type ClosedBy = 'server' | 'client' | 'transport';

/** Why a message could not be sent ({@link Connection.send} returned false). */
export type UnsentReason = 'closing' | 'slow-consumer';

/** What a connection reports to its server about its output. */
export interface OutputMeter {
  /** Bytes buffered for one peer above which it is a slow consumer and is closed (1013). */
  readonly maxBufferedBytes: number;
  /** A message was queued for the peer. */
  sent(): void;
  /** A message could not go out: the handler is told (`send` returned false) and this counts it. */
  unsent(connection: Connection, reason: UnsentReason): void;
  /** The peer was closed for not reading its output. */
  slowConsumer(connection: Connection): void;
}

/**
 * Lifecycle of a {@link Connection}: `open`, then `closing` from the moment a closing handshake is
 * under way (either side started it, or a protocol error did), then `closed`.
 */
export type ConnectionState = 'open' | 'closing' | 'closed';

/** Output below this many buffered bytes counts as drained (see {@link Connection.drained}). */
export const DRAINED_BYTES = 64 * 1024;

/** @internal The tail of a chain with nothing queued: one settled promise shared by every connection. */
export const SETTLED: Promise<void> = Promise.resolve();

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
  #locals: Record<string, unknown> | undefined;

  #state: ConnectionState = 'open';
  /**
   * Set when the peer's Close arrived and ours has not gone out yet: replies to what the peer sent
   * before its Close may still go out (see `TransportEvents.peerClosing`).
   */
  #answeringPeerClose = false;
  /** @internal who started the close */ closedBy: ClosedBy | undefined;
  /** @internal set between a ping and its pong */ awaitingPong = false;
  /** @internal tail of this connection's serial handler chain */ chain: Promise<void> = SETTLED;
  // Inbound backpressure (`inbound.ts`): fields of the connection itself, not an object of their own per connection.
  /** @internal handler calls queued or running */ inboundCount = 0;
  /** @internal the bytes of the messages they carry (each with its overhead) */ inboundBytes = 0;
  /** @internal whether reading from the socket is paused */ inboundPaused = false;
  #closed: Promise<void> | undefined;
  #markClosed: (() => void) | undefined;

  #user: string | undefined;

  /**
   * Made by the server core when it accepts a socket (`ServerCore.accept`); an application never needs
   * to, though a test of its handlers may make one over a fake {@link TransportSocket}.
   */
  constructor(
    id: string,
    info: UpgradeInfo,
    private readonly socket: TransportSocket,
    user?: string,
    private readonly meter?: OutputMeter,
  ) {
    this.id = id;
    this.info = info;
    this.#user = user;
    this.openedAt = Date.now();
  }

  /** Free-form state for the application's handlers (made when first used). */
  get locals(): Record<string, unknown> {
    return (this.#locals ??= {});
  }

  /**
   * @internal resolves once the transport reports the close. Made when first asked for (a drain waits on
   * it; most connections never are asked), so an idle connection holds no promise and resolver for it.
   */
  get closed(): Promise<void> {
    this.#closed ??=
      this.#state === 'closed'
        ? SETTLED
        : new Promise<void>((resolve) => {
            this.#markClosed = resolve;
          });
    return this.#closed;
  }

  /** @internal the transport reported the close (after {@link setClosed}) */
  markClosed(): void {
    this.#markClosed?.();
    this.#markClosed = undefined;
  }

  /**
   * The identity the `authenticate` hook returned, if any: for the upgrade, or, on a `lifeline.v1`
   * connection whose `hello` carried credentials, for those (a refresh never changes it).
   */
  get user(): string | undefined {
    return this.#user;
  }

  /** @internal the credentials in `hello` named this user */
  authenticated(user: string | undefined): void {
    this.#user = user;
  }

  /** `open`, `closing` (a closing handshake is under way: sends no longer go out, except replies owed before the peer's Close) or `closed`. */
  get state(): ConnectionState {
    return this.#state;
  }

  /** The negotiated subprotocol, `''` for a plain WebSocket client. */
  get protocol(): string {
    return this.socket.protocol;
  }

  /** Bytes waiting to be written to this peer. */
  get bufferedAmount(): number {
    return this.socket.bufferedAmount();
  }

  /** Whether a message sent now can still go out. */
  get writable(): boolean {
    return this.#state === 'open' || (this.#state === 'closing' && this.#answeringPeerClose);
  }

  /**
   * Send a text (string) or binary (bytes) message. Returns true when it was queued for the peer,
   * false when it cannot go out: the connection is closing or closed, or the peer is not reading
   * (then it is closed with 1013 as a slow consumer). A false is counted in the server's metrics.
   */
  send(data: string | Uint8Array): boolean {
    if (!this.writable) {
      this.meter?.unsent(this, 'closing');
      return false;
    }
    // A peer that does not read must not make the server buffer without bound. It is closed with 1013
    // and a retry window: it reconnects and resumes from its last offset, so it loses nothing either.
    if (this.meter && this.socket.bufferedAmount() > this.meter.maxBufferedBytes) {
      this.meter.slowConsumer(this);
      this.meter.unsent(this, 'slow-consumer');
      this.closeWith(1013, { text: 'slow consumer: output buffer over limit', retry: { minMs: 1000, maxMs: 5000 } });
      return false;
    }
    if (!this.socket.send(data)) {
      this.meter?.unsent(this, 'closing');
      return false;
    }
    this.meter?.sent();
    return true;
  }

  /**
   * Close with a code and a reason. The reason is human text only: semicolons become commas, so no text
   * can make a field (`; incident=…`, `; retry=…`) a client would trust; it is cut to 123 bytes of UTF-8
   * on a character boundary.
   * @param code - @default 1000
   */
  close(code = 1000, reason = ''): void {
    this.#close(code, formatReason({ text: String(reason) }));
  }

  /** @internal close with lifeline's own structured reason fields (incident, retry hint) */
  closeWith(code: number, fields: Parameters<typeof formatReason>[0]): void {
    this.#close(code, formatReason(fields));
  }

  /** @param reason - a reason already in the grammar of docs/protocol.md §3, within 123 bytes */
  #close(code: number, reason: string): void {
    if (this.#state === 'closed' || (this.#state === 'closing' && !this.#answeringPeerClose)) return;
    this.#state = 'closing';
    this.#answeringPeerClose = false;
    this.closedBy ??= 'server';
    this.socket.close(code, reason);
  }

  /** @internal the peer's Close arrived; replies owed until ours goes out */
  peerClosing(): void {
    if (this.#state !== 'open') return;
    this.#state = 'closing';
    this.#answeringPeerClose = true;
    this.closedBy ??= 'client';
  }

  /** @internal our answer to the peer's Close is going out now */
  peerCloseAnswered(): void {
    this.#answeringPeerClose = false;
  }

  /** @internal the transport reported a protocol error: it is closing the connection itself */
  protocolClosing(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closing';
    this.#answeringPeerClose = false;
  }

  /** @internal the transport reported the close */
  setClosed(): void {
    this.#state = 'closed';
    this.#answeringPeerClose = false;
  }

  /** @internal drop the TCP connection without a handshake */
  terminate(): void {
    this.closedBy ??= 'server';
    if (this.#state !== 'closed') this.#state = 'closing';
    this.#answeringPeerClose = false;
    this.socket.terminate();
  }

  /** @internal */
  ping(): void {
    this.socket.ping();
  }

  /** @internal stop or start reading the peer's messages (inbound backpressure) */
  setReading(reading: boolean): void {
    if (this.inboundPaused === !reading) return;
    this.inboundPaused = !reading;
    if (reading) this.socket.resume();
    else this.socket.pause();
  }

  /**
   * @internal Resolves when the output buffered for the peer is below {@link DRAINED_BYTES}, or the
   * connection can no longer send: replays go on only as fast as the peer reads.
   */
  drained(): Promise<void> {
    if (!this.writable || this.socket.bufferedAmount() <= DRAINED_BYTES) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (): void => {
        if (!this.writable || this.socket.bufferedAmount() <= DRAINED_BYTES) resolve();
        else this.socket.onDrain(check);
      };
      this.socket.onDrain(check);
    });
  }
}
