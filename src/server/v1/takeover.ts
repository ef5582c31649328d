/**
 * One live connection per session. The connection that resumes a session takes it over: the one that held
 * it is closed with 4801 (Session Taken Over). On this process that is a map lookup; across processes that
 * share a store (Redis), the resume is announced on a reserved channel that the store fans out to every
 * process, and the announcements' offsets order two resumes of one session on two nodes the same way
 * everywhere, so exactly one connection keeps it.
 * @packageDocumentation
 */
import type { ChannelPosition, StoredMessage } from '../../store/types.js';

/** The reserved channel resumes are announced on (readable by admins only, like every `$lifeline.*`). */
export const TAKEOVER_CHANNEL = '$lifeline.takeover';

/** A connection that can hold a session. */
export interface SessionHolder {
  /** Its connection's id, named in announcements. */
  readonly connectionId: string;
  /** Another connection took the session over: stop and close. */
  takenOver(): void;
}

/** Announce a resume to every process; resolves with where the announcement was stored. */
export type Announce = (session: string, connection: string) => Promise<ChannelPosition>;

interface Hold {
  readonly holder: SessionHolder;
  /** Where this holder's own announcement was stored (resumes on a shared store only). */
  announced?: ChannelPosition;
  /** Announcements of others that arrived while this holder's own was being stored: decided once it is. */
  deferred?: StoredMessage[];
}

/** The sessions held by this process's connections. */
export class SessionHolders {
  readonly #byId = new Map<string, Hold>();

  /** @param announce - set when the store is shared by several processes */
  constructor(private readonly announce: Announce | undefined) {}

  /**
   * `holder` now holds `session`: a previous holder on this process is taken over at once, and a resume
   * is announced to the other processes (awaited, so a resume that cannot reach them does not go on).
   * @throws what the store throws while announcing
   */
  async hold(session: string, holder: SessionHolder, resumed: boolean): Promise<void> {
    const previous = this.#byId.get(session);
    const hold: Hold = { holder };
    this.#byId.set(session, hold);
    if (previous !== undefined && previous.holder !== holder) previous.holder.takenOver();
    if (!resumed || !this.announce) return;
    hold.deferred = [];
    try {
      hold.announced = await this.announce(session, holder.connectionId);
    } finally {
      const deferred = hold.deferred;
      hold.deferred = undefined;
      for (const message of deferred) this.received(message);
    }
  }

  /** `holder` let go of `session` (its connection closed). */
  release(session: string, holder: SessionHolder): void {
    if (this.#byId.get(session)?.holder === holder) this.#byId.delete(session);
  }

  /** An announcement arrived from the store's fan-out (this process's own included). */
  received(message: StoredMessage): void {
    if (message.channel !== TAKEOVER_CHANNEL) return;
    const data = message.data as { session?: unknown; connection?: unknown } | null;
    if (typeof data !== 'object' || data === null || typeof data.session !== 'string') return;
    const hold = this.#byId.get(data.session);
    if (hold === undefined || hold.holder.connectionId === data.connection) return;
    // Two resumes of one session on two nodes at once: the later announcement wins, on every node alike.
    if (hold.deferred !== undefined) {
      hold.deferred.push(message);
      return;
    }
    const own = hold.announced;
    if (own !== undefined && own.epoch === message.epoch && own.offset > message.offset) return;
    this.#byId.delete(data.session);
    hold.holder.takenOver();
  }
}
