/**
 * The logger the server core writes to: three levels of structured entries. pino's logger is one; the
 * core names no logging library, so a transport of someone else's can hand it whatever it logs with.
 * @packageDocumentation
 */

/** One level of a structured logger: the fields first (`err` for an error), then the message. */
export type LogMethod = (fields: object, message: string) => void;

/** What the server core logs with (pino's `Logger` fits it). */
export interface Logger {
  /** Lifecycle: state changes, drains, closes on a client's mistake. */
  readonly info: LogMethod;
  /** The peer's trouble: protocol errors, rate limits, slow consumers, dead peers. */
  readonly warn: LogMethod;
  /** The server's own failures: handler incidents (with the stack), the store, hooks. */
  readonly error: LogMethod;
}
