/**
 * Errors the client throws (from user calls) or emits (on its `error` event).
 * Every one is a {@link LifelineError} with a stable `code`; branch on the code, never the message.
 * @packageDocumentation
 */
import { LifelineError } from '../errors.js';

/** `send()` was called while the connection is not open. Thrown synchronously to the caller. */
export class NotOpenError extends LifelineError {
  /** The client's state at the time of the call. */
  readonly state: string;

  /** @param state - the client's state when `send()` was called */
  constructor(state: string, options?: ErrorOptions) {
    super('LIFELINE_ERR_NOT_OPEN', `cannot send: the connection is ${state}, not open`, options);
    this.state = state;
  }
}

/** `connect()`/`reconnect()` was called after `close()`: a closed client is final; create a new one. */
export class ClientClosedError extends LifelineError {
  constructor(options?: ErrorOptions) {
    super('LIFELINE_ERR_CLIENT_CLOSED', 'the client was closed with close(); create a new client to connect again', options);
  }
}

/**
 * The underlying socket reported an error (connection refused, HTTP 503 during a drain, TLS failure ...).
 * Emitted on `error`; the close that follows (code 1006) drives the reconnect. `cause` holds what the
 * WebSocket implementation gave, when it gave anything (browsers give no detail by design).
 */
export class SocketError extends LifelineError {
  constructor(message: string, options?: ErrorOptions) {
    super('LIFELINE_ERR_SOCKET', message, options);
  }
}

/** No message arrived within `deadLinkMs`; the client gave up on the socket and reconnects as for 1006. */
export class DeadLinkError extends LifelineError {
  /** How long the link had been silent, in milliseconds, when it was declared dead. */
  readonly silentMs: number;

  /** @param silentMs - milliseconds since the last received traffic */
  constructor(silentMs: number, options?: ErrorOptions) {
    super('LIFELINE_ERR_DEAD_LINK', `no traffic for ${Math.round(silentMs)} ms: treating the link as dead`, options);
    this.silentMs = silentMs;
  }
}

/** The `url` option's function threw, rejected, or produced something that is not a non-empty string. */
export class UrlError extends LifelineError {
  constructor(message: string, options?: ErrorOptions) {
    super('LIFELINE_ERR_URL', message, options);
  }
}

/** No WebSocket implementation: none injected, no `globalThis.WebSocket`, and `ws` could not be loaded. */
export class WebSocketUnavailableError extends LifelineError {
  constructor(options?: ErrorOptions) {
    super(
      'LIFELINE_ERR_NO_WEBSOCKET',
      'no WebSocket implementation: pass the WebSocket option, or install the "ws" package when running outside a browser',
      options,
    );
  }
}

/** Creating the socket failed synchronously (for example an invalid URL): retrying the same call cannot help. */
export class ConnectError extends LifelineError {
  constructor(message: string, options?: ErrorOptions) {
    super('LIFELINE_ERR_CONNECT', message, options);
  }
}

/** The `policy` or `applicationCodes` option threw or returned something invalid; the default was used instead. */
export class PolicyError extends LifelineError {
  constructor(message: string, options?: ErrorOptions) {
    super('LIFELINE_ERR_POLICY', message, options);
  }
}

/** An event listener threw. The client carries on; the thrown value is the `cause`. */
export class ListenerError extends LifelineError {
  /** The event whose listener threw. */
  readonly event: string;

  /** @param event - the event name; `cause` should carry the thrown value */
  constructor(event: string, options?: ErrorOptions) {
    super('LIFELINE_ERR_LISTENER', `a listener for "${event}" threw`, options);
    this.event = event;
  }
}
