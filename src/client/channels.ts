/**
 * The session's channels: one row per channel, in one table, instead of sets kept consistent by hand.
 * Pure: every method takes what happened (the application's call, a server frame, a connection's end)
 * and returns the frames to send; the session sends them and emits the events.
 *
 * A row's state is where its subscription is on the current connection:
 * - `wanted`: the application wants it; nothing in flight (no connection, or waiting for the server
 *   to restore it, or a `sub` the server answered with an error);
 * - `subscribing`: `sub` sent, `subscribed` not yet received;
 * - `live`: `subscribed` received; messages are delivered (its cursor checks each one);
 * - `unsubscribing`: the application let go; `unsub` sent (or owed: see `held`).
 *
 * Beside the state, `held` is what the server's session holds as far as this client knows (a
 * `subscribed` received, no `unsub` sent since). It survives a disconnect, because a resumed session
 * restores those channels by itself: they are not subscribed again, and one the application let go
 * of meanwhile is unsubscribed once the session is resumed.
 *
 * ```
 *            subscribe (welcomed)            subscribed
 *   (none) ───────────────────► subscribing ───────────► live
 *     │ subscribe (not welcomed)   ▲   │ error FORBIDDEN/LIMIT: dropped     │ gap: resync (unsub + sub)
 *     ▼                            │   │ other error: wanted                ▼
 *   wanted ── welcome / restored ──┘   ▼                               subscribing
 *   any wanted row ── disconnected ──► wanted
 *   unsubscribe ──► unsubscribing ── unsubscribed ──► (none)
 * ```
 * @packageDocumentation
 */
import type { ProtocolErrorCode, EventFrame, Position, PresenceRequest, SubFrame, SubscribedFrame, UnsubFrame } from '../protocol/frames.js';
import { defined } from '../util/defined.js';
import { ChannelCursor } from './positions.js';
import type { EventVerdict } from './positions.js';

/** Where a channel's subscription is on the current connection. @internal */
export type ChannelState = 'wanted' | 'subscribing' | 'live' | 'unsubscribing';

/** A frame the table asks the session to send. @internal */
export type ChannelFrame = SubFrame | UnsubFrame;

/** What a `subscribed` frame came to. @internal */
export type SubscribedResult =
  /** The application no longer wants the channel: send `frames` (an `unsub`, unless one is in flight). */
  | { readonly kind: 'unwanted'; readonly frames: readonly ChannelFrame[] }
  /** The subscription is live from the cursor's position; `lost` when messages were missed. */
  | { readonly kind: 'live'; readonly cursor: ChannelCursor; readonly lost: boolean; readonly epochChanged: boolean };

interface Row {
  state: ChannelState;
  /** The application's place in the channel; undefined once it let go (state `unsubscribing`). */
  readonly cursor: ChannelCursor | undefined;
  /** The server's session holds the channel (a confirmed `sub`, no `unsub` sent since), as far as known. */
  held: boolean;
  /** What the application asked of the channel's presence, sent with every `sub`. */
  readonly presence?: PresenceRequest;
}

/** The channels of one session, as the module comment describes. @internal */
export class ChannelTable {
  /** Rows in subscription order: a channel subscribed again moves to the end. */
  readonly #rows = new Map<string, Row>();

  /** The channels the application wants, in subscription order. */
  wanted(): string[] {
    const out: string[] = [];
    for (const [channel, row] of this.#rows) if (row.cursor) out.push(channel);
    return out;
  }

  /** The application's cursor in `channel`, if it wants the channel. */
  cursor(channel: string): ChannelCursor | undefined {
    return this.#rows.get(channel)?.cursor;
  }

  /** Where the channel's subscription is; undefined for a channel the table does not hold. */
  state(channel: string): ChannelState | undefined {
    return this.#rows.get(channel)?.state;
  }

  /** The last position delivered in each wanted channel that has one. */
  positions(): Record<string, Position> {
    return this.hello(Infinity, true) ?? {};
  }

  /**
   * The `hello`'s channels: each wanted channel with a position, at most `max` (the server refuses a
   * hello listing more; channels left out are subscribed again from their positions). Undefined for none.
   * @param all - every channel with a position (for `positions()`), presence or not
   */
  hello(max: number, all = false): Record<string, Position> | undefined {
    let out: Record<string, Position> | undefined;
    let listed = 0;
    for (const [channel, row] of this.#rows) {
      const p = row.cursor?.position;
      // A presence channel the server may not hold is left out: restored from the hello's position alone it would
      // be no membership (and the `sub` the welcome sends would only be answered "already subscribed"); left out,
      // that `sub` subscribes it with its presence, from its position.
      if (!p || listed >= max || (!all && row.presence && !row.held)) continue;
      (out ??= {})[channel] = { epoch: p.epoch, offset: p.offset };
      listed += 1;
    }
    return out;
  }

  // ---- the application --------------------------------------------------------------------------

  /**
   * The application subscribes (a channel it already wants: nothing changes).
   * @param welcomed - whether the session is welcomed (else the `sub` waits for the next `welcome`)
   */
  subscribe(channel: string, from: Position | undefined, welcomed: boolean, presence?: PresenceRequest): ChannelFrame[] {
    const previous = this.#rows.get(channel);
    if (previous?.cursor) return [];
    this.#rows.delete(channel);
    const row: Row = { state: 'wanted', cursor: new ChannelCursor(from), held: previous?.held ?? false, ...(presence ? { presence } : {}) };
    this.#rows.set(channel, row);
    return welcomed ? [this.#sub(channel, row)] : [];
  }

  /**
   * The application lets go. Welcomed: `unsub` when the server has the channel or a `sub` is in
   * flight. Otherwise a channel the server's session holds owes an `unsub` at the next resumed `welcome`.
   */
  unsubscribe(channel: string, welcomed: boolean): ChannelFrame[] {
    const row = this.#rows.get(channel);
    if (!row?.cursor) return [];
    if (welcomed && (row.held || row.state === 'subscribing')) return [this.#unsub(channel)];
    if (row.held) this.#rows.set(channel, { state: 'unsubscribing', cursor: undefined, held: true });
    else this.#rows.delete(channel);
    return [];
  }

  // ---- the connection ---------------------------------------------------------------------------

  /**
   * The server's `welcome`. A new session holds nothing: every wanted channel is subscribed afresh. A
   * resumed one restores what it holds by itself (a `subscribed` each): the rest are subscribed, and
   * what it holds that the application let go of is unsubscribed.
   */
  welcome(sameSession: boolean): ChannelFrame[] {
    if (!sameSession) {
      for (const [channel, row] of this.#rows) {
        if (row.cursor) row.held = false;
        else this.#rows.delete(channel);
      }
    }
    const frames: ChannelFrame[] = [];
    for (const [channel, row] of this.#rows) if (row.cursor && !row.held) frames.push(this.#sub(channel, row));
    for (const [channel, row] of this.#rows) if (!row.cursor && row.held) frames.push(this.#unsub(channel));
    return frames;
  }

  /**
   * The server finished restoring a resumed session (it answered the sync ping): a wanted channel
   * that is neither live nor being subscribed was not restored after all (the server's record lagged
   * behind this client's), so it is subscribed again.
   */
  restored(): ChannelFrame[] {
    const frames: ChannelFrame[] = [];
    for (const [channel, row] of this.#rows) {
      if (!row.cursor || row.state !== 'wanted') continue;
      row.held = false;
      frames.push(this.#sub(channel, row));
    }
    return frames;
  }

  /** The connection ended: nothing is in flight and nothing is live; what the server holds is kept for a resume. */
  disconnected(): void {
    for (const [channel, row] of this.#rows) {
      if (row.cursor) {
        row.state = 'wanted';
        row.cursor.suspend();
      } else if (!row.held) {
        // An `unsub` in flight: the server's session dropped the channel, or shows it again on resume.
        this.#rows.delete(channel);
      }
    }
  }

  // ---- the server's frames ----------------------------------------------------------------------

  /** A `subscribed` frame (decoded, so its epoch and offset are there). */
  subscribed(frame: Pick<SubscribedFrame, 'ch' | 'epoch' | 'offset' | 'recovered'>): SubscribedResult {
    const channel = frame.ch;
    const row = this.#rows.get(channel);
    const cursor = row?.cursor;
    if (!row || !cursor) {
      // Restored (or confirmed) after the application let go of it: cancel, unless already cancelling.
      const cancelling = row !== undefined && !row.held;
      return { kind: 'unwanted', frames: cancelling ? [] : [this.#unsub(channel)] };
    }
    row.held = true;
    row.state = 'live';
    const outcome = cursor.subscribed(frame);
    return { kind: 'live', cursor, ...outcome };
  }

  /** An `ev` frame: its channel's cursor's verdict (`ignore` for a channel the application does not want). */
  event(frame: Pick<EventFrame, 'ch' | 'epoch' | 'off'>): EventVerdict {
    return this.#rows.get(frame.ch)?.cursor?.event(frame) ?? 'ignore';
  }

  /**
   * After a gap: start the subscription again from the last delivered position (`unsub` + `sub`).
   * Never deliver past a hole; if the history no longer covers it, the new `subscribed` says so.
   */
  resync(channel: string): ChannelFrame[] {
    const row = this.#rows.get(channel);
    if (!row?.cursor) return [];
    row.held = false;
    return [{ t: 'unsub', ch: channel }, this.#sub(channel, row)];
  }

  /** An `unsubscribed` frame: an `unsub` in flight is done. */
  unsubscribed(channel: string): void {
    const row = this.#rows.get(channel);
    if (row && !row.cursor && !row.held) this.#rows.delete(channel);
  }

  /**
   * An `error` frame about a channel. Only a `sub` in flight is affected: `FORBIDDEN` and `LIMIT` drop
   * the channel (retrying cannot help; the application is told by the error itself); anything else
   * leaves it wanted.
   */
  refused(channel: string, code: ProtocolErrorCode): void {
    const row = this.#rows.get(channel);
    if (!row || row.state !== 'subscribing') return;
    // Literals, not `ProtocolErrorCode.X` (the compiler checks them against the union): the bundle need not carry the object.
    if (code === 'FORBIDDEN' || code === 'LIMIT') this.#rows.delete(channel);
    else row.state = 'wanted';
  }

  // ---- frames -------------------------------------------------------------------------------------

  #sub(channel: string, row: Row): SubFrame {
    const cursor = row.cursor!;
    cursor.suspend();
    row.state = 'subscribing';
    const from = cursor.position;
    return { t: 'sub', ch: channel, ...defined({ from: from && { epoch: from.epoch, offset: from.offset }, presence: row.presence }) };
  }

  #unsub(channel: string): UnsubFrame {
    this.#rows.set(channel, { state: 'unsubscribing', cursor: undefined, held: false });
    return { t: 'unsub', ch: channel };
  }
}
