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
export class StoreError extends LifelineError {
  /**
   * @param message - human-readable explanation
   * @param options - standard `ErrorOptions`; `cause` is the engine's error
   */
  constructor(message: string, options?: ErrorOptions) {
    super('LIFELINE_ERR_STORE', message, options);
  }
}

/**
 * The engine cannot serve at all (`code: 'LIFELINE_ERR_STORE_UNAVAILABLE'`): the store was closed,
 * the file or server cannot be reached, an I/O error, a full disk, a busy lock that did not clear.
 * A subclass of {@link StoreError}, so
 * `instanceof StoreError` catches both; branch on `code` to tell them apart.
 */
export class StoreUnavailableError extends StoreError {
  override readonly code = 'LIFELINE_ERR_STORE_UNAVAILABLE';

  /**
   * @param message - human-readable explanation
   * @param options - standard `ErrorOptions`; `cause` is the engine's error, if any
   */
  constructor(message = 'the store is closed or unreachable', options?: ErrorOptions) {
    super(message, options);
  }
}
