/**
 * One `lifeline.v1` connection's part of presence: the memberships its session holds through it, the
 * channels whose events it watches, and its presence queries (bounded per second). What the connection's
 * end means is decided here: a session that ended (a close with 1000, or 1001 from the client: a page
 * going away) leaves at once; any other end (a restart's 1012, a takeover's 4801, a dropped link's 1006,
 * a refusal the client may recover from) only detaches its memberships, which stay for the grace period
 * and continue silently when the session resumes.
 * @packageDocumentation
 */
import { ProtocolErrorCode, type MembersFrame, type PresenceFrame, type PresenceRequest } from '../../protocol/index.js';
import type { JsonValue, PresenceHolder, SessionPresence } from '../../store/types.js';
import type { ClosedBy, Connection } from '../core/connection.js';
import type { ResolvedServerOptions } from '../core/options.js';
import { TokenBucket } from '../core/token-bucket.js';
import type { PresenceService } from './presence.js';
import type { PresenceWatcher } from './presence-feed.js';
import type { ProtocolCount } from './protocol-session.js';

/** Most members in one page of a presence query (a query may ask for fewer). */
export const PRESENCE_PAGE_MAX = 100;

/** What a presence join came to, for the `sub` or the resume that asked for it. */
export type JoinVerdict = 'member' | 'full' | 'unavailable';

/** What a connection's presence needs from the server. */
export interface ConnectionPresenceContext {
  /** Presence on this process, when the store keeps it. */
  readonly service: PresenceService | undefined;
  /** The settings in force now. */
  readonly settings: Pick<ResolvedServerOptions, 'maxPresenceInfoBytes' | 'presenceQueriesPerSecond'>;
  /** Count one event of the protocol layer's. */
  count(what: ProtocolCount): void;
  /** Count and log a failed store call. */
  storeFailed(operation: string, error: unknown): void;
}

/** Whether a connection's end ends its session (see the module comment). */
export function endsSession(code: number | undefined, closedBy: ClosedBy | undefined): boolean {
  return code === 1000 || (code === 1001 && closedBy === 'client');
}

/** A `sub`'s presence request as the session keeps it (what the store records with the channel). */
export function sessionPresenceOf(request: PresenceRequest): SessionPresence {
  return { ...(request.info !== undefined ? { info: request.info as JsonValue } : {}), ...(request.events === true ? { events: true } : {}) };
}

/** One connection's presence. */
export class ConnectionPresence {
  /** Channels where this connection holds its session's membership, with what the `sub` asked. */
  readonly #memberships = new Map<string, SessionPresence>();
  readonly #watching = new Set<string>();
  readonly #watcher: PresenceWatcher;
  #bucket: TokenBucket | undefined;
  /** Set once the connection is gone: whether its session ended with it. */
  #ended: boolean | undefined;

  constructor(
    private readonly connection: Connection,
    private readonly ctx: ConnectionPresenceContext,
    /** The session's id, once `hello` was handled. */
    private readonly session: () => string | undefined,
  ) {
    this.#watcher = { send: (text) => void connection.send(text) };
  }

  /** The channels where this connection holds a membership. */
  get channels(): readonly string[] {
    return [...this.#memberships.keys()];
  }

  /** Whether the request's `info` is over `maxPresenceInfoBytes` (counted, so the caller only answers). */
  oversized(presence: SessionPresence): boolean {
    if (presence.info === undefined || Buffer.byteLength(JSON.stringify(presence.info)) <= this.ctx.settings.maxPresenceInfoBytes) return false;
    this.ctx.count('presenceInfoLimit');
    return true;
  }

  /**
   * The session becomes (or continues as) a member of `channel` through this connection. A connection
   * that closed while the store answered lets go of it at once, as its close would have.
   */
  async join(channel: string, presence: SessionPresence): Promise<JoinVerdict> {
    const { service } = this.ctx;
    const session = this.session();
    if (!service || session === undefined) {
      this.ctx.count('presenceUnavailable');
      return 'unavailable';
    }
    const member = { session, ...(this.connection.user !== undefined ? { user: this.connection.user } : {}), ...(presence.info !== undefined ? { info: presence.info } : {}) };
    const result = await service.join(channel, member, this.#holder(service));
    if (result === 'full') {
      this.ctx.count('presenceFull');
      return 'full';
    }
    this.#memberships.set(channel, presence);
    if (this.#ended !== undefined) this.#letGo([channel], this.#ended);
    return 'member';
  }

  /** The channel's subscription is live: its events start, if the membership asked for them. */
  watch(channel: string): void {
    const { service } = this.ctx;
    if (!service || this.#ended !== undefined || !this.#memberships.get(channel)?.events || this.#watching.has(channel)) return;
    this.#watching.add(channel);
    service.watch(channel, this.#watcher);
  }

  /** The session left `channel` (an `unsub`, a subscription that failed): its membership ends here. */
  async leave(channel: string): Promise<void> {
    this.#unwatch(channel);
    if (!this.#memberships.has(channel)) return;
    const { service } = this.ctx;
    const session = this.session();
    if (service && session !== undefined) await service.leave(session, [channel], this.#holder(service));
    // Only once the store has it: a failed leave keeps the membership, which the connection's end lets go of.
    this.#memberships.delete(channel);
  }

  /**
   * Memberships of the session that end whoever holds them (a resume that no longer restores their
   * channels: not allowed any more, or over a limit).
   */
  async end(channels: readonly string[]): Promise<void> {
    const { service } = this.ctx;
    const session = this.session();
    if (!service || session === undefined || channels.length === 0) return;
    for (const channel of channels) {
      this.#unwatch(channel);
      this.#memberships.delete(channel);
    }
    await service.leave(session, channels);
  }

  /** The connection is gone: its memberships leave (the session ended) or wait for a resume (see the module comment). */
  closed(code: number | undefined, closedBy: ClosedBy | undefined): void {
    if (this.#ended !== undefined) return;
    this.#ended = endsSession(code, closedBy);
    for (const channel of [...this.#watching]) this.#unwatch(channel);
    this.#letGo(this.channels, this.#ended);
  }

  /** Answer a presence query: a page, or why not. */
  async query(frame: PresenceFrame, mayRead: () => Promise<boolean>, subscribed: boolean): Promise<MembersFrame> {
    const { ch } = frame;
    const refused = (code: ProtocolErrorCode): MembersFrame => ({ t: 'members', ch, ...(frame.n !== undefined ? { n: frame.n } : {}), code });
    const rate = this.ctx.settings.presenceQueriesPerSecond;
    this.#bucket ??= new TokenBucket(rate, rate, Date.now());
    if (!this.#bucket.take(Date.now())) {
      this.ctx.count('presenceQueryLimit');
      return refused(ProtocolErrorCode.LIMIT);
    }
    const { service } = this.ctx;
    if (!service) {
      this.ctx.count('presenceUnavailable');
      return refused(ProtocolErrorCode.UNAVAILABLE);
    }
    if (!subscribed && !(await mayRead())) return refused(ProtocolErrorCode.FORBIDDEN);
    let page;
    try {
      page = await service.page(ch, frame.after, Math.min(frame.limit ?? PRESENCE_PAGE_MAX, PRESENCE_PAGE_MAX));
    } catch (error) {
      this.ctx.storeFailed('presencePage', error);
      return refused(ProtocolErrorCode.UNAVAILABLE);
    }
    const members = page.members.map((m) => ({ session: m.session, ...(m.user !== undefined ? { user: m.user } : {}), ...(m.info !== undefined ? { info: m.info } : {}) }));
    return { t: 'members', ch, ...(frame.n !== undefined ? { n: frame.n } : {}), count: page.count, members, ...(page.next !== undefined ? { next: page.next } : {}) };
  }

  #holder(service: PresenceService): PresenceHolder {
    return { node: service.node, connection: this.connection.id };
  }

  #unwatch(channel: string): void {
    if (!this.#watching.delete(channel)) return;
    this.ctx.service?.unwatch(channel, this.#watcher);
  }

  /** Leave (the session ended) or detach (it may resume) `channels`, in the background: the connection is gone. */
  #letGo(channels: readonly string[], ended: boolean): void {
    const { service } = this.ctx;
    const session = this.session();
    if (!service || session === undefined || channels.length === 0) return;
    for (const channel of channels) this.#memberships.delete(channel);
    service.letGo(session, channels, this.#holder(service), ended);
  }
}
