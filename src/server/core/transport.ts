/**
 * The minimal socket interface the server core runs on. An adapter (see `adapters/ws.ts`)
 * wraps a concrete WebSocket implementation into it; the core never sees the library.
 * @packageDocumentation
 */

/** One accepted WebSocket, as the core needs it. */
export interface TransportSocket {
  /** The negotiated subprotocol, or `''`. */
  readonly protocol: string;
  /** Bytes queued by the transport but not yet written to the network. */
  bufferedAmount(): number;
  /**
   * Queue one message. Strings go as text frames, bytes as binary frames. Returns false when the
   * message cannot go out any more (the closing handshake has started, or the socket is gone): it was
   * dropped, and the caller must count or report that, never assume it was sent.
   */
  send(data: string | Uint8Array): boolean;
  /** Start the closing handshake. `reason` must already fit in 123 bytes of UTF-8. */
  close(code: number, reason: string): void;
  /** Destroy the connection without a closing handshake. */
  terminate(): void;
  /** Send a ping control frame. */
  ping(): void;
  /** Stop reading from the peer (TCP flow control then pushes back on it); a few messages already read may still arrive. */
  pause(): void;
  /** Read from the peer again after {@link TransportSocket.pause}. */
  resume(): void;
  /** Call `listener` once, when the output buffered for the peer has been written out, or the socket closed. */
  onDrain(listener: () => void): void;
}

/** What the adapter reports about a socket, in the order it happens. */
export interface TransportEvents {
  /** A complete data message arrived. */
  message(data: string | Uint8Array, isBinary: boolean): void;
  /** A pong arrived (answer to our ping, or unsolicited). */
  pong(): void;
  /**
   * The peer's Close arrived. Messages it sent before it may still be being handled: the adapter
   * answers the Close once the returned promise settles (the core bounds the wait), so their replies
   * can go out first. Until then {@link TransportSocket.send} still works.
   */
  peerClosing(code: number, reason: string): Promise<void> | void;
  /**
   * The peer broke the protocol (bad frame, invalid UTF-8, oversize). The transport has already
   * closed, or is closing, with `closeCode` (the code it actually sent); the core only records it.
   */
  protocolError(error: Error, closeCode: number): void;
  /** The connection is closed, for whatever reason. Called exactly once. */
  closed(code: number, reason: string): void;
}

/** Facts about the HTTP request that opened a socket. */
export interface UpgradeInfo {
  /** Remote address of the peer. */
  readonly remoteAddress: string;
  /** The request path and query. */
  readonly url: string;
  /** Request headers, lower-cased names. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}
