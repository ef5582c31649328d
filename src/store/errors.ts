/**
 * The errors a store rejects with. Callers branch on `error.code`, never on the message.
 * Bad arguments are not store errors: they reject with `TypeError` or `RangeError`.
 * @packageDocumentation
 */
import { LifelineError } from '../errors.js';

/**
 * The engine failed an operation (`code: 'LIFELINE_ERR_STORE'`): e.g. a constraint the engine
 * enforces, or data written by a newer version of lifeline. The engine's own error is the `cause`.
 */
export class StoreError<C extends StoreErrorCode = 'LIFELINE_ERR_STORE'> extends LifelineError<C> {
  /**
   * @param message - human-readable explanation
   * @param options - standard `ErrorOptions`; `cause` is the engine's error
   */
  constructor(message: string, options?: ErrorOptions);
  /** @internal a subclass names its own code */
  constructor(message: string, options: ErrorOptions | undefined, code: C);
  constructor(message: string, options?: ErrorOptions, code?: C) {
    super(code ?? ('LIFELINE_ERR_STORE' as C), message, options);
  }
}

/** The codes of {@link StoreError} and its subclasses. */
export type StoreErrorCode = 'LIFELINE_ERR_STORE' | 'LIFELINE_ERR_STORE_UNAVAILABLE' | 'LIFELINE_ERR_STORE_OUTCOME_UNKNOWN';

/**
 * The engine cannot serve at all (`code: 'LIFELINE_ERR_STORE_UNAVAILABLE'`): the store was closed,
 * the file or server cannot be reached, an I/O error, a full disk, a busy lock that did not clear.
 * A subclass of {@link StoreError}, so
 * `instanceof StoreError` catches both; branch on `code` to tell them apart.
 */
export class StoreUnavailableError<C extends 'LIFELINE_ERR_STORE_UNAVAILABLE' | 'LIFELINE_ERR_STORE_OUTCOME_UNKNOWN' = 'LIFELINE_ERR_STORE_UNAVAILABLE'> extends StoreError<C> {
  /**
   * @param message - human-readable explanation
   * @param options - standard `ErrorOptions`; `cause` is the engine's error, if any
   */
  constructor(message?: string, options?: ErrorOptions);
  /** @internal a subclass names its own code */
  constructor(message: string | undefined, options: ErrorOptions | undefined, code: C);
  constructor(message = 'the store is closed or unreachable', options?: ErrorOptions, code?: C) {
    super(message, options, code ?? ('LIFELINE_ERR_STORE_UNAVAILABLE' as C));
  }
}

/**
 * A store call whose outcome is unknown (`code: 'LIFELINE_ERR_STORE_OUTCOME_UNKNOWN'`): it was sent,
 * but no answer came (a timeout, a connection lost mid-call), so it may or may not have taken effect.
 * Never report such a write as "not stored": retry it with the same idempotency key or message id to
 * learn its outcome. A subclass of {@link StoreUnavailableError}: the engine cannot serve right now either.
 */
export class StoreOutcomeUnknownError extends StoreUnavailableError<'LIFELINE_ERR_STORE_OUTCOME_UNKNOWN'> {
  /**
   * @param message - human-readable explanation
   * @param options - standard `ErrorOptions`; `cause` is the engine's error, if any
   */
  constructor(message = 'the store did not answer; the operation may or may not have taken effect', options?: ErrorOptions) {
    super(message, options, 'LIFELINE_ERR_STORE_OUTCOME_UNKNOWN');
  }
}

/** Where the first message stored under an idempotency key or id went. */
export interface OriginalMessage {
  readonly channel: string;
  readonly epoch: string;
  readonly offset: number;
}

/**
 * An idempotency key or client message id was reused for different content
 * (`code: 'LIFELINE_ERR_IDEMPOTENCY_CONFLICT'`): nothing was stored. The caller's mistake, not a store
 * failure: answer it as a conflict (HTTP 409, a `reject` with `CONFLICT`), never as an outage.
 */
export class IdempotencyConflictError extends LifelineError<'LIFELINE_ERR_IDEMPOTENCY_CONFLICT'> {
  /** The first message stored under the key, when it was a publish. */
  readonly original: OriginalMessage | undefined;

  /**
   * @param message - human-readable explanation
   * @param original - the first message, when known
   */
  constructor(message: string, original?: OriginalMessage) {
    super('LIFELINE_ERR_IDEMPOTENCY_CONFLICT', message);
    this.original = original;
  }
}

/**
 * A client message id older than the window of ids its scope keeps (`code: 'LIFELINE_ERR_ID_FORGOTTEN'`):
 * whether a message with that id was ever stored is unknown, so nothing was stored now.
 */
export class IdempotencyWindowError extends LifelineError<'LIFELINE_ERR_ID_FORGOTTEN'> {
  /** @param message - human-readable explanation */
  constructor(message = 'this message id is older than the ids the store remembers for its sender') {
    super('LIFELINE_ERR_ID_FORGOTTEN', message);
  }
}
