/**
 * The presence part of the store conformance suite: what every engine with a {@link Store.presence} must
 * answer, on the suite's injected clock. Registered by `storeConformance` when the engine says it keeps
 * presence (`presence: true`); an engine that does not is checked to leave `store.presence` undefined.
 * @packageDocumentation
 */
import type { PresenceHolder, PresenceStore, SessionRecord, Store, StoreOptions } from '../store/types.js';
import type { ConformanceAssertion } from './store-conformance.js';

/** What the presence tests need from the suite that registers them. @internal */
export interface PresenceSuiteContext {
  readonly describe: (name: string, body: () => void) => void;
  readonly it: (name: string, body: () => Promise<void>) => void;
  readonly expect: (actual: unknown) => ConformanceAssertion;
  /** A fresh store on the suite's clock, closed after the test. */
  readonly fresh: (options?: StoreOptions) => Promise<Store>;
  /** Move the suite's clock. */
  readonly advance: (ms: number) => void;
  /** The suite's clock now. */
  readonly now: () => number;
  /** Close `store` and open its data again (a restarted process), when the engine can. */
  readonly restart: ((store: Store) => Promise<Store>) | undefined;
  /** Assert that `promise` rejects with `StoreUnavailableError`. */
  readonly expectUnavailable: (promise: Promise<unknown>) => Promise<void>;
}

const A: PresenceHolder = { node: 'node-a', connection: 'c1' };
const A2: PresenceHolder = { node: 'node-a', connection: 'c2' };
const B: PresenceHolder = { node: 'node-b', connection: 'c9' };
const GRACE = 2000;
const JOIN = { graceMs: GRACE, maxMembers: 100 };

/** Register the presence tests (see the module comment). @internal */
export function presenceConformance(ctx: PresenceSuiteContext): void {
  const { describe, it, expect, fresh, advance } = ctx;

  async function presenceOf(): Promise<{ store: Store; presence: PresenceStore }> {
    const store = await fresh();
    expect(store.presence).toBeDefined();
    return { store, presence: store.presence! };
  }

  describe('presence', () => {
    it('a join makes a member once; the same session joining again continues, silently, with its new info', async () => {
      const { presence } = await presenceOf();
      expect(await presence.join('room', { session: 's1', user: 'alice', info: { status: 'here' } }, A, JOIN)).toBe('joined');
      expect(await presence.join('room', { session: 's1', user: 'alice', info: { status: 'away' } }, A2, JOIN)).toBe('continued');
      expect(await presence.count('room')).toBe(1);
      expect(await presence.page('room', undefined, 10)).toEqual({ count: 1, members: [{ session: 's1', user: 'alice', info: { status: 'away' } }] });
      expect(await presence.count('elsewhere')).toBe(0);
      expect(await presence.page('elsewhere', undefined, 10)).toEqual({ count: 0, members: [] });
    });

    it('a channel at maxMembers refuses a new member and writes nothing; its members still continue', async () => {
      const { presence } = await presenceOf();
      const options = { graceMs: GRACE, maxMembers: 2 };
      expect(await presence.join('room', { session: 's1' }, A, options)).toBe('joined');
      expect(await presence.join('room', { session: 's2' }, A, options)).toBe('joined');
      expect(await presence.join('room', { session: 's3', info: 'x' }, A, options)).toBe('full');
      expect(await presence.count('room')).toBe(2);
      expect(await presence.join('room', { session: 's2' }, A2, options)).toBe('continued');
      expect(await presence.join('room', { session: 's3' }, A, { graceMs: GRACE, maxMembers: 0 })).toBe('full');
      expect(await presence.join('other', { session: 's3' }, A, options)).toBe('joined');
    });

    it('a detached member stays through its grace, leaves exactly once after it, and a join within it continues', async () => {
      const { presence } = await presenceOf();
      await presence.refreshNode(B.node, 60_000);
      await presence.join('room', { session: 's1', user: 'u' }, A, JOIN);
      await presence.join('room', { session: 's2' }, A, JOIN);
      await presence.refreshNode(A.node, 60_000);
      expect(await presence.detach('s1', ['room'], A, GRACE)).toBe(1);
      expect(await presence.detach('s2', ['room'], A, GRACE)).toBe(1);
      advance(GRACE - 1);
      expect(await presence.expire(100)).toEqual([]);
      expect(await presence.count('room')).toBe(2);
      // s2 comes back (a resume after a restart): it continues, and never leaves.
      expect(await presence.join('room', { session: 's2' }, B, JOIN)).toBe('continued');
      advance(1);
      expect(await presence.expire(100)).toEqual([{ kind: 'leave', channel: 'room', member: { session: 's1', user: 'u' } }]);
      expect(await presence.expire(100)).toEqual([]);
      advance(10 * GRACE);
      await presence.refreshNode(B.node, 60_000);
      expect(await presence.expire(100)).toEqual([]);
      expect(await presence.page('room', undefined, 10)).toEqual({ count: 1, members: [{ session: 's2' }] });
    });

    it('only the holder detaches or leaves a member it holds (a stale connection changes nothing)', async () => {
      const { presence } = await presenceOf();
      await presence.refreshNode(A.node, 60_000);
      await presence.join('room', { session: 's1' }, A, JOIN);
      await presence.join('room', { session: 's1' }, A2, JOIN); // taken over by c2
      expect(await presence.detach('s1', ['room'], A, GRACE)).toBe(0);
      expect(await presence.leave('s1', ['room'], A)).toEqual([]);
      advance(10 * GRACE);
      await presence.refreshNode(A.node, 60_000);
      expect(await presence.expire(100)).toEqual([]);
      expect(await presence.count('room')).toBe(1);
      expect(await presence.leave('s1', ['room'], A2)).toEqual([{ kind: 'leave', channel: 'room', member: { session: 's1' } }]);
      expect(await presence.count('room')).toBe(0);
    });

    it('leave removes the session from the channels named, once; without a holder whoever holds it', async () => {
      const { presence } = await presenceOf();
      await presence.join('a', { session: 's1', info: [1] }, A, JOIN);
      await presence.join('b', { session: 's1' }, A, JOIN);
      await presence.join('c', { session: 's1' }, A, JOIN);
      await presence.detach('s1', ['c'], A, GRACE);
      const left = await presence.leave('s1', ['a', 'c', 'never'], undefined);
      expect(left.map((c) => c.channel).sort()).toEqual(['a', 'c']);
      expect(left.find((c) => c.channel === 'a')).toEqual({ kind: 'leave', channel: 'a', member: { session: 's1', info: [1] } });
      expect(await presence.leave('s1', ['a', 'c'], undefined)).toEqual([]);
      expect(await presence.count('b')).toBe(1);
      advance(10 * GRACE);
      expect(await presence.detach('s1', ['a'], A, GRACE)).toBe(0);
    });

    it("a node's lease keeps its members; once it runs out they leave a grace after its end, unless joined again", async () => {
      const { presence } = await presenceOf();
      expect(await presence.refreshNode(A.node, 1000)).toBe(false); // unknown until now
      await presence.join('room', { session: 'dies' }, A, JOIN);
      await presence.join('room', { session: 'moves' }, A, JOIN);
      advance(900);
      expect(await presence.refreshNode(A.node, 1000)).toBe(true); // lease now ends at +1900
      advance(900);
      expect(await presence.expire(100)).toEqual([]);
      advance(100); // +1900: the lease ran out; the members leave at +1900 + GRACE
      expect(await presence.expire(100)).toEqual([]);
      advance(GRACE - 500);
      await presence.refreshNode(B.node, 60_000);
      expect(await presence.join('room', { session: 'moves' }, B, JOIN)).toBe('continued');
      expect(await presence.expire(100)).toEqual([]);
      advance(499);
      expect(await presence.expire(100)).toEqual([]);
      advance(1);
      expect(await presence.expire(100)).toEqual([{ kind: 'leave', channel: 'room', member: { session: 'dies' } }]);
      expect(await presence.page('room', undefined, 10)).toEqual({ count: 1, members: [{ session: 'moves' }] });
      // The node that was taken for dead learns it when it renews, and holds nothing any more.
      expect(await presence.refreshNode(A.node, 1000)).toBe(false);
    });

    it('a node that holds members before its first renewal gets no lease of its own: its members have their grace from the sweep', async () => {
      const { presence } = await presenceOf();
      await presence.join('room', { session: 's1' }, A, JOIN);
      expect(await presence.expire(100)).toEqual([]);
      advance(GRACE);
      expect(await presence.expire(100)).toHaveLength(1);
      expect(await presence.refreshNode(A.node, 1000)).toBe(false);
    });

    it('a live node never loses a member however long it holds it', async () => {
      const { presence } = await presenceOf();
      await presence.refreshNode(A.node, 1000);
      await presence.join('room', { session: 's1' }, A, JOIN);
      for (let i = 0; i < 20; i++) {
        advance(500);
        expect(await presence.refreshNode(A.node, 1000)).toBe(true);
        expect(await presence.expire(100)).toEqual([]);
      }
      expect(await presence.count('room')).toBe(1);
    });

    it('expire claims at most `limit` leaves a call, each once, also when sweeps run at once', async () => {
      const { presence } = await presenceOf();
      for (let i = 0; i < 5; i++) {
        await presence.join('room', { session: `s${i}` }, A, JOIN);
        await presence.detach(`s${i}`, ['room'], A, GRACE);
      }
      advance(GRACE);
      expect(await presence.expire(2)).toHaveLength(2);
      const [x, y] = await Promise.all([presence.expire(2), presence.expire(2)]);
      const all = [...x!, ...y!].map((c) => c.member.session);
      expect(all).toHaveLength(3);
      expect(new Set(all).size).toBe(3);
      expect(await presence.expire(2)).toEqual([]);
      expect(await presence.count('room')).toBe(0);
    });

    it('pages in session id order, with a cursor, the count of every page the whole', async () => {
      const { presence } = await presenceOf();
      for (const session of ['s_d', 's_a', 's_e', 's_c', 's_b']) await presence.join('room', { session, info: { n: session } }, A, JOIN);
      const first = await presence.page('room', undefined, 2);
      expect(first).toEqual({ count: 5, members: [{ session: 's_a', info: { n: 's_a' } }, { session: 's_b', info: { n: 's_b' } }], next: 's_b' });
      const second = await presence.page('room', first.next, 2);
      expect(second.members.map((m) => m.session)).toEqual(['s_c', 's_d']);
      expect(second.next).toBe('s_d');
      const last = await presence.page('room', second.next, 2);
      expect(last).toEqual({ count: 5, members: [{ session: 's_e', info: { n: 's_e' } }] });
      expect(await presence.page('room', 's_e', 2)).toEqual({ count: 5, members: [] });
      expect(await presence.page('room', 's_bb', 10)).toMatchObject({ count: 5, members: [{ session: 's_c' }, { session: 's_d' }, { session: 's_e' }] });
      expect((await presence.page('room', undefined, 5)).next).toBeUndefined();
    });

    it('shares no objects with the caller', async () => {
      const { presence } = await presenceOf();
      const info = { tags: ['a'] };
      await presence.join('room', { session: 's1', info }, A, JOIN);
      info.tags.push('mutated');
      const page = await presence.page('room', undefined, 10);
      expect(page.members[0]!.info).toEqual({ tags: ['a'] });
      ((page.members[0]!.info as { tags: string[] }).tags).push('mutated too');
      expect((await presence.page('room', undefined, 10)).members[0]!.info).toEqual({ tags: ['a'] });
    });

    it('refuses bad arguments with TypeError or RangeError, before anything is written', async () => {
      const { presence } = await presenceOf();
      const rejects = async (promise: Promise<unknown>): Promise<void> => {
        const error = await promise.then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error instanceof TypeError || error instanceof RangeError).toBe(true);
      };
      await rejects(presence.join('', { session: 's' }, A, JOIN));
      await rejects(presence.join('room', { session: '' }, A, JOIN));
      await rejects(presence.join('room', { session: 's', info: 1n as never }, A, JOIN));
      await rejects(presence.join('room', { session: 's' }, { node: '', connection: 'c' }, JOIN));
      await rejects(presence.join('room', { session: 's' }, A, { graceMs: -1, maxMembers: 1 }));
      await rejects(presence.join('room', { session: 's' }, A, { graceMs: 1, maxMembers: 1.5 }));
      await rejects(presence.detach('s', 'room' as never, A, GRACE));
      await rejects(presence.expire(0));
      await rejects(presence.page('room', undefined, 0));
      await rejects(presence.refreshNode('n', Number.NaN));
      expect(await presence.count('room')).toBe(0);
    });

    it('keeps a session\'s presence options with its channels', async () => {
      const store = await fresh();
      const record: SessionRecord = { id: 's', tokenHash: 'h', channels: ['a', 'b'], expiresAt: ctx.now() + 60_000, presence: { a: { info: { name: 'x' }, events: true } } };
      await store.saveSession(record);
      expect(await store.loadSession('s')).toEqual(record);
      await store.updateSession('s', { subscribe: [{ channel: 'c', presence: { events: false } }, { channel: 'b' }] });
      await store.updateSession('s', { subscribe: [{ channel: 'a', position: { epoch: 'e', offset: 1 } }] });
      let loaded = await store.loadSession('s');
      expect({ ...loaded?.presence }).toEqual({ a: { info: { name: 'x' }, events: true }, c: { events: false } });
      expect(Object.getPrototypeOf(loaded?.presence ?? {})).toBe(null);
      await store.updateSession('s', { unsubscribe: ['a'] });
      await store.updateSession('s', { subscribe: [{ channel: 'a' }] });
      loaded = await store.loadSession('s');
      expect({ ...loaded?.presence }).toEqual({ c: { events: false } });
    });

    it('rejects every presence call with StoreUnavailableError once closed', async () => {
      const { store, presence } = await presenceOf();
      await store.close();
      await ctx.expectUnavailable(presence.join('room', { session: 's' }, A, JOIN));
      await ctx.expectUnavailable(presence.detach('s', ['room'], A, GRACE));
      await ctx.expectUnavailable(presence.leave('s', ['room']));
      await ctx.expectUnavailable(presence.refreshNode('n', 1000));
      await ctx.expectUnavailable(presence.expire(10));
      await ctx.expectUnavailable(presence.page('room', undefined, 10));
      await ctx.expectUnavailable(presence.count('room'));
    });

    const restart = ctx.restart;
    if (restart) {
      it('durable: members and leases survive a restart, and a dead node\'s members leave a grace after its lease; not durable: nothing is kept', async () => {
        const { store, presence } = await presenceOf();
        await presence.refreshNode(A.node, 1000);
        await presence.join('room', { session: 'held', user: 'u', info: { k: 1 } }, A, JOIN);
        await presence.join('room', { session: 'away' }, A, JOIN);
        await presence.detach('away', ['room'], A, GRACE);
        const durable = store.durable;
        const next = await restart(store); // node A died with its process
        const after = next.presence!;
        if (!durable) {
          expect(await after.count('room')).toBe(0);
          return;
        }
        expect(await after.page('room', undefined, 10)).toEqual({ count: 2, members: [{ session: 'away' }, { session: 'held', user: 'u', info: { k: 1 } }] });
        await after.refreshNode(B.node, 60_000);
        advance(GRACE);
        expect((await after.expire(10)).map((c) => c.member.session)).toEqual(['away']);
        advance(1000); // A's lease ended at +1000: 'held' leaves at +1000 + GRACE
        expect((await after.expire(10)).map((c) => c.member.session)).toEqual(['held']);
        expect(await after.count('room')).toBe(0);
      });
    }
  });
}
