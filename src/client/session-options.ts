/**
 * What a session accepts: its options (every client option plus its own), their defaults and
 * validation, and the checks of the arguments its methods take. Everything is checked synchronously,
 * before anything changes: `TypeError` for a wrong type, `RangeError` for a bad value.
 * @packageDocumentation
 */
import type { Json, Position } from '../protocol/frames.js';
import type { BackoffOptions } from './backoff.js';
import { backoffOptions, checkOptionsObject, fn } from './options.js';
import type { ClientOptions } from './options.js';

/** Options of {@link createSession}: every {@link ClientOptions} option (except `protocols`, always `lifeline.v1`), plus these. */
export interface SessionOptions extends Omit<ClientOptions, 'protocols'> {
  /**
   * Most messages (`send` + `publish`) held at once, unacknowledged or queued. One more is refused:
   * its promise rejects with {@link QueueFullError} and the error is emitted on `error`. @default 1000
   */
  readonly maxQueue?: number;
  /**
   * The server's heartbeat interval to expect before a `welcome` says what it is, in milliseconds. It
   * sets the default `deadLinkMs` (2.5 times this) and bounds how long the session stays silent: after
   * `welcome`, a `ping` goes out whenever nothing was received for half the server's `heartbeatMs`
   * (and never later than `deadLinkMs / 2.5`), so the dead-link check also works in browsers, which
   * cannot see WebSocket-level pings. @default 30000
   */
  readonly heartbeatMs?: number;
  /**
   * How long to wait before resending a message the server could not store (`error` `UNAVAILABLE`):
   * the n-th resend waits between half and all of `min(capMs, baseMs * factor ** (n - 1))` ms, drawn
   * from `random`. The message stays pending meanwhile. @default { baseMs: 500, factor: 2, capMs: 10000 }
   */
  readonly resendBackoff?: Partial<BackoffOptions>;
  /**
   * Treat the link as dead after this many milliseconds without any message from the server.
   * 0 turns it off. @default 2.5 times `heartbeatMs`
   */
  readonly deadLinkMs?: number;
  /**
   * Credentials for the server's `authenticate` hook, sent inside the protocol (`hello.auth`) rather than
   * in the URL. Called before every connection attempt (a throw or rejection counts as a failed attempt,
   * with backoff) and again to refresh them on a live connection before the server's `authTtlMs` runs
   * out. After a 4802 (credentials expired or refused) the session calls it and reconnects at once,
   * backing off after that and stopping after three 4802s in a row. @default none
   */
  readonly auth?: () => Json | PromiseLike<Json>;
}

/** Defaults of the session's own options. */
export const SESSION_DEFAULTS = {
  maxQueue: 1000,
  heartbeatMs: 30_000,
  resendBackoff: { baseMs: 500, factor: 2, capMs: 10_000 },
  /** `deadLinkMs` defaults to this multiple of `heartbeatMs`. */
  deadLinkFactor: 2.5,
} as const;

/** The session's own options after defaults and validation, and what is left for its client. @internal */
export interface ResolvedSessionOptions {
  readonly maxQueue: number;
  readonly heartbeatMs: number;
  readonly deadLinkMs: number;
  readonly resendBackoff: BackoffOptions;
  readonly auth: (() => Json | PromiseLike<Json>) | undefined;
  /** Every other option, for the client to validate and resolve (with `deadLinkMs` defaulted). */
  readonly client: Omit<ClientOptions, 'protocols'>;
}

/** Apply the session's defaults and validate its own options. @internal */
export function resolveSessionOptions(options: SessionOptions): ResolvedSessionOptions {
  checkOptionsObject(options);
  const { maxQueue = SESSION_DEFAULTS.maxQueue, heartbeatMs = SESSION_DEFAULTS.heartbeatMs, resendBackoff, auth, ...rest } = options;
  const credentials = fn<SessionOptions['auth']>('auth', auth);
  // Number.isInteger and Number.isFinite are false for anything that is not a number.
  if (!Number.isInteger(maxQueue) || maxQueue < 1) {
    throw new RangeError(`maxQueue must be an integer >= 1, got ${String(maxQueue)}`);
  }
  if (!Number.isFinite(heartbeatMs) || heartbeatMs <= 0) {
    throw new RangeError(`heartbeatMs: ${String(heartbeatMs)}`);
  }
  const deadLinkMs = rest.deadLinkMs ?? SESSION_DEFAULTS.deadLinkFactor * heartbeatMs;
  // Validated like the client's `backoff` (TypeError for a wrong type, RangeError for a bad value).
  const resend = backoffOptions('resendBackoff', resendBackoff, SESSION_DEFAULTS.resendBackoff);
  return { maxQueue, heartbeatMs, deadLinkMs, resendBackoff: resend, auth: credentials, client: { ...rest, deadLinkMs } };
}

const CHANNEL = /^[\x21-\x7e]{1,200}$/;

/** A channel name: 1-200 printable ASCII characters. @internal */
export function checkChannel(channel: unknown): asserts channel is string {
  if (typeof channel !== 'string' || !CHANNEL.test(channel)) {
    throw new TypeError('channel: 1-200 printable ASCII characters');
  }
}

/** A position the application supplies (`subscribe(channel, { from })`). @internal */
export function checkPosition(p: unknown): asserts p is Position {
  const v = p as { epoch?: unknown; offset?: unknown } | null;
  if (typeof v !== 'object' || v === null || typeof v.epoch !== 'string' || v.epoch.length > 64) {
    throw new TypeError('from: not a position');
  }
  if (typeof v.offset !== 'number' || !Number.isSafeInteger(v.offset) || v.offset < 0) {
    throw new TypeError('from.offset must be an integer >= 0');
  }
}

/** The JSON text of `data`, or a TypeError: a frame whose data vanished would be a protocol error (1002). @internal */
export function jsonText(data: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(data);
  } catch (error) {
    throw new TypeError('data must be JSON-serialisable', { cause: error });
  }
  if (text === undefined) throw new TypeError(`data must be JSON-serialisable, got ${typeof data}`);
  return text;
}
