/**
 * The base of every error lifeline throws or emits.
 *
 * Callers branch on {@link LifelineError.code}, a stable string, never on the message text,
 * which is for people and may change between versions.
 *
 * `name` is the class name (`new.target.name`). The classes in the browser bundle (client, protocol,
 * codes) also set it as a literal (`override name = 'RejectedError'`): that bundle is minified without
 * keeping class names, which would cost every function in it a few bytes.
 */
export class LifelineError extends Error {
  /** A stable, machine-readable identifier such as `LIFELINE_ERR_INVALID_CLOSE_CODE`. */
  readonly code: string;

  /**
   * @param code - stable identifier, `LIFELINE_ERR_*`
   * @param message - human-readable explanation
   * @param options - standard `ErrorOptions`; pass `cause` to chain the underlying error
   */
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}
