/**
 * The guard of an engine's presence records: the same promise as {@link GuardedStore} gives for the rest
 * of the contract (refused after `close`, arguments checked before the engine sees them, the store's
 * clock read once per call), for {@link PresenceStore}. Internal: not re-exported from `store/index.ts`.
 * @packageDocumentation
 */
import { checkBatch, checkChannel, checkChannels, checkHolder, checkId, checkJoinOptions, checkListener, checkMember, checkPresenceDuration } from './checks.js';
import type { PresenceCore } from './core.js';
import { readClock } from './options.js';
import type { PresenceChange, PresenceHolder, PresenceJoinOptions, PresenceJoinResult, PresenceMember, PresencePage, PresenceSnapshot, PresenceStore } from './types.js';

/** What the guard needs from the store it belongs to. */
export interface PresenceGuardContext {
  /** Throws `StoreUnavailableError` once the store is closed. */
  assertOpen(): void;
  /** The store's clock. */
  readonly now: () => number;
}

/** An engine's {@link PresenceCore} as a {@link PresenceStore}. */
export class GuardedPresence implements PresenceStore {
  readonly #core: PresenceCore;
  readonly #ctx: PresenceGuardContext;
  /** Set only for an engine that tells every process about every change (a shared one). */
  readonly watch?: (listener: (change: PresenceChange) => void) => () => void;
  /** Set only for an engine whose `watch` can miss changes (see {@link PresenceStore.snapshot}). */
  readonly snapshot?: (channel: string) => Promise<PresenceSnapshot>;
  /** Set only for an engine whose `watch` can miss changes (see {@link PresenceStore.onMissed}). */
  readonly onMissed?: (listener: (channels?: readonly string[]) => void) => () => void;

  constructor(core: PresenceCore, ctx: PresenceGuardContext) {
    this.#core = core;
    this.#ctx = ctx;
    if (core.watch) {
      const watch = core.watch.bind(core);
      this.watch = (listener) => {
        ctx.assertOpen();
        checkListener(listener);
        return watch(listener);
      };
    }
    if (core.snapshot) {
      const snapshot = core.snapshot.bind(core);
      this.snapshot = async (channel) => {
        ctx.assertOpen();
        checkChannel(channel);
        return snapshot(channel, readClock(ctx.now));
      };
    }
    if (core.onMissed) {
      const onMissed = core.onMissed.bind(core);
      this.onMissed = (listener) => {
        ctx.assertOpen();
        checkListener(listener);
        return onMissed(listener);
      };
    }
  }

  /** See {@link PresenceStore.join}. */
  async join(channel: string, member: PresenceMember, holder: PresenceHolder, options: PresenceJoinOptions): Promise<PresenceJoinResult> {
    this.#ctx.assertOpen();
    checkChannel(channel);
    checkMember(member);
    checkHolder(holder);
    checkJoinOptions(options);
    return this.#core.join(channel, member, holder, options, this.#begin());
  }

  /** See {@link PresenceStore.detach}. */
  async detach(session: string, channels: readonly string[], holder: PresenceHolder, graceMs: number): Promise<number> {
    this.#ctx.assertOpen();
    checkId(session, 'session');
    checkChannels(channels);
    checkHolder(holder);
    checkPresenceDuration(graceMs, 'graceMs');
    return this.#core.detach(session, channels, holder, graceMs, this.#begin());
  }

  /** See {@link PresenceStore.leave}. */
  async leave(session: string, channels: readonly string[], holder?: PresenceHolder): Promise<PresenceChange[]> {
    this.#ctx.assertOpen();
    checkId(session, 'session');
    checkChannels(channels);
    if (holder !== undefined) checkHolder(holder);
    return this.#core.leave(session, channels, holder, this.#begin());
  }

  /** See {@link PresenceStore.refreshNode}. */
  async refreshNode(node: string, leaseMs: number): Promise<boolean> {
    this.#ctx.assertOpen();
    checkId(node, 'node');
    checkPresenceDuration(leaseMs, 'leaseMs');
    return this.#core.refreshNode(node, leaseMs, this.#begin());
  }

  /** See {@link PresenceStore.expire}. */
  async expire(limit: number): Promise<PresenceChange[]> {
    this.#ctx.assertOpen();
    checkBatch(limit);
    return this.#core.expire(limit, this.#begin());
  }

  /** See {@link PresenceStore.page}. */
  async page(channel: string, after: string | undefined, limit: number): Promise<PresencePage> {
    this.#ctx.assertOpen();
    checkChannel(channel);
    if (after !== undefined && typeof after !== 'string') throw new TypeError('after must be a string or undefined');
    checkBatch(limit);
    return this.#core.page(channel, after, limit, this.#begin());
  }

  /** See {@link PresenceStore.count}. */
  async count(channel: string): Promise<number> {
    this.#ctx.assertOpen();
    checkChannel(channel);
    return this.#core.count(channel, this.#begin());
  }

  /** The clock, for a call that passed its checks. */
  #begin(): number {
    return readClock(this.#ctx.now);
  }
}
