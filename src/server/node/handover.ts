/**
 * Closing an HTTP listener for a hand-over without dropping the connections it just accepted.
 *
 * Node's `server.close()` also closes every *idle* connection, and to Node a connection that was
 * accepted but whose request has not been read yet is idle. At a hand-over that is exactly the
 * connection a client opened in the last instant before the listener closed: the kernel completed its
 * TCP handshake, this process accepted it, its upgrade request is still on its way, and Node would
 * reset it. So the hand-over stops the listener alone, closes only connections that are idle *after*
 * an answer (kept-alive publishers, health checkers: they move on to the successor), and gives fresh
 * connections a bounded time to send their request, which is then served (an upgrade is accepted and
 * told to come back at once; any other answer says `Connection: close`).
 * @packageDocumentation
 */
import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';

/** How long a connection accepted just before a hand-over may take to send its request. */
export const FRESH_CONNECTION_WAIT_MS = 2000;

/** What one tracked connection is doing. */
interface SocketState {
  /** It has sent at least one request (or an upgrade). */
  requested: boolean;
  /** Requests it is waiting on an answer for. */
  inFlight: number;
}

/** Tracks an HTTP server's connections so a hand-over can tell fresh ones from idle kept-alive ones. */
export class HandoverTracker {
  readonly #sockets = new Map<Socket, SocketState>();
  #handingOver = false;

  /** @param server - the HTTP server to track; call before it accepts connections */
  constructor(private readonly server: HttpServer) {
    server.on('connection', (socket: Socket) => {
      this.#sockets.set(socket, { requested: false, inFlight: 0 });
      socket.once('close', () => this.#sockets.delete(socket));
    });
    server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
      const state = this.#sockets.get(req.socket);
      if (!state) return;
      state.requested = true;
      state.inFlight += 1;
      res.once('close', () => {
        state.inFlight -= 1;
        // Answered during a hand-over: `Connection: close` closes it; an answer that could not say so
        // (a response already under way) is ended here.
        if (this.#handingOver && state.inFlight === 0) req.socket.end();
      });
    });
    server.prependListener('upgrade', (req: IncomingMessage) => {
      // An upgraded socket belongs to the WebSocket layer now, which closes it with the drain.
      this.#sockets.delete(req.socket as Socket);
    });
  }

  /**
   * Stop listening (new connections go to the other processes sharing the socket), end connections that
   * are idle after an answer, and leave fresh ones to send their request.
   */
  stopListening(): void {
    this.#handingOver = true;
    // `net.Server`'s close, not `http.Server`'s: the latter would also close the fresh connections.
    if (this.server.listening) NetServer.prototype.close.call(this.server);
    for (const [socket, state] of this.#sockets) if (state.requested && state.inFlight === 0) socket.end();
  }

  /**
   * Resolve once no connection is still waiting to be served (fresh, or with a request in flight), or
   * after `maxWaitMs`, whichever comes first.
   */
  async settle(maxWaitMs = FRESH_CONNECTION_WAIT_MS): Promise<void> {
    const deadline = Date.now() + maxWaitMs;
    while (Date.now() < deadline && [...this.#sockets.values()].some((s) => !s.requested || s.inFlight > 0)) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}
