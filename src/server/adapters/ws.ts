/**
 * The one file that imports `ws`, and the one place that wires sockets to the core: it takes an HTTP
 * upgrade through the core's admission, answers a refusal over HTTP, completes the handshake, turns the
 * `ws` socket into a {@link TransportSocket} and reports its life through {@link TransportEvents}.
 * @packageDocumentation
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { requireOptional } from '../../optional-dependency.js';
import type { UpgradePeer, Verdict } from '../core/admission.js';
import type { ServerCore } from '../core/server-core.js';
import type { TransportEvents, TransportSocket, UpgradeInfo } from '../core/transport.js';
import { PingFloodError } from '../errors.js';
import { refuseUpgrade } from '../node/http.js';

/** Options of the `ws` adapter. */
export interface WsAdapterOptions {
  /** Largest accepted message in bytes; larger ones close with 1009 (by `ws`). */
  readonly maxPayload: number;
  /** Most frames one message may arrive in; more close with 1008 (by `ws`). 0: no limit. */
  readonly maxFragments: number;
  /** Subprotocols this server speaks, in order of preference. */
  readonly subprotocols: readonly string[];
}

/** The core's side of an upgrade: admission, then the socket. */
export type SocketAcceptor = Pick<ServerCore, 'admit' | 'accept'>;

/** An upgrade handler bound to one `ws` server. */
export interface WsAdapter {
  /**
   * Take one upgrade request through `core`'s admission: refused, it is answered over HTTP (a status the
   * client can read, never a reset); admitted, the WebSocket handshake completes and the socket is the
   * core's.
   */
  upgrade(request: IncomingMessage, socket: Duplex, head: Buffer, core: SocketAcceptor): void;
  /** Stop the `ws` server (does not touch sockets already handed over). */
  close(): void;
}

/** The 'error' listener of every upgrading socket; shared, since a closure would keep each request alive. */
function destroySocket(this: Duplex): void {
  this.destroy();
}

/**
 * Headers whose values clients of one server send alike (`upgrade`, `host`, `user-agent`, `origin`...).
 * A connection keeps its request's headers for as long as it lives (`Connection.info.headers`), and these
 * values repeat from one client to the next: each is kept once, in {@link sharedValue}. Only headers of
 * this list, never a credential (`authorization`, `cookie`) or the handshake's nonce (`sec-websocket-key`).
 */
const SHARED_HEADERS: ReadonlySet<string> = new Set([
  'host',
  'upgrade',
  'connection',
  'sec-websocket-version',
  'sec-websocket-extensions',
  'sec-websocket-protocol',
  'origin',
  'user-agent',
  'accept-encoding',
  'accept-language',
  'cache-control',
  'pragma',
  'x-forwarded-proto',
]);
/** Most values {@link sharedValue} keeps (then it starts over), and the longest it keeps: a bounded cache, whatever clients send. */
const MAX_SHARED_VALUES = 1024;
const MAX_SHARED_LENGTH = 512;
let sharedValues = new Map<string, string>();

/** The one copy of `value` every connection that sent it holds. */
function sharedValue(value: string): string {
  const known = sharedValues.get(value);
  if (known !== undefined) return known;
  if (value.length > MAX_SHARED_LENGTH) return value;
  if (sharedValues.size >= MAX_SHARED_VALUES) sharedValues = new Map();
  sharedValues.set(value, value);
  return value;
}

/** The request's headers, their repeated values replaced by the equal string already held (see {@link SHARED_HEADERS}). */
function headersOf(request: IncomingMessage): IncomingMessage['headers'] {
  const { headers } = request;
  for (const name in headers) {
    const value = headers[name];
    if (typeof value === 'string' && SHARED_HEADERS.has(name)) headers[name] = sharedValue(value);
  }
  return headers;
}

/** An upgrading socket, as admission watches it while `authenticate` runs. */
function peerOf(socket: Duplex): UpgradePeer {
  return {
    get gone() {
      return socket.destroyed;
    },
    onGone(listener) {
      socket.once('close', listener);
      return () => socket.off('close', listener);
    },
  };
}

/**
 * The close code `ws` sent for a protocol error. `ws` attaches it to the error under its own
 * `status-code` symbol; reading it (rather than keeping a table of our own) makes the logged and
 * counted code the one on the wire, whatever `ws` version decides.
 */
export function closeCodeOf(error: Error): number {
  for (const symbol of Object.getOwnPropertySymbols(error)) {
    if (symbol.description !== 'status-code') continue;
    const code = (error as unknown as Record<symbol, unknown>)[symbol];
    if (typeof code === 'number') return code;
  }
  return 1002;
}

/**
 * Sockets written to since the event loop last turned. Each is corked on its first write and uncorked
 * once, in `setImmediate`: every frame queued for a peer in one turn (a burst of channel messages, the
 * replies to pipelined requests) leaves in one write system call instead of one per frame.
 */
let corked: WsSocket[] = [];
function uncorkAll(): void {
  const sockets = corked;
  corked = [];
  for (const s of sockets) s.uncork();
}

/** `ws`'s own `WebSocket#close`, taken once `ws` is loaded: the adapter's sockets replace `close` (see {@link wiredSocketClass}). */
let closeSocket!: WebSocket["close"];
/** `OPEN` and `CLOSED` (RFC 6455 ready states, as `ws` numbers them). */
const OPEN = 1;
const CLOSED = 3;

class WsSocket implements TransportSocket {
  private corked = false;
  /** @param raw - the TCP socket under `ws`, to cork, uncork and watch for 'drain' (Node's public stream API) */
  constructor(
    private readonly ws: WebSocket,
    private readonly raw: Duplex,
  ) {}
  get protocol(): string {
    return this.ws.protocol;
  }
  bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }
  send(data: string | Uint8Array): boolean {
    if (this.ws.readyState !== OPEN) return false;
    if (!this.corked) {
      this.corked = true;
      this.raw.cork();
      if (corked.push(this) === 1) setImmediate(uncorkAll);
    }
    this.ws.send(data);
    return true;
  }
  uncork(): void {
    this.corked = false;
    this.raw.uncork();
  }
  close(code: number, reason: string): void {
    if (this.ws.readyState === CLOSED) return;
    closeSocket.call(this.ws, code, reason);
  }
  terminate(): void {
    this.ws.terminate();
  }
  ping(): void {
    if (this.ws.readyState === OPEN) this.ws.ping();
  }
  pause(): void {
    this.ws.pause();
  }
  resume(): void {
    this.ws.resume();
  }
  onDrain(listener: () => void): void {
    if (this.raw.destroyed || this.ws.readyState === CLOSED) {
      queueMicrotask(listener);
      return;
    }
    let done = false;
    const once = (): void => {
      if (done) return;
      done = true;
      this.raw.off('drain', once);
      this.raw.off('close', once);
      listener();
    };
    this.raw.on('drain', once);
    this.raw.on('close', once);
  }
}

/**
 * The `ws` socket as this adapter makes it (through `WebSocketServer`'s `WebSocket` option): what the
 * core hears about it is kept on the socket itself.
 */
interface WiredSocket extends WebSocket {
  /** Where this socket's life is reported; set once the core accepted it (see {@link wire}). */
  events: TransportEvents | undefined;
  /** `closed` was reported (exactly once). */
  closeReported: boolean;
  /** Our answer to the peer's Close is waiting for the replies owed before it. */
  answeringPeerClose: boolean;
  /** Pongs handed to the socket and not yet written (see {@link MAX_PENDING_PONGS}). */
  pendingPongs: number;
}

/**
 * Most pongs owed to a peer and not yet written. An honest burst of pings is answered pong for pong (a
 * thousand pings in one read included); past the bound the peer sends pings faster than it reads their
 * pongs, a policy breach: closed with 1008. At most 127 bytes a pong, so about 128 KiB held at worst.
 * (`ws`'s own answering cuts the TCP connection after 60, before a burst read at once was written.)
 */
export const MAX_PENDING_PONGS = 1024;

/** Report one socket's life to the core (from now on its events go there: see {@link wiredSocketClass}). */
function wire(ws: WiredSocket, events: TransportEvents): void {
  ws.events = events;
}

/**
 * `ws`'s `WebSocket` with two changes.
 *
 * `emit`: once the core has the socket, the events `ws` emits on it (`message`, `pong`, `error`,
 * `close`; RFC 6455 life, as `ws` documents them) go straight to the core's {@link TransportEvents}
 * instead of through listeners: no listener functions and no event table per connection, and no
 * listener lookup per message. An `error` therefore never goes unheard (without a listener it would throw
 * out of the socket and take the process down). Everything else, and everything before the core has the
 * socket, is `ws`'s own `emit`.
 *
 * `close`: `ws` answers a peer's Close at once, from inside its receiver, by calling `close` on the
 * socket. This `close` lets the core finish what the peer sent before its Close, so the replies go out
 * before our Close does (RFC 6455 §5.5.1 allows it: an endpoint may delay its Close). Every other close
 * (ours, a protocol error's, one before the core has the socket) goes straight through.
 */
function wiredSocketClass(Base: typeof WebSocket): typeof WebSocket {
  return class LifelineWebSocket extends Base {
    events: TransportEvents | undefined = undefined;
    closeReported = false;
    answeringPeerClose = false;
    pendingPongs = 0;
    readonly #pongWritten = (): void => {
      this.pendingPongs -= 1;
    };

    override emit(event: string | symbol, ...args: unknown[]): boolean {
      // Before and after the core has the socket alike: every ping is answered (RFC 6455 §5.5.2).
      if (event === 'ping') {
        this.#answerPing(args[0] as Buffer);
        return true;
      }
      const events = this.events;
      if (events === undefined) return super.emit(event, ...args);
      switch (event) {
        case 'message': {
          // `ws` hands over Buffer (default binaryType 'nodebuffer'); text is decoded here once.
          const buf = args[0] as Buffer;
          const isBinary = args[1] === true;
          events.message(isBinary ? new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength) : buf.toString('utf8'), isBinary);
          return true;
        }
        case 'pong':
          events.pong();
          return true;
        case 'error': {
          const error = args[0] as Error;
          events.protocolError(error, closeCodeOf(error));
          return true;
        }
        case 'close':
          if (!this.closeReported) {
            this.closeReported = true;
            events.closed(args[0] as number, (args[1] as Buffer).toString('utf8'));
          }
          return true;
        default:
          return super.emit(event, ...args);
      }
    }

    #answerPing(data: Buffer): void {
      if (this.readyState !== OPEN) return;
      if (this.pendingPongs >= MAX_PENDING_PONGS) {
        closeSocket.call(this, 1008, 'too many pings');
        this.events?.protocolError(new PingFloodError(MAX_PENDING_PONGS), 1008);
        return;
      }
      this.pendingPongs += 1;
      this.pong(data, false, this.#pongWritten);
    }

    override close(code?: number, reason?: string | Buffer): void {
      const events = this.events;
      const peerClose = (this as unknown as { _closeFrameReceived?: boolean })._closeFrameReceived === true && this.readyState === OPEN;
      if (events === undefined || !peerClose || this.answeringPeerClose) return closeSocket.call(this, code, reason);
      this.answeringPeerClose = true;
      const text = reason === undefined ? '' : reason.toString();
      let wait: Promise<void> | void;
      try {
        wait = events.peerClosing(code ?? 1005, text);
      } catch {
        wait = undefined;
      }
      const finish = (): void => {
        if (this.readyState === OPEN) closeSocket.call(this, code, reason);
      };
      if (wait === undefined) finish();
      else wait.then(finish, finish);
    }
  };
}

/** Create the `ws`-backed adapter. */
export function createWsAdapter(options: WsAdapterOptions): WsAdapter {
  const { WebSocket: WebSocketClass, WebSocketServer } = requireOptional<typeof import('ws')>('ws', 'createServer');
  closeSocket = WebSocketClass.prototype.close;
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: options.maxPayload,
    // 0 would mean "no limit" to the server and to us alike; ws's default is 16384.
    maxFragments: options.maxFragments,
    // Compression costs CPU and memory per connection and opens CRIME-style questions; off by default.
    perMessageDeflate: false,
    clientTracking: false,
    // Pongs are answered by the socket class below: `ws`'s own cuts TCP (1006, no Close) past 60 unwritten.
    autoPong: false,
    WebSocket: wiredSocketClass(WebSocketClass),
    // The server's order of preference decides, not the order the client listed them in.
    handleProtocols: (protocols) => options.subprotocols.find((p) => protocols.has(p)) ?? false,
  });

  return {
    upgrade(request, socket, head, core) {
      socket.on('error', destroySocket);
      // Read before the handshake: nothing that outlives it may hold the request (about 1.2 KB of heap
      // and 2 KB of RSS per connection: the IncomingMessage, its raw headers and parser buffer).
      const info: UpgradeInfo = {
        remoteAddress: request.socket.remoteAddress ?? '',
        url: request.url ?? '/',
        headers: headersOf(request),
      };
      const settle = (verdict: Verdict | undefined): void => {
        if (verdict === undefined) return;
        if (!verdict.admitted) {
          refuseUpgrade(socket, verdict.status, verdict.headers, verdict.body);
          return;
        }
        wss.handleUpgrade(request, socket, head, (ws) => wire(ws as WiredSocket, core.accept(new WsSocket(ws, socket), info, verdict)));
      };
      const verdict = core.admit(info, peerOf(socket));
      // Without an `authenticate` hook the handshake completes in this same turn, as the upgrade arrived.
      if (verdict instanceof Promise) void verdict.then(settle);
      else settle(verdict);
    },
    close() {
      wss.close();
    },
  };
}
