/**
 * Errors the client throws (from user calls) or emits (on its `error` event).
 * Every one is a {@link LifelineError} with a stable `code`; branch on the code, never the message.
 *
 * Their data fields are `declare`d and set in the constructor: a plain declaration would also be
 * emitted as a class field (ES2022) that the constructor then overwrites, in every browser bundle.
 * @packageDocumentation
 */
import { LifelineError } from '../errors.js';
import type { ProtocolErrorCode } from '../protocol/frames.js';

/** `send()` was called while the connection is not open. Thrown synchronously to the caller. */
export class NotOpenError extends LifelineError<'LIFELINE_ERR_NOT_OPEN'> {
  override name = 'NotOpenError';
  /** The client's state at the time of the call. */
  declare readonly state: string;

  /** @param state - the client's state when `send()` was called */
  constructor(state: string, options?: ErrorOptions) {
    super('LIFELINE_ERR_NOT_OPEN', `cannot send: the connection is ${state}, not open`, options);
    this.state = state;
  }
}

/** `connect()`/`reconnect()` was called after `close()`: a closed client is final; create a new one. */
export class ClientClosedError extends LifelineError<'LIFELINE_ERR_CLIENT_CLOSED'> {
  override name = 'ClientClosedError';
  constructor(options?: ErrorOptions) {
    super('LIFELINE_ERR_CLIENT_CLOSED', 'the client is closed: create a new one to connect again', options);
  }
}

/**
 * The underlying socket reported an error (connection refused, HTTP 503 during a drain, TLS failure ...).
 * Emitted on `error`; the close that follows (code 1006) drives the reconnect. `cause` holds what the
 * WebSocket implementation gave, when it gave anything (browsers give no detail by design).
 */
export class SocketError extends LifelineError<'LIFELINE_ERR_SOCKET'> {
  override name = 'SocketError';
  constructor(message: string, options?: ErrorOptions) {
    super('LIFELINE_ERR_SOCKET', message, options);
  }
}

/** No message arrived within `deadLinkMs`; the client gave up on the socket and reconnects as for 1006. */
export class DeadLinkError extends LifelineError<'LIFELINE_ERR_DEAD_LINK'> {
  override name = 'DeadLinkError';
  /** How long the link had been silent, in milliseconds, when it was declared dead. */
  declare readonly silentMs: number;

  /** @param silentMs - milliseconds since the last received traffic */
  constructor(silentMs: number, options?: ErrorOptions) {
    super('LIFELINE_ERR_DEAD_LINK', `no traffic for ${Math.round(silentMs)} ms: the link is dead`, options);
    this.silentMs = silentMs;
  }
}

/** The `url` option's function threw, rejected, or produced something that is not a non-empty string. */
export class UrlError extends LifelineError<'LIFELINE_ERR_URL'> {
  override name = 'UrlError';
  constructor(message: string, options?: ErrorOptions) {
    super('LIFELINE_ERR_URL', message, options);
  }
}

/** No WebSocket implementation: none injected, no `globalThis.WebSocket`, and `ws` could not be loaded. */
export class WebSocketUnavailableError extends LifelineError<'LIFELINE_ERR_NO_WEBSOCKET'> {
  override name = 'WebSocketUnavailableError';
  constructor(options?: ErrorOptions) {
    super('LIFELINE_ERR_NO_WEBSOCKET', 'no WebSocket: pass the WebSocket option, or install the "ws" package outside browsers', options);
  }
}

/** Creating the socket failed synchronously (for example an invalid URL): retrying the same call cannot help. */
export class ConnectError extends LifelineError<'LIFELINE_ERR_CONNECT'> {
  override name = 'ConnectError';
  constructor(message: string, options?: ErrorOptions) {
    super('LIFELINE_ERR_CONNECT', message, options);
  }
}

/** The `policy` or `applicationCodes` option threw or returned something invalid; the default was used instead. */
export class PolicyError extends LifelineError<'LIFELINE_ERR_POLICY'> {
  override name = 'PolicyError';
  constructor(message: string, options?: ErrorOptions) {
    super('LIFELINE_ERR_POLICY', message, options);
  }
}

/** An event listener threw. The client carries on; the thrown value is the `cause`. */
export class ListenerError extends LifelineError<'LIFELINE_ERR_LISTENER'> {
  override name = 'ListenerError';
  /** The event whose listener threw. */
  declare readonly event: string;

  /** @param event - the event name; `cause` should carry the thrown value */
  constructor(event: string, options?: ErrorOptions) {
    super('LIFELINE_ERR_LISTENER', `a listener for "${event}" threw`, options);
    this.event = event;
  }
}

// ---- lifeline.v1 sessions ----

/**
 * The session's outbox is full (`maxQueue` unacknowledged plus queued messages): this message was
 * not accepted. Rejects the `send()`/`publish()` call and is also emitted on `error`, so an overflow
 * is never silent.
 */
export class QueueFullError extends LifelineError<'LIFELINE_ERR_QUEUE_FULL'> {
  override name = 'QueueFullError';
  /** The `maxQueue` limit that was reached. */
  declare readonly limit: number;

  /** @param limit - the outbox limit */
  constructor(limit: number, options?: ErrorOptions) {
    super('LIFELINE_ERR_QUEUE_FULL', `the outbox is full (${limit} messages pending): the message was not accepted`, options);
    this.limit = limit;
  }
}

/**
 * The server answered `reject`: this message will never succeed and is not resent.
 * `protocolCode` is the protocol's error code: `HANDLER_FAILED` (the handler failed on it; `incident`
 * names the server-side log entry), `OUTCOME_UNKNOWN` (the server died while handling it; it may or
 * may not have taken effect), `FORBIDDEN` (a publish the server does not allow) ...
 */
export class RejectedError<C extends 'LIFELINE_ERR_REJECTED' | 'LIFELINE_ERR_DECLINED' = 'LIFELINE_ERR_REJECTED'> extends LifelineError<C> {
  override name = 'RejectedError';
  /** The protocol's error code from the `reject` frame (`HANDLER_FAILED`, `FORBIDDEN`, `DECLINED` ...). */
  declare readonly protocolCode: ProtocolErrorCode;
  /** The server's incident id, for `HANDLER_FAILED`. */
  declare readonly incident: string | undefined;
  /** The rejected message's id. */
  declare readonly id: number;

  /**
   * @param id - the message id
   * @param protocolCode - the `reject` frame's code
   * @param incident - the `reject` frame's incident id, if any
   */
  constructor(id: number, protocolCode: ProtocolErrorCode, incident?: string, options?: ErrorOptions) {
    // A FORBIDDEN reject answers a publish: say where that is decided, since by default nothing is allowed.
    const hint = incident ? ` (incident ${incident})` : protocolCode === 'FORBIDDEN' ? ": the server's authorizePublish did not allow it (by default no client may publish)" : '';
    super((protocolCode === 'DECLINED' ? 'LIFELINE_ERR_DECLINED' : 'LIFELINE_ERR_REJECTED') as C, `message ${id} was rejected by the server: ${protocolCode}${hint}`, options);
    this.protocolCode = protocolCode;
    this.incident = incident;
    this.id = id;
  }
}

/**
 * The server's handler declined the message on purpose (`reject` code `DECLINED`): `error` is the
 * application's own code (e.g. `out_of_stock`), `detail` its text for people. Never resent.
 */
export class DeclinedError extends RejectedError<'LIFELINE_ERR_DECLINED'> {
  override name = 'DeclinedError';
  /** The application's error code. */
  declare readonly error: string;
  /** The application's text for people (may be empty). */
  declare readonly detail: string;

  /**
   * @param id - the message id
   * @param error - the `reject` frame's `error`
   * @param detail - the `reject` frame's `message`
   */
  constructor(id: number, error: string, detail: string, options?: ErrorOptions) {
    super(id, 'DECLINED', undefined, options);
    this.message = `message ${id} was declined by the server: ${error}${detail ? ` (${detail})` : ''}`;
    this.error = error;
    this.detail = detail;
  }
}

/** The session's `auth` function threw or rejected while refreshing credentials on a live connection. Emitted on `error`. */
export class CredentialsError extends LifelineError<'LIFELINE_ERR_CREDENTIALS'> {
  override name = 'CredentialsError';
  constructor(options?: ErrorOptions) {
    super('LIFELINE_ERR_CREDENTIALS', 'the auth function failed', options);
  }
}

/** The server sent an `error` frame: a problem that did not close the connection. Emitted on `error`. */
export class ServerError extends LifelineError<'LIFELINE_ERR_SERVER'> {
  override name = 'ServerError';
  /** The protocol's error code from the `error` frame (`UNAVAILABLE`, `FORBIDDEN`, `LIMIT`, `BAD_REQUEST`, `UNKNOWN_TYPE` ...). */
  declare readonly protocolCode: ProtocolErrorCode;
  /** What it is about: a message id (number) or a channel or frame type (string). */
  declare readonly ref: number | string | undefined;

  /**
   * @param protocolCode - the `error` frame's code
   * @param message - the `error` frame's text
   * @param ref - the `error` frame's ref
   */
  constructor(protocolCode: ProtocolErrorCode, message: string, ref?: number | string, options?: ErrorOptions) {
    super('LIFELINE_ERR_SERVER', `${protocolCode}: ${message}${ref !== undefined ? ` (${typeof ref === 'number' ? 'message' : 'ref'} ${ref})` : ''}`, options);
    this.protocolCode = protocolCode;
    this.ref = ref;
  }
}

/** The server sent something that is not a `lifeline.v1` frame (binary, not JSON, a malformed frame). Ignored; emitted on `error`. */
export class ServerFrameError extends LifelineError<'LIFELINE_ERR_SERVER_FRAME'> {
  override name = 'ServerFrameError';
  constructor(message: string, options?: ErrorOptions) {
    super('LIFELINE_ERR_SERVER_FRAME', message, options);
  }
}

/**
 * The server did not accept the `lifeline.v1` subprotocol, so no session can be held with it.
 * Emitted on `error`; the session then closes for good (retrying the same server cannot help).
 */
export class SubprotocolError extends LifelineError<'LIFELINE_ERR_SUBPROTOCOL'> {
  override name = 'SubprotocolError';
  /** The subprotocol the server selected (`''` for none). */
  declare readonly protocol: string;

  /** @param protocol - what the server selected */
  constructor(protocol: string, options?: ErrorOptions) {
    super('LIFELINE_ERR_SUBPROTOCOL', `the server did not select lifeline.v1 (it selected ${protocol === '' ? 'none' : JSON.stringify(protocol)})`, options);
    this.protocol = protocol;
  }
}
