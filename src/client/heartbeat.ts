/**
 * The session's own heartbeat: browsers cannot see WebSocket-level pings, so the dead-link check
 * (the transport's, counting from the last message received) needs traffic it can see. After the
 * server's `welcome`, a `ping` goes out whenever nothing was received for {@link pingInterval}; the
 * server's `pong` is the traffic.
 * @packageDocumentation
 */
import type { Clock } from './environment.js';
import { SESSION_DEFAULTS } from './session-options.js';
import { Timer } from './timer.js';

/**
 * How long the session may be silent before it pings, in milliseconds: half the server's heartbeat,
 * and at most `deadLinkMs / 2.5` so a pong always arrives well before the dead-link check would fire.
 * 0 means never (the server has no heartbeat and dead-link detection is off).
 * @param serverHeartbeatMs - the `welcome`'s `heartbeatMs` (`fallbackHeartbeatMs` when it is not a number)
 * @internal
 */
export function pingInterval(serverHeartbeatMs: number, deadLinkMs: number, fallbackHeartbeatMs: number): number {
  const candidates: number[] = [];
  const server = typeof serverHeartbeatMs === 'number' && Number.isFinite(serverHeartbeatMs) ? serverHeartbeatMs : fallbackHeartbeatMs;
  if (server > 0) candidates.push(server / 2);
  if (deadLinkMs > 0) candidates.push(deadLinkMs / SESSION_DEFAULTS.deadLinkFactor);
  return candidates.length === 0 ? 0 : Math.min(...candidates);
}

/**
 * Pings after silence. Silence counts from the last thing received ({@link Heartbeat.heard}) or the
 * last ping sent, so one silent period costs one ping; the checks read `now()` and never count ticks.
 * Ping numbers come from one sequence, shared with pings the session sends for its own reasons.
 * @internal
 */
export class Heartbeat {
  readonly #clock: Clock;
  readonly #ping: (n: number) => void;
  readonly #timer: Timer;
  #quietSince = 0;
  #intervalMs = 0;
  #seq = 0;

  /** @param ping - send a `ping` frame numbered `n` */
  constructor(clock: Clock, ping: (n: number) => void) {
    this.#clock = clock;
    this.#ping = ping;
    this.#timer = new Timer(clock);
  }

  /** Something arrived from the server (or the connection opened): silence counts from now. */
  heard(): void {
    this.#quietSince = this.#clock.now();
  }

  /** Start pinging after `intervalMs` of silence (0: never), until {@link Heartbeat.stop}. */
  start(intervalMs: number): void {
    this.#intervalMs = intervalMs;
    this.#arm();
  }

  /** The connection ended. */
  stop(): void {
    this.#timer.cancel();
  }

  /** The next ping number, for a ping sent outside the schedule. */
  nextSeq(): number {
    return ++this.#seq;
  }

  #arm(): void {
    this.#timer.cancel();
    if (this.#intervalMs <= 0) return;
    const silent = this.#clock.now() - this.#quietSince;
    this.#timer.start(Math.max(1, this.#intervalMs - silent), () => {
      const now = this.#clock.now();
      if (now - this.#quietSince >= this.#intervalMs) {
        this.#ping(this.nextSeq());
        // Count the next silence from this ping. Dead-link detection (the transport's) still counts
        // from the last thing actually received.
        this.#quietSince = now;
      }
      this.#arm();
    });
  }
}
