/**
 * The client's view of its platform: a WebSocket implementation, a clock, and an event target for
 * `online`/`offline`/`visibilitychange`. All of it can be injected; the defaults are looked up when a
 * client is created or connects, never at import time, and never through a Node API.
 * @packageDocumentation
 */

// `WebSocket.readyState` values (the same in browsers and `ws`): separate constants, which a bundler
// inlines, rather than one object every bundle would carry.
/** `readyState` of a socket being opened. @internal */
export const CONNECTING = 0;
/** `readyState` of an open socket. @internal */
export const OPEN = 1;

/** The fields of a close event the client reads. */
export interface CloseEventLike {
  /** Close code. */
  readonly code: number;
  /** Close reason. */
  readonly reason: string;
  /** Whether the closing handshake completed. */
  readonly wasClean: boolean;
}

/** The fields of a message event the client reads. */
export interface MessageEventLike {
  /** A string for text frames; an `ArrayBuffer` for binary frames (the client sets `binaryType`). */
  readonly data: unknown;
}

/**
 * The part of the WebSocket API the client uses: the browser's `WebSocket`, Node's built-in one and
 * the `ws` package all fit, and so does a small fake in tests.
 *
 * The handler slots take `(event: never) => unknown` so that every implementation's own event types
 * are accepted; the client reads events defensively.
 */
export interface WebSocketLike {
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  /** The subprotocol the server selected, or `''`. */
  readonly protocol: string;
  /** Set to `'arraybuffer'` by the client when present, so binary data is the same type everywhere. */
  binaryType?: string;
  /** Handler slot for the open event. */
  onopen: ((event: never) => unknown) | null;
  /** Handler slot for message events. */
  onmessage: ((event: never) => unknown) | null;
  /** Handler slot for error events. */
  onerror: ((event: never) => unknown) | null;
  /** Handler slot for the close event. */
  onclose: ((event: never) => unknown) | null;
  /** Send one message. */
  send(data: string | ArrayBufferLike | ArrayBufferView | Blob): void;
  /** Start the closing handshake. */
  close(code?: number, reason?: string): void;
}

/** A WebSocket constructor: `new WebSocket(url, protocols?)`. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/**
 * Time, injectable so tests can drive it by hand. The client never counts timer ticks: it reads
 * `now()` whenever it needs elapsed time, so throttled or suspended timers only delay checks.
 */
export interface Clock {
  /** Current time in milliseconds (any epoch; only differences are used). */
  now(): number;
  /** Run `callback` once after about `ms` milliseconds; returns a handle for {@link Clock.clearTimeout}. */
  setTimeout(callback: () => void, ms: number): unknown;
  /** Cancel a pending callback. */
  clearTimeout(handle: unknown): void;
}

/**
 * Where `online`, `offline` and `visibilitychange` are heard. In a browser this is `window`
 * (`visibilitychange` is fired at `document` and bubbles to it), whose `document` and `navigator`
 * also give the current visibility and connectivity.
 */
export interface ClientEnvironment {
  /** Subscribe to an environment event. */
  addEventListener(type: string, listener: () => void): void;
  /** Unsubscribe. */
  removeEventListener(type: string, listener: () => void): void;
  /** `document.visibilityState` (`'visible'` or `'hidden'`); absent means always visible. */
  readonly document?: { readonly visibilityState?: string } | undefined;
  /** `navigator.onLine`; absent means online. */
  readonly navigator?: { readonly onLine?: boolean } | undefined;
}

/** The platform's clock: `Date.now` (wall time, so a laptop's sleep counts as elapsed) and the global timers. @internal */
export function defaultClock(): Clock {
  // Arrow wrappers: browsers throw "Illegal invocation" when setTimeout is called detached from the global.
  return {
    now: () => Date.now(),
    setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
    // `as number`: the handle is whatever setTimeout returned (a number in browsers, an object in Node); both accept it back.
    clearTimeout: (handle) => globalThis.clearTimeout(handle as number | undefined),
  };
}

/** `globalThis` when it can take event listeners (browsers, workers, Deno); otherwise none (Node). @internal */
export function defaultEnvironment(): ClientEnvironment | undefined {
  const g = globalThis as unknown as Partial<ClientEnvironment>;
  return typeof g.addEventListener === 'function' && typeof g.removeEventListener === 'function'
    ? (g as ClientEnvironment)
    : undefined;
}

/** The platform's own `WebSocket` (browsers, Node >= 22, Deno, Bun), if any. @internal */
export function globalWebSocket(): WebSocketConstructor | undefined {
  const ctor = (globalThis as { WebSocket?: unknown }).WebSocket;
  return typeof ctor === 'function' ? (ctor as WebSocketConstructor) : undefined;
}

/**
 * Load the `ws` package for runtimes without a global `WebSocket` (Node 20).
 * The specifier is held in a `let`, so bundlers do not follow it and browsers never fetch it: esbuild
 * inlines a `const` into `import()` and would then bundle `ws`'s browser stub with its CommonJS shims.
 * @internal
 */
export async function loadWsWebSocket(): Promise<WebSocketConstructor> {
  let specifier = 'ws';
  const mod = (await import(/* @vite-ignore */ specifier)) as { WebSocket?: unknown; default?: unknown };
  const ctor = mod.WebSocket ?? mod.default;
  if (typeof ctor !== 'function') throw new TypeError('the "ws" module has no WebSocket class');
  return ctor as WebSocketConstructor;
}

/** What a refused handshake answered, where the platform lets the client see it. */
export interface HandshakeRefusal {
  /** The HTTP status instead of 101 (e.g. 503 while the server drains). */
  readonly status: number;
  /** `Retry-After`, in milliseconds from now, when the answer had one. */
  readonly retryAfterMs?: number;
}

/**
 * Read `Retry-After`: delay-seconds or an HTTP date (RFC 9110 §10.2.3); undefined when absent or unreadable.
 * @param now - the current time, ms since the epoch (for a date)
 * @internal
 */
export function parseRetryAfter(value: unknown, now: number): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (typeof text !== 'string') return undefined;
  const trimmed = text.trim();
  if (/^\d{1,9}$/.test(trimmed)) return Number(trimmed) * 1000;
  // Every HTTP-date form starts with the day's name ("Sun, 06 Nov 1994 08:49:37 GMT").
  const at = /^[A-Za-z]{3}/.test(trimmed) ? Date.parse(trimmed) : Number.NaN;
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * Be told the HTTP answer of a refused handshake. Only `ws` (Node) exposes it, through its
 * `unexpected-response` event; browsers and Node's built-in WebSocket show a failed handshake as a bare
 * error and 1006, so there this does nothing. Listening makes `ws` leave the refused request to us: it is
 * ended here, and the socket then reports its error and 1006 close as usual.
 * @internal
 */
export function watchHandshake(socket: WebSocketLike, now: () => number, refused: (refusal: HandshakeRefusal) => void): void {
  const emitter = socket as unknown as { once?: (event: string, listener: (request: unknown, response: unknown) => void) => unknown; terminate?: () => void };
  if (typeof emitter.once !== 'function' || typeof emitter.terminate !== 'function') return;
  emitter.once.call(socket, 'unexpected-response', (_request, response) => {
    const res = response as { statusCode?: unknown; headers?: Record<string, unknown> } | undefined;
    const status = typeof res?.statusCode === 'number' ? res.statusCode : 0;
    const retryAfterMs = parseRetryAfter(res?.headers?.['retry-after'], now());
    refused(retryAfterMs === undefined ? { status } : { status, retryAfterMs });
    emitter.terminate!.call(socket);
  });
}
