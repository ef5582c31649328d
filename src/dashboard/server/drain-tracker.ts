/**
 * Follows a drain (a planned restart, or a shutdown) for the restart view: how many connections it set
 * out to close, how many have closed, and how many of their sessions came back. Dashboards are left
 * out, like everywhere the counts are shown.
 *
 * "Back" means a `lifeline.v1` session that was open when the drain started resumed afterwards: on this
 * process, or on another one sharing the store (a zero-dark or rolling restart's successor), which
 * announces each resume on the takeover channel. A plain WebSocket client has no identity across connections, so it is only seen as one of
 * the connections `opened` since the drain began.
 * @packageDocumentation
 */
import type { Connection, LifelineServer } from '../../server/index.js';
import { TAKEOVER_CHANNEL } from '../../server/v1/takeover.js';
import type { DrainProgress } from '../snapshot.js';

/** How long after a drain ends resumes are still counted as "back" (clients wait up to the retry hint). */
export const BACK_COUNT_MS = 60_000;

interface Tracking {
  progress: DrainProgress;
  /** Target connections not yet closed. */
  readonly pending: Set<Connection>;
  /** Session ids of the targets that have not resumed yet. */
  readonly away: Set<string>;
}

/** Follows the drains of one server; {@link DrainTracker.current} is the latest. */
export class DrainTracker {
  #tracking: Tracking | undefined;
  #releaseTimer: NodeJS.Timeout | undefined;
  readonly #offs: (() => void)[];

  constructor(server: LifelineServer, isDashboard: (connection: Connection) => boolean) {
    this.#offs = [
      // Emitted as the drain starts, before any close: the open connections are exactly its targets.
      server.on('drain-start', ({ kind, code }) => {
        const targets = [...server.connections].filter((c) => c.state === 'open' && !isDashboard(c));
        const away = new Set<string>();
        for (const c of targets) {
          const session = server.sessionOf(c);
          if (session !== undefined) away.add(session);
        }
        clearTimeout(this.#releaseTimer);
        this.#tracking = {
          progress: { startedAt: Date.now(), kind, code, targets: targets.length, closed: 0, sessions: away.size, back: 0, opened: 0, drainWindowMs: server.settings.drainWindowMs },
          pending: new Set(targets),
          away,
        };
      }),
      server.on('close', ({ connection }) => {
        const t = this.#tracking;
        if (t?.pending.delete(connection)) this.#update({ closed: t.progress.closed + 1 });
      }),
      server.on('connection', (connection) => {
        const t = this.#tracking;
        if (t && !isDashboard(connection) && !this.#released()) this.#update({ opened: t.progress.opened + 1 });
      }),
      server.on('session', ({ session, resumed }) => {
        const t = this.#tracking;
        if (t && resumed && t.away.delete(session)) this.#update({ back: t.progress.back + 1 });
      }),
      // Resumed on another process: announced there, heard here through the shared store.
      server.store.watch?.((message) => {
        if (message.channel !== TAKEOVER_CHANNEL) return;
        const session = (message.data as { session?: unknown } | null)?.session;
        const t = this.#tracking;
        if (t && typeof session === 'string' && t.away.delete(session)) this.#update({ back: t.progress.back + 1 });
      }) ?? (() => {}),
      server.on('drain-end', () => {
        const t = this.#tracking;
        if (!t) return;
        this.#update({ endedAt: Date.now() });
        t.pending.clear();
        // The session ids are kept a minute for the stragglers to come back, then let go (a drain of 100k
        // connections should not pin 100k ids until the next one).
        this.#releaseTimer = setTimeout(() => t.away.clear(), BACK_COUNT_MS);
        this.#releaseTimer.unref();
      }),
    ];
  }

  /** The latest drain, or undefined before the first. */
  current(): DrainProgress | undefined {
    return this.#tracking?.progress;
  }

  /** Whether a drain is under way, or ended less than `withinMs` ago. */
  active(withinMs = 0): boolean {
    const p = this.#tracking?.progress;
    return p !== undefined && (p.endedAt === undefined || Date.now() - p.endedAt < withinMs);
  }

  /** Stop following. */
  dispose(): void {
    clearTimeout(this.#releaseTimer);
    for (const off of this.#offs) off();
  }

  #released(): boolean {
    const p = this.#tracking?.progress;
    return p?.endedAt !== undefined && Date.now() - p.endedAt > BACK_COUNT_MS;
  }

  #update(patch: Partial<DrainProgress>): void {
    if (this.#tracking) this.#tracking.progress = { ...this.#tracking.progress, ...patch };
  }
}
