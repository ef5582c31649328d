/**
 * The error boundary: the 1011 rule. Each connection's handlers run one at a time, in arrival order;
 * a handler that throws closes *that* connection only. A `CloseError` is the peer's mistake and closes
 * with its own code; anything else is our bug: it gets an incident id, the error and its stack go to the
 * log under that id, and the connection is closed with 1011 and a reason that names the incident and
 * nothing from the error (no message, stack or path ever reaches the client).
 * @packageDocumentation
 */
import { truncateCodePoints } from '../../protocol/index.js';
import { CloseError, HandlerFailure } from '../errors.js';
import type { Clock } from './clock.js';
import { SETTLED, type Connection } from './connection.js';
import { newIncidentId } from './ids.js';
import type { InboundBackpressure } from './inbound.js';
import type { Logger } from './logger.js';

/** A handler failure, as recorded for operators. The client only ever sees `id`. */
export interface Incident {
  /** Incident id, also in the 1011 close reason and the log entry. */
  readonly id: string;
  /** When it happened, ms since the epoch. */
  readonly at: number;
  /** The connection it closed. */
  readonly connection: string;
  /** Which handler threw. */
  readonly handler: 'connection' | 'message' | 'close';
  /** First line of the error, for operators' eyes only. */
  readonly summary: string;
}

/** Which handler a piece of work is, as an {@link Incident} names it. */
export type HandlerKind = Incident['handler'];

/** How many incidents {@link ErrorBoundary.recent} keeps (the oldest go first). */
export const RECENT_INCIDENTS = 50;

/** Longest {@link Incident.summary}, in characters. */
const SUMMARY_CHARS = 200;

/** What the boundary needs from its server. */
export interface BoundaryHost {
  readonly clock: Clock;
  readonly logger: Logger;
  /** The inbound queues, which count the work waiting in each connection's chain. */
  readonly inbound: InboundBackpressure;
  /** An incident was recorded (count it, tell listeners). */
  incident(incident: Incident): void;
}

/** Runs handlers per connection, in order, and turns their failures into the right close. */
export class ErrorBoundary {
  readonly #incidents: Incident[] = [];

  constructor(private readonly host: BoundaryHost) {}

  /**
   * Run a handler after the connection's previous ones, inside the boundary. With nothing queued it
   * starts at once, in the same turn as the message arrived: a synchronous handler's reply is then
   * written before the transport reads on (and, say, answers a Close that followed in the same read).
   * @param size - the bytes of the message it handles, counted in the inbound queue until it is done
   */
  enqueue(connection: Connection, handler: HandlerKind, run: () => unknown, size = 0): void {
    const inbound = this.host.inbound;
    const queued = inbound.queued(connection, size);
    const step = async (): Promise<void> => {
      try {
        // Messages queued behind a handler that closed the connection are not processed; those that
        // arrived before the peer's Close are, so their replies can go out before ours.
        if (handler !== 'close' && !connection.writable) return;
        await run();
      } catch (error) {
        this.#failed(connection, handler, error);
      } finally {
        inbound.done(connection, size);
        // Nothing queued behind: the chain's tail is the shared settled promise again, so an idle
        // connection does not keep its last handler's promise.
        if (connection.inboundCount === 0) connection.chain = SETTLED;
      }
    };
    if (queued === 1) {
      connection.chain = step();
      return;
    }
    connection.chain = connection.chain.then(step);
  }

  /** The most recent incidents, newest last (at most {@link RECENT_INCIDENTS}). */
  recent(): readonly Incident[] {
    return [...this.#incidents];
  }

  /** The peer's mistakes get their own code; anything else is our bug, 1011 with an incident id. */
  #failed(connection: Connection, handler: HandlerKind, error: unknown): void {
    const { logger } = this.host;
    if (error instanceof CloseError) {
      logger.info({ connection: connection.id, closeCode: error.closeCode, reason: error.reason }, 'closing on client error');
      connection.closeWith(error.closeCode, { text: error.reason, ...(error.retry ? { retry: error.retry } : {}) });
      return;
    }
    // Where the failure was recorded before it got here (against the message that caused it), its id stays.
    const preassigned = error instanceof HandlerFailure;
    const id = preassigned ? error.incident : newIncidentId();
    const cause = preassigned ? error.cause : error;
    const err = cause instanceof Error ? cause : new Error(String(cause));
    logger.error({ incident: id, connection: connection.id, handler, err }, 'handler failed; closing connection with 1011');
    const incident: Incident = { id, at: this.host.clock.now(), connection: connection.id, handler, summary: truncateCodePoints(err.message.split('\n')[0] ?? '', SUMMARY_CHARS) };
    this.#incidents.push(incident);
    if (this.#incidents.length > RECENT_INCIDENTS) this.#incidents.shift();
    this.host.incident(incident);
    // The reason names the incident and nothing from the error.
    connection.closeWith(1011, { text: 'internal error', incident: id });
  }
}
