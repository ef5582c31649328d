/**
 * The client's options: one object, every option documented with its unit and default,
 * defaults spread first, validated on entry (TypeError for a wrong type, RangeError for a bad value).
 * @packageDocumentation
 */
// The types module only: the codes' index would bring the registry's texts into the client bundle.
import { LANGS } from '../codes/types.js';
import { defined } from '../util/defined.js';
import type { Lang } from '../codes/types.js';
import { DEFAULT_BACKOFF, DEFAULT_HINT_LIMITS, DEFAULT_SOON } from './backoff.js';
import type { BackoffOptions, DelayWindow, RandomSource } from './backoff.js';
import { defaultClock, defaultEnvironment } from './environment.js';
import type { ClientEnvironment, Clock, WebSocketConstructor } from './environment.js';
import type { ApplicationCodes, Explainer, PolicyFunction } from './policy.js';

/** What the `url` option's function is told. */
export interface UrlContext {
  /** The attempt about to be made: 0 for the first connection, n for the n-th consecutive retry. */
  readonly attempt: number;
}

/** Options of {@link createClient}. Only `url` is required. */
export interface ClientOptions {
  /**
   * Where to connect: a `ws:`/`wss:` URL, or a function called before every attempt (to refresh a
   * token, pick a node ...) returning the URL or a promise of it. A function that throws or rejects
   * counts as a failed attempt (backoff) and is reported as a `UrlError`.
   */
  readonly url: string | ((context: UrlContext) => string | PromiseLike<string>);
  /** WebSocket subprotocols to offer. @default none */
  readonly protocols?: string | readonly string[];
  /** Connect as soon as the client is created (on the next microtask, so listeners can be added first). @default true */
  readonly autoConnect?: boolean;
  /**
   * Language of close names, explanations and diagnoses. Other than `en` needs the registry's texts:
   * pass `explain: explainCode` (from `lifeline/codes`). @default 'en'
   */
  readonly lang?: Lang;
  /**
   * Where close names, explanations (`CloseInfo.explanation`) and the advice in diagnoses come from.
   * By default the client knows the codes' English names only, so a browser bundle carries no prose;
   * `explainCode` from `lifeline/codes` gives the registry's full texts in English and Chinese.
   * @default English names only; empty explanations
   */
  readonly explain?: Explainer;
  /** Delay window for "reconnect soon" codes (1001, 1012) without a server hint, in milliseconds. @default { minMs: 1000, maxMs: 5000 } */
  readonly soon?: Partial<DelayWindow>;
  /**
   * Exponential backoff for failures (1006, 1011, 1013, 1014): the delay before retry n is
   * `random() * min(capMs, baseMs * factor ** (n - 1))` milliseconds.
   * @default { baseMs: 500, factor: 2, capMs: 30000 }
   */
  readonly backoff?: Partial<BackoffOptions>;
  /** Bounds, in milliseconds, that a server's `retry=` hint is clamped into. @default { minMs: 0, maxMs: 60000 } */
  readonly hintLimits?: Partial<DelayWindow>;
  /**
   * How many consecutive reconnect attempts to make before giving up with the `exhausted` state and
   * event (`reconnect()` starts again). A non-negative integer or `Infinity`. @default Infinity
   */
  readonly maxAttempts?: number;
  /**
   * How long a connection must stay open, in milliseconds, before the failure count (and so the
   * backoff) is reset; a server that accepts and crashes at once keeps being backed off. @default 5000
   */
  readonly stableAfterMs?: number;
  /**
   * Treat the link as dead when no message has arrived for this many milliseconds: close the socket
   * and reconnect as for 1006. Only useful when the server sends traffic at least this often
   * (browsers cannot see protocol-level pings). 0 turns it off. @default 0
   */
  readonly deadLinkMs?: number;
  /** What to do for application close codes (3000-4999). @default every application code stops */
  readonly applicationCodes?: ApplicationCodes;
  /** Override consulted on every close before the defaults; return `undefined` to fall back. @default none */
  readonly policy?: PolicyFunction;
  /** WebSocket implementation. @default `globalThis.WebSocket`, else the `ws` package (loaded lazily) */
  readonly WebSocket?: WebSocketConstructor;
  /** Clock and timers. @default `Date.now` and the global `setTimeout`/`clearTimeout` */
  readonly clock?: Clock;
  /** Random source in [0, 1) for jitter. @default Math.random */
  readonly random?: RandomSource;
  /**
   * Event target for `online`, `offline` and `visibilitychange`; `null` ignores the environment.
   * @default `globalThis` when it has `addEventListener` (browsers), else none
   */
  readonly environment?: ClientEnvironment | null;
}

/** Defaults of the scalar options (the nested ones have their own: `DEFAULT_SOON`, `DEFAULT_BACKOFF`, `DEFAULT_HINT_LIMITS`). */
export const CLIENT_DEFAULTS = {
  autoConnect: true,
  lang: 'en',
  maxAttempts: Infinity,
  stableAfterMs: 5000,
  deadLinkMs: 0,
} as const satisfies Partial<ClientOptions>;

/** Options after defaults and validation. @internal */
export interface ResolvedOptions {
  readonly url: ClientOptions['url'];
  readonly protocols: string | string[] | undefined;
  readonly autoConnect: boolean;
  readonly lang: Lang;
  readonly explain: Explainer | undefined;
  readonly soon: DelayWindow;
  readonly backoff: BackoffOptions;
  readonly hintLimits: DelayWindow;
  readonly maxAttempts: number;
  readonly stableAfterMs: number;
  readonly deadLinkMs: number;
  readonly applicationCodes: ApplicationCodes | undefined;
  readonly policy: PolicyFunction | undefined;
  readonly WebSocket: WebSocketConstructor | undefined;
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly environment: ClientEnvironment | undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function milliseconds(name: string, value: unknown): number {
  if (typeof value !== 'number') throw new TypeError(`${name}: not ms: ${typeof value}`);
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name}: ${value} < 0`);
  return value;
}

/** An optional function option (the session's `auth` too). @internal */
export function fn<T>(name: string, value: unknown): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') throw new TypeError(`${name} must be a function`);
  return value as T;
}

/** An object option that must have these methods (`clock`, `environment`). */
function withMethods<T>(name: string, value: unknown, methods: readonly string[]): T {
  if (!isObject(value) || methods.some((m) => typeof value[m] !== 'function')) throw new TypeError(`${name}: needs ${methods.join(', ')}`);
  return value as T;
}

/** The options argument itself: an object (with at least a url, which the client checks). @internal */
export function checkOptionsObject(options: unknown): asserts options is object {
  if (!isObject(options)) throw new TypeError('options must be an object with at least a url');
}

function part(name: string, value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (!isObject(value)) throw new TypeError(`${name} must be an object`);
  // `{ minMs: undefined }` means "the default", like an option set to `undefined`.
  return defined(value);
}


function delayWindow(name: string, value: unknown, defaults: DelayWindow): DelayWindow {
  const merged = { ...defaults, ...part(name, value) };
  const minMs = milliseconds(`${name}.minMs`, merged.minMs);
  const maxMs = milliseconds(`${name}.maxMs`, merged.maxMs);
  if (minMs > maxMs) throw new RangeError(`${name}: minMs > maxMs`);
  return { minMs, maxMs };
}

/**
 * Backoff settings (`backoff`, and the session's `resendBackoff`) over `defaults`, validated.
 * @internal
 */
export function backoffOptions(name: string, value: unknown, defaults: BackoffOptions): BackoffOptions {
  const b = { ...defaults, ...part(name, value) };
  const baseMs = milliseconds(`${name}.baseMs`, b.baseMs);
  const capMs = milliseconds(`${name}.capMs`, b.capMs);
  if (typeof b.factor !== 'number') throw new TypeError(`${name}.factor must be a number`);
  if (!Number.isFinite(b.factor) || b.factor < 1) throw new RangeError(`${name}.factor: ${b.factor} < 1`);
  return { baseMs, factor: b.factor, capMs };
}

/**
 * Apply defaults and validate. Throws `TypeError` or `RangeError` synchronously, naming the option.
 * Reads the platform defaults (clock, environment) now, at client creation, never at import time.
 * @internal
 */
export function resolveOptions(options: ClientOptions): ResolvedOptions {
  checkOptionsObject(options);
  // An option set to `undefined` means its default: `{ lang: undefined }` is English, not "no language".
  const o: Record<string, unknown> = { ...CLIENT_DEFAULTS, ...defined(options) };

  const url = o.url;
  if (typeof url === 'string') {
    if (url === '') throw new TypeError('url must not be empty');
  } else if (typeof url !== 'function') {
    throw new TypeError('url: a string or a function');
  }

  let protocols: string | string[] | undefined;
  if (typeof o.protocols === 'string') protocols = o.protocols;
  else if (Array.isArray(o.protocols) && o.protocols.every((p) => typeof p === 'string')) protocols = [...(o.protocols as string[])];
  else if (o.protocols !== undefined) throw new TypeError('protocols: strings');

  const autoConnect = o.autoConnect;
  if (typeof autoConnect !== 'boolean') throw new TypeError('autoConnect must be a boolean');

  const lang = o.lang;
  if (!LANGS.includes(lang as Lang)) throw new RangeError(`lang must be one of ${LANGS.join(', ')}, got ${String(lang)}`);
  const explain = fn<Explainer>('explain', o.explain);
  if (lang !== 'en' && !explain) throw new RangeError(`lang ${String(lang)} needs explain: explainCode from lifeline/codes`);

  const soon = delayWindow('soon', o.soon, DEFAULT_SOON);
  const hintLimits = delayWindow('hintLimits', o.hintLimits, DEFAULT_HINT_LIMITS);

  const backoff = backoffOptions('backoff', o.backoff, DEFAULT_BACKOFF);

  const maxAttempts = o.maxAttempts;
  if (typeof maxAttempts !== 'number') throw new TypeError('maxAttempts must be a number');
  if (maxAttempts !== Infinity && !(Number.isInteger(maxAttempts) && maxAttempts >= 0)) {
    throw new RangeError(`maxAttempts: ${maxAttempts}`);
  }

  const stableAfterMs = milliseconds('stableAfterMs', o.stableAfterMs);
  const deadLinkMs = milliseconds('deadLinkMs', o.deadLinkMs);

  const clock = withMethods<Clock>('clock', o.clock ?? defaultClock(), ['now', 'setTimeout', 'clearTimeout']);

  let environment: ClientEnvironment | undefined;
  if (o.environment === null) environment = undefined;
  else if (o.environment === undefined) environment = defaultEnvironment();
  else environment = withMethods<ClientEnvironment>('environment', o.environment, ['addEventListener', 'removeEventListener']);

  return {
    url: url as ClientOptions['url'],
    protocols,
    autoConnect,
    lang: lang as Lang,
    explain,
    soon,
    backoff,
    hintLimits,
    maxAttempts,
    stableAfterMs,
    deadLinkMs,
    applicationCodes: fn<ApplicationCodes>('applicationCodes', o.applicationCodes),
    policy: fn<PolicyFunction>('policy', o.policy),
    WebSocket: fn<WebSocketConstructor>('WebSocket', o.WebSocket),
    clock,
    random: fn<RandomSource>('random', o.random) ?? (() => Math.random()),
    environment,
  };
}
