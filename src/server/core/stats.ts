/**
 * The server's counters: what `stats()` returns and the metrics mirror. One mutable record per server,
 * written by the core's rooms (admission, the boundary, the drain, inbound, heartbeat) and copied out
 * whole, so a reader never sees a half-updated snapshot.
 * @packageDocumentation
 */
import type { PresenceCounters } from '../v1/presence.js';
import type { ProtocolCount } from '../v1/protocol-session.js';
import type { ClosedBy } from './connection.js';

/** Counters since the server started. */
export interface ServerStats {
  /** Connections currently open. */
  open: number;
  /** Connections accepted in total. */
  opened: number;
  /** Closes by code. */
  closesByCode: Record<number, number>;
  /** Closes by which side started them. */
  closesBy: Record<ClosedBy, number>;
  /** Handler failures (each closed a connection with 1011). */
  incidents: number;
  /** Peers terminated for not answering heartbeats. */
  deadPeers: number;
  /** Protocol errors by the close code they caused (1002, 1007, 1009). */
  protocolErrors: Record<number, number>;
  /** Upgrades refused with 503 while draining. */
  refusedUpgrades: number;
  /** Drains started (restarts and shutdowns). */
  drains: number;
  /** Messages received. */
  messagesIn: number;
  /** Messages sent. */
  messagesOut: number;
  /** Channel messages sent from history (replays and catch-ups). */
  replayed: number;
  /** `lifeline.v1` hellos answered: new sessions, resumed ones, and resumes that could not recover everything. */
  sessions: { created: number; resumed: number; notRecovered: number };
  /** Peers closed (1013) for not reading their output. */
  slowConsumers: number;
  /** Connections closed (1008) for sending faster than `rateLimit`. */
  rateLimited: number;
  /** Channel messages published (appended to the store) by this process. */
  published: number;
  /** Store operations that failed, by operation. */
  storeErrors: Record<string, number>;
  /** Messages a handler or the server tried to send that could not go out, by why (`closing`, `slow-consumer`). */
  unsent: Record<string, number>;
  /** Inbound backpressure: times a socket was paused, connections paused now, and closes (1008) over the hard bound. */
  inbound: { pauses: number; paused: number; overflows: number };
  /** Upgrades in admission now (`authenticate` running). */
  admitting: number;
  /** Upgrades refused, by reason (`draining`, `origin`, `connections`, `admission`, `auth`). */
  refusedByReason: Record<string, number>;
  /** History replay: bytes held for sending now and at most, replays that waited for room. */
  replay: { bytesInFlight: number; peakBytes: number; waits: number; budgetBytes: number };
  /** The `lifeline.v1` layer's refusals and honest unknowns (see `ProtocolCount`). */
  protocol: Record<ProtocolCount, number>;
  /**
   * Times the process was found out of file descriptors (new connections dropped: EMFILE/ENFILE), by
   * the listener's `error` or by the once-a-second look at the descriptor limit.
   */
  acceptErrors: number;
  /** `lifeline.v1` connections closed (1008) for not sending `hello` in time. */
  helloTimeouts: number;
  /**
   * A shared store's deliveries to this process (`Store.watch`): messages received (from every process,
   * this one's own included), those of them no local subscriber needed, and channels read again after
   * the store reported a broken delivery (`Store.onResubscribe`).
   */
  fanout: { received: number; unwanted: number; catchUps: number };
  /**
   * Channels whose epoch the store's rollback fence rotated (`Store.onRollback`): the store showed less
   * of a channel than it had seen committed (a failover to a replica that was behind).
   */
  storeRollbacks: number;
  /**
   * Presence on this process: memberships its connections hold now (`held`), the joins and leaves it learned
   * of, the leaves its sweeps claimed (`expired`), queries answered, event frames written and changes
   * coalesced under the event rate, times its lease had run out, and its catch-up of watched channels after
   * missed changes (reads, changes told from them, failed reads). Refusals are in `protocol`.
   */
  presence: PresenceCounters;
}

/** A server's counters at start: every known series at 0. */
export function emptyStats(): ServerStats {
  return {
    open: 0,
    opened: 0,
    closesByCode: {},
    closesBy: { server: 0, client: 0, transport: 0 },
    incidents: 0,
    deadPeers: 0,
    protocolErrors: {},
    refusedUpgrades: 0,
    drains: 0,
    messagesIn: 0,
    messagesOut: 0,
    replayed: 0,
    sessions: { created: 0, resumed: 0, notRecovered: 0 },
    slowConsumers: 0,
    rateLimited: 0,
    published: 0,
    storeErrors: {},
    unsent: {},
    inbound: { pauses: 0, paused: 0, overflows: 0 },
    admitting: 0,
    refusedByReason: {},
    replay: { bytesInFlight: 0, peakBytes: 0, waits: 0, budgetBytes: 0 },
    protocol: {
      conflicts: 0,
      forgottenIds: 0,
      outcomeUnknown: 0,
      subscriptionLimit: 0,
      channelLimit: 0,
      reservedRefused: 0,
      takeovers: 0,
      authRefused: 0,
      credentialsExpired: 0,
      presenceFull: 0,
      presenceInfoLimit: 0,
      presenceQueryLimit: 0,
      presenceUnavailable: 0,
    },
    acceptErrors: 0,
    helloTimeouts: 0,
    fanout: { received: 0, unwanted: 0, catchUps: 0 },
    storeRollbacks: 0,
    presence: { held: 0, joins: 0, leaves: 0, expired: 0, queries: 0, eventsSent: 0, coalesced: 0, leaseLapses: 0, resyncs: 0, recovered: 0, resyncFailures: 0 },
  };
}

/** Add one to `key` of a counter keyed by an open set of values (a close code, a reason). */
export function countIn<K extends string | number>(counter: Record<K, number>, key: K): void {
  counter[key] = (counter[key] ?? 0) + 1;
}
