/**
 * The heartbeat: every `heartbeatMs` each open connection is pinged; one that has not answered (any
 * frame counts, a message or a pong) since the previous ping is a dead peer and is terminated, so a
 * half-open TCP connection does not hold a slot forever.
 * @packageDocumentation
 */
import { inBackground, type Clock } from './clock.js';
import type { Connection } from './connection.js';

/** What the heartbeat needs from its server. */
export interface HeartbeatHost {
  readonly clock: Clock;
  /** The connections to look at. */
  connections(): Iterable<Connection>;
  /** A peer missed a beat and is about to be terminated (count it, log it, tell listeners). */
  deadPeer(connection: Connection): void;
}

/** One server's heartbeat timer. */
export class Heartbeat {
  #timer: unknown;
  #intervalMs = 0;

  constructor(private readonly host: HeartbeatHost) {}

  /** (Re)start beating every `intervalMs`; 0 stops. */
  start(intervalMs: number): void {
    this.stop();
    this.#intervalMs = intervalMs;
    if (intervalMs > 0) this.#schedule();
  }

  /** Stop beating. */
  stop(): void {
    if (this.#timer !== undefined) this.host.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    // A watchdog: it must not keep an otherwise finished process alive.
    this.#timer = inBackground(
      this.host.clock.setTimeout(() => {
        this.#schedule();
        this.beat();
      }, this.#intervalMs),
    );
  }

  /** One beat: terminate the peers that missed the last one, ping the others. */
  beat(): void {
    for (const connection of this.host.connections()) {
      if (connection.state !== 'open') continue;
      // A socket the server stopped reading cannot show its pongs: the silence is ours, not the peer's.
      if (connection.inboundPaused) {
        connection.awaitingPong = false;
        continue;
      }
      if (connection.awaitingPong) {
        this.host.deadPeer(connection);
        connection.terminate();
        continue;
      }
      connection.awaitingPong = true;
      connection.ping();
    }
  }
}
