/**
 * The base of every error lifeline throws or emits, and the registry of their codes.
 *
 * Callers branch on {@link LifelineError.code}, a stable string, never on the message text, which is
 * for people and may change between versions. `code` is typed as the union of every registered code
 * ({@link LifelineErrorCode}), so a `switch (error.code)` can be checked for exhaustiveness.
 *
 * `name` is the class name (`new.target.name`). The classes in the browser bundle (client, protocol,
 * codes) also set it as a literal (`override name = 'RejectedError'`): that bundle is minified without
 * keeping class names, which would cost every function in it a few bytes.
 * @packageDocumentation
 */

/** Where an error comes from: the entry point (or part of the package) whose code raises it. */
export type ErrorSource = 'client' | 'server' | 'store' | 'protocol' | 'codes' | 'cli' | 'package';

/**
 * Every `LIFELINE_ERR_*` code, with the class that carries it and the part of lifeline that raises it.
 * One table, checked both ways against `docs/errors.md` (every code documented, every documented code
 * here) and against the source (every code raised somewhere, every class's code registered). Data only:
 * the browser bundle imports its type, never the table, so the client pays nothing for it.
 */
export const ERROR_CODES = {
  LIFELINE_ERR_NOT_OPEN: { className: 'NotOpenError', source: 'client' },
  LIFELINE_ERR_CLIENT_CLOSED: { className: 'ClientClosedError', source: 'client' },
  LIFELINE_ERR_SOCKET: { className: 'SocketError', source: 'client' },
  LIFELINE_ERR_DEAD_LINK: { className: 'DeadLinkError', source: 'client' },
  LIFELINE_ERR_URL: { className: 'UrlError', source: 'client' },
  LIFELINE_ERR_NO_WEBSOCKET: { className: 'WebSocketUnavailableError', source: 'client' },
  LIFELINE_ERR_CONNECT: { className: 'ConnectError', source: 'client' },
  LIFELINE_ERR_POLICY: { className: 'PolicyError', source: 'client' },
  LIFELINE_ERR_LISTENER: { className: 'ListenerError', source: 'client' },
  LIFELINE_ERR_QUEUE_FULL: { className: 'QueueFullError', source: 'client' },
  LIFELINE_ERR_REJECTED: { className: 'RejectedError', source: 'client' },
  LIFELINE_ERR_CREDENTIALS: { className: 'CredentialsError', source: 'client' },
  LIFELINE_ERR_SERVER: { className: 'ServerError', source: 'client' },
  LIFELINE_ERR_SERVER_FRAME: { className: 'ServerFrameError', source: 'client' },
  LIFELINE_ERR_SUBPROTOCOL: { className: 'SubprotocolError', source: 'client' },
  LIFELINE_ERR_FRAME: { className: 'FrameError', source: 'protocol' },
  LIFELINE_ERR_UNKNOWN_FRAME: { className: 'UnknownFrameTypeError', source: 'protocol' },
  LIFELINE_ERR_INVALID_CLOSE_CODE: { className: 'InvalidCloseCodeError', source: 'codes' },
  LIFELINE_ERR_CLOSE: { className: 'CloseError', source: 'server' },
  LIFELINE_ERR_DECLINED: { className: 'DeclinedError', source: 'server' },
  LIFELINE_ERR_HANDLER_FAILED: { className: 'HandlerFailure', source: 'server' },
  LIFELINE_ERR_PRESENCE_UNAVAILABLE: { className: 'PresenceUnavailableError', source: 'server' },
  LIFELINE_ERR_PING_FLOOD: { className: 'PingFloodError', source: 'server' },
  LIFELINE_ERR_STORE: { className: 'StoreError', source: 'store' },
  LIFELINE_ERR_STORE_UNAVAILABLE: { className: 'StoreUnavailableError', source: 'store' },
  LIFELINE_ERR_STORE_OUTCOME_UNKNOWN: { className: 'StoreOutcomeUnknownError', source: 'store' },
  LIFELINE_ERR_IDEMPOTENCY_CONFLICT: { className: 'IdempotencyConflictError', source: 'store' },
  LIFELINE_ERR_ID_FORGOTTEN: { className: 'IdempotencyWindowError', source: 'store' },
  LIFELINE_ERR_MISSING_DEPENDENCY: { className: 'MissingDependencyError', source: 'package' },
  LIFELINE_ERR_USAGE: { className: 'UsageError', source: 'cli' },
  LIFELINE_ERR_WORKER_START: { className: 'WorkerStartError', source: 'cli' },
} as const satisfies Record<`LIFELINE_ERR_${string}`, { readonly className: string; readonly source: ErrorSource }>;

/** Every code a {@link LifelineError} can carry: `switch (error.code)` over it can be exhaustive. */
export type LifelineErrorCode = keyof typeof ERROR_CODES;

/**
 * The base of every error lifeline throws or emits. A subclass fixes `C` to its own code, so a
 * narrowed error (`error instanceof QueueFullError`) has a literal `code`, and a plain
 * `LifelineError` has the union of them all.
 */
export class LifelineError<C extends LifelineErrorCode = LifelineErrorCode> extends Error {
  /** A stable, machine-readable identifier such as `LIFELINE_ERR_INVALID_CLOSE_CODE`. */
  readonly code: C;

  /**
   * @param code - stable identifier, one of {@link ERROR_CODES}
   * @param message - human-readable explanation
   * @param options - standard `ErrorOptions`; pass `cause` to chain the underlying error
   */
  constructor(code: C, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}
