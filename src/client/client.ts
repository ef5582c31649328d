/**
 * The reconnecting client: a state machine around one WebSocket at a time that reads every close
 * code through the registry and acts on it (reconnect soon, back off, or stop with a diagnosis).
 *
 * This file holds the states and the socket's lifecycle; what a close means is planned in
 * `close-plan.ts` (on top of the pure `policy.ts` and `backoff.ts`), silence is watched by
 * `dead-link.ts`, and `online`/`offline`/visibility by `environment-watch.ts`. Runs unchanged in
 * browsers and Node: everything platform-specific comes through {@link ClientOptions} or is looked up
 * lazily (see `environment.ts`).
 *
 * Re-entrancy: listeners run synchronously and may call back into the client (`close()` from an
 * `open` listener, `reconnect()` from a `stopped` listener ...). Every transition takes a new
 * *epoch*; after each emit the transition checks that its epoch is still current and stops if a
 * listener has moved the client on, so a stale transition never overwrites a newer one.
 * @packageDocumentation
 */
import type { LifelineError } from '../errors.js';
import { MAX_CLOSE_REASON_BYTES, utf8Length } from '../protocol/close-reason.js';
import { defined } from '../util/defined.js';
import { Emitter } from '../util/emitter.js';
import type { Listener, Unsubscribe } from '../util/emitter.js';
import { rethrowAsync } from '../util/rethrow.js';
import { closeInfo, countFailure, planClose } from './close-plan.js';
import type { CloseInfo } from './close-plan.js';
import { DeadLinkWatch } from './dead-link.js';
import { CONNECTING, OPEN, globalWebSocket, loadWsWebSocket, watchHandshake } from './environment.js';
import type { CloseEventLike, HandshakeRefusal, WebSocketConstructor, WebSocketLike } from './environment.js';
import { watchEnvironment } from './environment-watch.js';
import type { EnvironmentWatch } from './environment-watch.js';
import {
  ClientClosedError,
  ConnectError,
  DeadLinkError,
  NotOpenError,
  PolicyError,
  SocketError,
  UrlError,
  WebSocketUnavailableError,
} from './errors.js';
import { createListeners } from './listeners.js';
import { resolveOptions } from './options.js';
import type { ClientOptions, ResolvedOptions } from './options.js';
import { analyzeClose } from './policy.js';
import type { PolicyConfig } from './policy.js';
import { Timer } from './timer.js';


/**
 * Where the client is.
 * - `idle`: created with `autoConnect: false` (or before the first microtask); `connect()` starts.
 * - `connecting`: a socket is being opened.
 * - `open`: connected; `send()` works.
 * - `reconnecting`: waiting before the next attempt (paused while the environment is offline).
 * - `stopped`: a close that retrying cannot fix; `reconnect()` starts again.
 * - `exhausted`: `maxAttempts` used up; `reconnect()` starts again.
 * - `closed`: `close()` was called; final.
 */
export type ClientState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'stopped' | 'exhausted' | 'closed';

/** A received message: a string for text frames, an `ArrayBuffer` for binary frames. */
export type MessageData = string | ArrayBuffer;

/** Event names and payloads of {@link LifelineClient.on}. */
export interface ClientEvents {
  /** Every state change. */
  state: { readonly state: ClientState; readonly previous: ClientState };
  /** An attempt starts; `attempt` is 0 for a first connection, n for the n-th consecutive retry. */
  connecting: { readonly attempt: number };
  /** The connection is open. */
  open: { readonly protocol: string; readonly attempt: number };
  /** A message arrived. */
  message: { readonly data: MessageData };
  /** The connection closed (or an attempt failed), with what the client will do about it. */
  close: CloseInfo;
  /** The next attempt is scheduled `delayMs` from now. `incident` is the server's id for a 1011. */
  reconnecting: { readonly attempt: number; readonly delayMs: number; readonly code: number; readonly incident?: string };
  /** A close that retrying cannot fix; the client waits for `reconnect()`. */
  stopped: { readonly close: CloseInfo; readonly diagnosis: string };
  /** `maxAttempts` consecutive retries failed; the client waits for `reconnect()`. */
  exhausted: { readonly attempts: number; readonly lastClose: CloseInfo };
  /** Something went wrong that the client handled (socket error, dead link, a throwing listener ...). */
  error: LifelineError;
}

/**
 * A WebSocket client that survives failures and deploys. Create one with {@link createClient}.
 *
 * @example
 * ```ts
 * const client = createClient({ url: 'wss://example.com/live' });
 * client.on('message', ({ data }) => console.log(data));
 * client.on('close', (c) => console.log(c.code, c.name, c.willReconnect ? `back in ${c.delayMs} ms` : c.diagnosis));
 * ```
 */
export class LifelineClient {
  readonly #options: ResolvedOptions;
  readonly #policy: PolicyConfig;
  readonly #emitter: Emitter<ClientEvents>;
  readonly #reportBug: (error: LifelineError, original: unknown) => void;

  #state: ClientState = 'idle';
  /** Bumped by every transition; see the module comment. */
  #epoch = 0;
  /** Consecutive failed connections since the last *stable* open. */
  #failures = 0;
  #socket: WebSocketLike | undefined;
  #ctor: WebSocketConstructor | undefined;
  #openedAt: number | undefined;
  #lastClose: CloseInfo | undefined;
  /** The HTTP answer of the current attempt's refused handshake, when the platform shows it. */
  #refusal: HandshakeRefusal | undefined;

  readonly #reconnectTimer: Timer;
  #reconnectDueAt = 0;
  readonly #deadLink: DeadLinkWatch;
  readonly #environment: EnvironmentWatch;

  /** Prefer {@link createClient}. Throws `TypeError`/`RangeError` for invalid options. */
  constructor(options: ClientOptions) {
    const o = (this.#options = resolveOptions(options));
    // The resolved options carry every setting of the policy under the same names.
    this.#policy = { ...o, onError: (error: PolicyError) => this.#reportBug(error, error) };
    const listeners = createListeners<ClientEvents>();
    this.#emitter = listeners.emitter;
    this.#reportBug = listeners.reportBug;
    this.#reconnectTimer = new Timer(o.clock);
    this.#deadLink = new DeadLinkWatch(o.clock, o.deadLinkMs, (silentMs) => this.#onDeadLink(silentMs));
    this.#environment = watchEnvironment(o.environment, {
      // Pause, not cancel: the state stays `reconnecting` and `online` resumes it.
      offline: () => this.#guard(() => this.#reconnectTimer.cancel()),
      online: () => this.#guard(() => this.#onOnline()),
      visible: () => this.#guard(() => this.#onVisible()),
    });
    if (o.autoConnect) {
      // Deferred so the caller can subscribe to `state`/`connecting` right after createClient().
      queueMicrotask(() => {
        if (this.#state === 'idle') this.#guard(() => this.#attempt());
      });
    }
  }

  /** The current state. */
  get state(): ClientState {
    return this.#state;
  }

  /** Consecutive failed connections since the last stable open (the backoff's attempt number). */
  get attempt(): number {
    return this.#failures;
  }

  /** The subprotocol of the open connection, or `''`. */
  get protocol(): string {
    return this.#state === 'open' ? (this.#socket?.protocol ?? '') : '';
  }

  /** The most recent close, if any. */
  get lastClose(): CloseInfo | undefined {
    return this.#lastClose;
  }

  /**
   * Listen to an event; returns the function that stops listening.
   * A listener that throws does not disturb the client: the error is emitted on `error` as a
   * `ListenerError` (or rethrown asynchronously when nobody listens to `error`).
   */
  on<K extends keyof ClientEvents>(event: K, listener: Listener<ClientEvents[K]>): Unsubscribe {
    return this.#emitter.on(event, listener);
  }

  /**
   * Connect now. From `idle`, `stopped` or `exhausted` the failure count is reset first; while
   * `reconnecting` the remaining wait is skipped (the count is kept). Does nothing while
   * `connecting` or `open`. Throws {@link ClientClosedError} after `close()`.
   */
  connect(): void {
    switch (this.#state) {
      case 'closed':
        throw new ClientClosedError();
      case 'connecting':
      case 'open':
        return;
      case 'reconnecting':
        this.#reconnectTimer.cancel();
        this.#attempt();
        return;
      case 'idle':
      case 'stopped':
      case 'exhausted':
        this.#failures = 0;
        this.#attempt();
        return;
    }
  }

  /** Same as {@link LifelineClient.connect}; reads better after `stopped` or `exhausted`. */
  reconnect(): void {
    this.connect();
  }

  /**
   * Send one message on the open connection.
   * @throws {@link NotOpenError} when the connection is not open (nothing is queued).
   */
  send(data: string | ArrayBufferLike | ArrayBufferView | Blob): void {
    const socket = this.#socket;
    if (this.#state !== 'open' || socket === undefined || socket.readyState !== OPEN) {
      throw new NotOpenError(this.#state);
    }
    socket.send(data);
  }

  /**
   * Close for good: state `closed`, timers cleared, environment listeners removed. The open (or
   * opening) socket is closed with `code` and `reason`; its close is the last event emitted.
   * Calling it again does nothing.
   * @param code - 1000 or an application code 3000-4999 (what browsers allow). @default 1000
   * @param reason - at most 123 bytes of UTF-8. @default ''
   */
  close(code = 1000, reason = ''): void {
    if (typeof code !== 'number' || typeof reason !== 'string') throw new TypeError('close(code?: number, reason?: string)');
    if (!(code === 1000 || (Number.isInteger(code) && code >= 3000 && code <= 4999))) {
      throw new RangeError(`close code must be 1000 or 3000-4999, got ${code}`);
    }
    if (utf8Length(reason) > MAX_CLOSE_REASON_BYTES) {
      throw new RangeError(`close reason must be at most ${MAX_CLOSE_REASON_BYTES} bytes of UTF-8`);
    }
    if (this.#state === 'closed') return;
    const epoch = ++this.#epoch;
    this.#reconnectTimer.cancel();
    this.#deadLink.stop();
    this.#environment.stop();
    this.#setState('closed', epoch);
    const socket = this.#socket;
    if (socket && (socket.readyState === CONNECTING || socket.readyState === OPEN)) {
      try {
        socket.close(code, reason);
      } catch (error) {
        // The implementation refused; it will not report a close, so there is no final event to wait for.
        this.#socket = undefined;
        rethrowAsync(error);
      }
    }
  }

  // ---- connecting -------------------------------------------------------------------------

  /** Start one connection attempt (the failure count decides the attempt number). */
  #attempt(): void {
    const epoch = ++this.#epoch;
    const attempt = this.#failures;
    if (!this.#setState('connecting', epoch)) return;
    if (!this.#emitIn(epoch, 'connecting', { attempt })) return;

    const { url } = this.#options;
    let target: unknown;
    try {
      target = typeof url === 'function' ? url({ attempt }) : url;
    } catch (error) {
      this.#urlFailed(epoch, 'the url function threw', error);
      return;
    }
    if (isThenable(target)) {
      target.then(
        (value) => this.#guard(() => this.#withUrl(epoch, value)),
        (error: unknown) => this.#guard(() => this.#urlFailed(epoch, 'the url function rejected', error)),
      );
      return;
    }
    this.#withUrl(epoch, target);
  }

  #urlFailed(epoch: number, message: string, cause: unknown): void {
    if (epoch !== this.#epoch) return;
    this.#emitError(new UrlError(message, { cause }));
    // A token endpoint or service lookup that fails is usually transient: back off like a refused connection.
    if (epoch === this.#epoch) this.#handleClose(1006, '', false);
  }

  #withUrl(epoch: number, url: unknown): void {
    if (epoch !== this.#epoch) return;
    if (typeof url !== 'string' || url === '') {
      this.#urlFailed(epoch, `the url function produced ${typeof url === 'string' ? 'an empty string' : typeof url}, not a URL`, undefined);
      return;
    }
    const ctor = (this.#ctor ??= this.#options.WebSocket ?? globalWebSocket());
    if (ctor) {
      this.#open(epoch, url, ctor);
      return;
    }
    loadWsWebSocket().then(
      (loaded) =>
        this.#guard(() => {
          this.#ctor = loaded;
          this.#open(epoch, url, loaded);
        }),
      (error: unknown) =>
        this.#guard(() => {
          if (epoch !== this.#epoch) return;
          const unavailable = new WebSocketUnavailableError({ cause: error });
          this.#emitError(unavailable);
          if (epoch === this.#epoch) this.#handleClose(1006, '', false, unavailable.message);
        }),
    );
  }

  #open(epoch: number, url: string, Ctor: WebSocketConstructor): void {
    if (epoch !== this.#epoch) return;
    const { protocols } = this.#options;
    let socket: WebSocketLike;
    try {
      socket = protocols === undefined ? new Ctor(url) : new Ctor(url, protocols);
    } catch (error) {
      // A synchronous failure (invalid URL, forbidden port, CSP ...) will fail the same way every time.
      const message = `could not create a WebSocket for ${url}: ${error instanceof Error ? error.message : String(error)}`;
      this.#emitError(new ConnectError(message, { cause: error }));
      if (epoch === this.#epoch) this.#handleClose(1006, '', false, message);
      return;
    }
    this.#socket = socket;
    this.#refusal = undefined;
    watchHandshake(socket, () => Date.now(), (refusal) => {
      if (socket === this.#socket) this.#refusal = refusal;
    });
    try {
      socket.binaryType = 'arraybuffer';
    } catch {
      // An implementation without settable binaryType keeps its own; data is passed through as is.
    }
    // Every slot is filled, onerror included: a `ws` socket without an error listener can crash the process.
    socket.onopen = () => this.#guard(() => this.#onOpen(socket));
    socket.onmessage = (event: { data?: unknown } | undefined) => this.#guard(() => this.#onMessage(socket, event));
    socket.onerror = (event: { message?: unknown; error?: unknown } | undefined) => this.#guard(() => this.#onError(socket, event));
    socket.onclose = (event: Partial<CloseEventLike> | undefined) => this.#guard(() => this.#onClose(socket, event));
  }

  // ---- socket events ----------------------------------------------------------------------

  #onOpen(socket: WebSocketLike): void {
    if (socket !== this.#socket || this.#state !== 'connecting') return;
    this.#openedAt = this.#options.clock.now();
    const epoch = ++this.#epoch;
    const attempt = this.#failures;
    if (!this.#setState('open', epoch)) return;
    this.#deadLink.start();
    this.#emitIn(epoch, 'open', { protocol: typeof socket.protocol === 'string' ? socket.protocol : '', attempt });
  }

  #onMessage(socket: WebSocketLike, event: { data?: unknown } | undefined): void {
    if (socket !== this.#socket || this.#state !== 'open') return;
    this.#deadLink.heard();
    this.#emitter.emit('message', { data: event?.data as MessageData });
  }

  #onError(socket: WebSocketLike, event: { message?: unknown; error?: unknown } | undefined): void {
    if (socket !== this.#socket || this.#state === 'closed') return;
    // Browsers give no detail (by design); `ws` gives a message and the underlying Error.
    const refusal = this.#refusal;
    const message = refusal
      ? `the server refused the upgrade with HTTP ${refusal.status}${refusal.retryAfterMs !== undefined ? ` (Retry-After ${Math.round(refusal.retryAfterMs / 1000)} s)` : ''}`
      : typeof event?.message === 'string' && event.message !== ''
        ? event.message
        : 'WebSocket error';
    this.#emitError(new SocketError(message, { cause: event?.error ?? event }));
  }

  #onClose(socket: WebSocketLike, event: Partial<CloseEventLike> | undefined): void {
    if (socket !== this.#socket) return;
    this.#socket = undefined;
    const code = typeof event?.code === 'number' ? event.code : 1006;
    const reason = typeof event?.reason === 'string' ? event.reason : '';
    this.#handleClose(code, reason, event?.wasClean === true);
  }

  /**
   * React to a close (real, or synthesized as 1006 for a failed attempt or a dead link).
   * @param forcedStop - stop with this diagnosis instead of asking the policy (unrecoverable local errors)
   */
  #handleClose(code: number, reason: string, wasClean: boolean, forcedStop?: string): void {
    this.#deadLink.stop();
    const openedAt = this.#openedAt;
    this.#openedAt = undefined;
    const refusal = this.#refusal;
    this.#refusal = undefined;
    const facts = analyzeClose(code, reason, this.#policy);

    if (this.#state === 'closed') {
      // The socket we closed in close(): its close is the final event.
      const info = closeInfo(facts, reason, wasClean, { willReconnect: false });
      this.#lastClose = info;
      this.#emitter.emit('close', info);
      return;
    }

    const epoch = ++this.#epoch;
    const attempt = (this.#failures = countFailure(this.#failures, facts, openedAt, this.#options.clock.now(), this.#options.stableAfterMs));
    const plan = planClose(facts, { reason, wasClean, forcedStop, refusal }, attempt, this.#options, this.#policy);
    this.#lastClose = plan.info;
    if (!this.#emitIn(epoch, 'close', plan.info)) return;
    switch (plan.next) {
      case 'stop':
        if (this.#setState('stopped', epoch)) this.#emitIn(epoch, 'stopped', { close: plan.info, diagnosis: plan.diagnosis });
        return;
      case 'exhausted':
        if (this.#setState('exhausted', epoch)) this.#emitIn(epoch, 'exhausted', { attempts: plan.attempts, lastClose: plan.info });
        return;
      case 'reconnect':
        if (!this.#setState('reconnecting', epoch)) return;
        // Scheduled before `reconnecting` is emitted, so a listener calling connect() cancels it cleanly.
        this.#scheduleReconnect(plan.delayMs);
        this.#emitIn(epoch, 'reconnecting', defined({ attempt, delayMs: plan.delayMs, code, incident: facts.incident }));
        return;
    }
  }

  // ---- reconnect timer ----------------------------------------------------------------------

  #scheduleReconnect(delayMs: number): void {
    this.#reconnectTimer.cancel();
    this.#reconnectDueAt = this.#options.clock.now() + delayMs;
    // Offline: every attempt would fail at once and burn the backoff; wait for `online` instead.
    if (this.#environment.offline) return;
    this.#reconnectTimer.start(delayMs, () => {
      if (this.#state === 'reconnecting') this.#attempt();
    });
  }

  // ---- dead link and environment --------------------------------------------------------------

  /** Abandon the socket: on a dead link its closing handshake would never finish, so move on as for 1006. */
  #onDeadLink(silentMs: number): void {
    const socket = this.#socket;
    // Its events are ignored from now on (its handlers stay attached, onerror included).
    this.#socket = undefined;
    try {
      socket?.close();
    } catch {
      // Nothing to do: the socket is already abandoned.
    }
    const epoch = this.#epoch;
    this.#emitError(new DeadLinkError(silentMs));
    if (epoch === this.#epoch) this.#handleClose(1006, '', false);
  }

  #onOnline(): void {
    if (this.#state === 'reconnecting') {
      this.#reconnectTimer.cancel();
      this.#attempt();
    } else if (this.#state === 'open') {
      this.#deadLink.check();
    }
  }

  #onVisible(): void {
    if (this.#state === 'open') {
      this.#deadLink.check();
    } else if (this.#state === 'reconnecting' && this.#reconnectTimer.armed && this.#options.clock.now() >= this.#reconnectDueAt) {
      // The wait is over but a throttled background timer has not fired yet.
      this.#reconnectTimer.cancel();
      this.#attempt();
    }
  }

  // ---- plumbing -----------------------------------------------------------------------------

  /** Change state and emit `state`; returns whether `epoch` is still current afterwards. */
  #setState(next: ClientState, epoch: number): boolean {
    const previous = this.#state;
    if (previous === next) return epoch === this.#epoch;
    this.#state = next;
    this.#emitter.emit('state', { state: next, previous });
    return epoch === this.#epoch;
  }

  /** Emit; returns whether `epoch` is still current afterwards (no listener moved the client on). */
  #emitIn<K extends keyof ClientEvents>(epoch: number, event: K, payload: ClientEvents[K]): boolean {
    this.#emitter.emit(event, payload);
    return epoch === this.#epoch;
  }

  #emitError(error: LifelineError): void {
    if (this.#state !== 'closed') this.#emitter.emit('error', error);
  }

  /** Run a callback invoked by the platform (socket, timer, environment) so it can never throw into it. */
  #guard(callback: () => void): void {
    try {
      callback();
    } catch (error) {
      rethrowAsync(error);
    }
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/**
 * Create a client. With the default `autoConnect: true` it starts connecting on the next microtask,
 * so listeners added right after this call see every event.
 * @throws TypeError or RangeError for invalid options, synchronously.
 */
export function createClient(options: ClientOptions): LifelineClient {
  return new LifelineClient(options);
}
