/**
 * Admission: which upgrades become connections. Decided on the request's facts ({@link UpgradeInfo}),
 * before the WebSocket handshake, so a refusal is a plain HTTP status the client can read (503 with
 * `Retry-After`, 403, 401) and costs no socket state. In order: the server's state (draining or stopped:
 * 503), the browser origin (403), the connection limit, counting upgrades still in admission (503), the
 * bound on upgrades in admission at once (503), then the `authenticate` hook (401/403; a hook that
 * throws is our failure: 500, logged, never the details).
 * @packageDocumentation
 */
import type { RetryHint } from '../../protocol/index.js';
import { admissionOf } from './credentials.js';
import type { Logger } from './logger.js';
import type { ResolvedServerOptions } from './options.js';
import { countIn, type ServerStats } from './stats.js';
import type { UpgradeInfo } from './transport.js';

/** Why an upgrade was refused, as counted in `refusedByReason`. */
export type RefusalReason = 'draining' | 'origin' | 'connections' | 'admission' | 'auth';

/** An upgrade turned away: the HTTP response to answer it with. */
export interface Refusal {
  readonly admitted: false;
  /** Why; `hook-failed` (the `authenticate` hook threw) is the server's failure and not counted as a refusal. */
  readonly reason: RefusalReason | 'hook-failed';
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** A short plain-text body. */
  readonly body: string;
}

/** An upgrade let in: who it is, and until when its credentials hold. */
export interface Admitted {
  readonly admitted: true;
  /** What `authenticate` named the user, if anything. */
  readonly user: string | undefined;
  /** When the credentials expire (ms since the epoch), if `authenticate` said so. */
  readonly expiresAt: number | undefined;
}

/** The outcome of admission. */
export type Verdict = Admitted | Refusal;

/** The peer of an upgrade in admission, as admission needs to see it while `authenticate` runs. */
export interface UpgradePeer {
  /** Whether the peer hung up already. */
  readonly gone: boolean;
  /** Call `listener` once if the peer hangs up; returns a function that stops listening. */
  onGone(listener: () => void): () => void;
}

/** What admission reads from its server. */
export interface AdmissionHost {
  readonly settings: ResolvedServerOptions;
  /** Whether the server takes new connections (not draining, not stopped). */
  readonly accepting: boolean;
  /** Connections open now. */
  readonly open: number;
  readonly stats: ServerStats;
  readonly logger: Logger;
}

/** Seconds a refused client is told to wait (`Retry-After`): the end of the reconnect window, at least 1. */
export function retryAfterSeconds(retryHint: RetryHint): string {
  return String(Math.max(1, Math.ceil(retryHint.maxMs / 1000)));
}

const ANONYMOUS: Admitted = { admitted: true, user: undefined, expiresAt: undefined };

/** One server's admission. */
export class Admission {
  constructor(private readonly host: AdmissionHost) {}

  /**
   * Decide one upgrade. Synchronous when there is no `authenticate` hook (or a check before it refuses);
   * otherwise a promise, which resolves with `undefined` when the peer hung up meanwhile (nothing to
   * answer). While the hook runs the upgrade counts towards `maxConnections` and `maxPendingUpgrades`.
   */
  admit(info: UpgradeInfo, peer: UpgradePeer): Verdict | Promise<Verdict | undefined> {
    const { settings, stats } = this.host;
    if (!this.host.accepting) return this.#draining();
    const { allowedOrigins, maxConnections, maxPendingUpgrades, authenticate } = settings;
    const origin = info.headers.origin;
    if (allowedOrigins !== undefined && origin !== undefined && (typeof origin !== 'string' || !allowedOrigins.includes(origin))) {
      return this.#refuse('origin', 403, {}, 'origin not allowed\n');
    }
    // Upgrades still in admission count: a slow `authenticate` must not let more in than the limit.
    if (maxConnections > 0 && this.host.open + stats.admitting >= maxConnections) {
      return this.#refuse('connections', 503, this.#retryAfter(), 'server is at its connection limit; retry shortly\n');
    }
    if (stats.admitting >= maxPendingUpgrades) {
      return this.#refuse('admission', 503, this.#retryAfter(), 'too many connections being admitted; retry shortly\n');
    }
    if (!authenticate) return ANONYMOUS;

    stats.admitting += 1;
    let admitting = true;
    const leave = (): void => {
      if (!admitting) return;
      admitting = false;
      stats.admitting -= 1;
    };
    // A peer that hangs up while its authentication runs leaves admission at once.
    const stopWatching = peer.onGone(leave);
    return Promise.resolve()
      .then(() => authenticate(info))
      .then(
        (result): Verdict | undefined => {
          leave();
          stopWatching();
          if (peer.gone) return undefined;
          const admission = admissionOf(result);
          if (!admission.admitted) {
            const { status } = admission;
            return this.#refuse('auth', status, status === 401 ? { 'WWW-Authenticate': 'Bearer' } : {}, status === 401 ? 'authentication required\n' : 'forbidden\n');
          }
          // The server may have started draining while the hook ran.
          if (!this.host.accepting) return this.#draining();
          return { admitted: true, user: admission.user, expiresAt: admission.expiresAt };
        },
        (error: unknown): Verdict => {
          leave();
          stopWatching();
          this.host.logger.error({ err: error }, 'authenticate hook failed');
          return { admitted: false, reason: 'hook-failed', status: 500, headers: {}, body: 'authentication failed\n' };
        },
      );
  }

  #draining(): Refusal {
    return this.#refuse('draining', 503, this.#retryAfter(), 'server is restarting; retry shortly\n');
  }

  #retryAfter(): Record<string, string> {
    return { 'Retry-After': retryAfterSeconds(this.host.settings.retryHint) };
  }

  #refuse(reason: RefusalReason, status: number, headers: Record<string, string>, body: string): Refusal {
    this.host.stats.refusedUpgrades += 1;
    countIn(this.host.stats.refusedByReason, reason);
    return { admitted: false, reason, status, headers, body };
  }
}
