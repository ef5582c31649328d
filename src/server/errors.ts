import { isSendableCode } from '../codes/index.js';
import { LifelineError } from '../errors.js';
import { truncateCodePoints, type RetryHint } from '../protocol/index.js';

/**
 * Throw this from a handler when the *client* did something wrong: the connection is closed
 * with `closeCode` (1002, 1003, 1007, 1008, 1009 or an application code) and `reason`,
 * not with 1011, which is reserved for the server's own failures.
 */
export class CloseError extends LifelineError<'LIFELINE_ERR_CLOSE'> {
  /** The close code sent to the peer. */
  readonly closeCode: number;
  /** The close reason sent to the peer (cut to 123 bytes on the way out). */
  readonly reason: string;

  /** A reconnect window for the reason's `retry=` field (lifeline's own 1013s carry one). */
  readonly retry: RetryHint | undefined;

  /**
   * @param closeCode - a code an endpoint may send (see `isSendableCode`)
   * @param reason - short text for the peer; never put internal details here. Text only: a `;` in it
   *   becomes a comma on the wire, so it can never forge a reason field
   * @param options - `cause`, and `retry` for a `retry=` field
   */
  constructor(closeCode: number, reason: string, options?: ErrorOptions & { readonly retry?: RetryHint }) {
    if (!isSendableCode(closeCode)) throw new RangeError(`close code ${closeCode} cannot be sent on the wire`);
    super('LIFELINE_ERR_CLOSE', `closing with ${closeCode}: ${reason}`, options);
    this.closeCode = closeCode;
    this.reason = reason;
    this.retry = options?.retry;
  }
}

/** The client broke a rule of the service (1008). */
export class PolicyViolationError extends CloseError {
  constructor(reason = 'policy violation', options?: ErrorOptions) {
    super(1008, reason, options);
  }
}

/** The client sent a kind of data this endpoint does not accept (1003), e.g. binary where text is expected. */
export class UnsupportedDataError extends CloseError {
  constructor(reason = 'unsupported data', options?: ErrorOptions) {
    super(1003, reason, options);
  }
}

/** The client sent data inconsistent with its type (1007), e.g. text that is not valid JSON where JSON is required. */
export class InvalidPayloadError extends CloseError {
  constructor(reason = 'invalid payload', options?: ErrorOptions) {
    super(1007, reason, options);
  }
}

/**
 * A handler failure whose incident id was assigned where it happened (so the id can be recorded, e.g.
 * against the message that caused it, before the error boundary closes the connection with 1011).
 */
export class HandlerFailure extends LifelineError<'LIFELINE_ERR_HANDLER_FAILED'> {
  /** The incident id to report. */
  readonly incident: string;
  constructor(incident: string, cause: unknown) {
    super('LIFELINE_ERR_HANDLER_FAILED', `handler failed (${incident})`, { cause });
    this.incident = incident;
  }
}

const APP_CODE = /^[A-Za-z0-9_.:-]{1,64}$/;
/** Longest `message` of a {@link DeclinedError} sent to the client, in characters. */
export const MAX_DECLINED_MESSAGE = 500;

/**
 * Throw this from `onSessionMessage` to decline a message on purpose, with an error code of the
 * application's: the client's `send()` rejects with that code and message (`reject` code `DECLINED`),
 * never with a stack. The message is recorded as handled: a resend gets the same answer and the handler
 * does not run again. Anything else a handler throws is a bug (1011 with an incident).
 */
export class DeclinedError extends LifelineError<'LIFELINE_ERR_DECLINED'> {
  /** The application's error code, e.g. `out_of_stock` (1-64 characters of `[A-Za-z0-9_.:-]`). */
  readonly error: string;

  /**
   * @param error - the application's error code, for programs (1-64 characters of `[A-Za-z0-9_.:-]`)
   * @param message - text for people, sent to the client (cut to 500 code points, lone surrogates made
   *   U+FFFD); never internal details
   * @throws RangeError for a code outside that alphabet
   */
  constructor(error: string, message = '', options?: ErrorOptions) {
    if (typeof error !== 'string' || !APP_CODE.test(error)) throw new RangeError('a DeclinedError code must be 1-64 characters of [A-Za-z0-9_.:-]');
    // Cut in code points, never mid-pair, and made well-formed: the message goes out in a JSON frame
    // that strict parsers must accept (a lone surrogate from the application becomes U+FFFD).
    super('LIFELINE_ERR_DECLINED', truncateCodePoints(String(message), MAX_DECLINED_MESSAGE), options);
    this.error = error;
  }
}

/**
 * `server.presence()` (or `presenceCount()`) on a server whose store keeps no presence
 * (`code: 'LIFELINE_ERR_PRESENCE_UNAVAILABLE'`): use a store that does (memory, sqlite).
 */
export class PresenceUnavailableError extends LifelineError<'LIFELINE_ERR_PRESENCE_UNAVAILABLE'> {
  /** @param store - the store's kind, named in the message */
  constructor(store: string) {
    super('LIFELINE_ERR_PRESENCE_UNAVAILABLE', `the ${store} store keeps no presence`);
  }
}

/**
 * A peer sent WebSocket pings faster than their pongs could go out (`code: 'LIFELINE_ERR_PING_FLOOD'`): more
 * than `pongsOwed` pongs owed and not yet written. Its connection is closed with 1008; the error is only
 * logged (the peer's mistake, never an incident).
 */
export class PingFloodError extends LifelineError<'LIFELINE_ERR_PING_FLOOD'> {
  /** @param pongsOwed - the bound of pongs owed that the peer passed */
  constructor(pongsOwed: number) {
    super('LIFELINE_ERR_PING_FLOOD', `more than ${pongsOwed} pings waiting for their pongs`);
  }
}
