/**
 * Inbound backpressure: the messages a connection sent that its handlers have not finished are bounded,
 * in count and in bytes. Above the soft bound the server stops reading the socket (TCP pushes back on the
 * sender) and reads again once the queue is down to half; far above it, only a peer the transport could
 * not stop gets there, and it is closed with 1008.
 * @packageDocumentation
 */
import type { Connection } from './connection.js';
import type { Logger } from './logger.js';
import type { ServerStats } from './stats.js';

/** Bytes a queued message costs beside its payload (the closure and promise that hold it), for the bounds. */
export const QUEUED_MESSAGE_OVERHEAD = 256;

/** The bounds, read on every message (a configuration reload may change them). */
export interface InboundBounds {
  /** Queued messages above which reading stops. */
  readonly maxQueuedMessages: number;
  /** Queued bytes above which reading stops; four times this closes the connection. */
  readonly maxQueuedBytes: number;
}

/** The inbound queues of every connection of one server. */
export class InboundBackpressure {
  /**
   * @param bounds - the bounds in force (a getter: read each time)
   * @param stats - the server's `inbound` counters
   */
  constructor(
    private readonly bounds: () => InboundBounds,
    private readonly stats: ServerStats['inbound'],
    private readonly logger: Logger,
  ) {}

  /**
   * A message of `size` bytes arrived: above the soft bound stop reading from its socket. The transport
   * still delivers what it had already read (up to one socket read, however many small frames that
   * holds), so the hard bound is in bytes, each message counted with its overhead. Returns false when
   * the message is refused (the connection is being closed with 1008).
   */
  admit(connection: Connection, size: number): boolean {
    const { maxQueuedMessages, maxQueuedBytes } = this.bounds();
    if (connection.inboundBytes + size + QUEUED_MESSAGE_OVERHEAD > 4 * maxQueuedBytes) {
      this.stats.overflows += 1;
      this.logger.warn({ connection: connection.id, queued: connection.inboundCount, bytes: connection.inboundBytes }, 'inbound queue over its hard bound; closing with 1008');
      connection.close(1008, 'too many messages queued');
      return false;
    }
    if (!connection.inboundPaused && (connection.inboundCount + 1 > maxQueuedMessages || connection.inboundBytes + size > maxQueuedBytes)) {
      this.stats.pauses += 1;
      this.stats.paused += 1;
      connection.setReading(false);
    }
    return true;
  }

  /**
   * Count a handler call in the connection's queue (work the server queues itself, `run`, `onConnection`,
   * `onClose`, counts too, with no bytes). Returns how many are queued or running now, this one included.
   */
  queued(connection: Connection, size: number): number {
    connection.inboundCount += 1;
    connection.inboundBytes += size + QUEUED_MESSAGE_OVERHEAD;
    return connection.inboundCount;
  }

  /** A queued handler call finished: resume reading once the queue is down to half its bound. */
  done(connection: Connection, size: number): void {
    connection.inboundCount -= 1;
    connection.inboundBytes -= size + QUEUED_MESSAGE_OVERHEAD;
    const { maxQueuedMessages, maxQueuedBytes } = this.bounds();
    if (connection.inboundPaused && connection.inboundCount <= maxQueuedMessages / 2 && connection.inboundBytes <= maxQueuedBytes / 2) {
      this.stats.paused -= 1;
      connection.setReading(true);
    }
  }

  /**
   * The connection closed: a paused one no longer counts as paused, and is not counted out again when
   * its queued handlers finish (the gauge would go below zero).
   */
  closed(connection: Connection): void {
    if (!connection.inboundPaused) return;
    this.stats.paused -= 1;
    connection.inboundPaused = false;
  }
}
