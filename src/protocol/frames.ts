/**
 * The `lifeline.v1` frames: types, validation and encoding. Pure; no I/O.
 * Every frame is one JSON object in one text message; `t` names its type. See docs/protocol.md.
 * @packageDocumentation
 */
import { LifelineError } from '../errors.js';
import { codePointLength, truncateCodePoints } from './text.js';

/** The subprotocol name negotiated in the WebSocket handshake. */
export const SUBPROTOCOL = 'lifeline.v1';

/** A JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * Epochs of channels that were never written start with this character. Random epochs are hex, so
 * the two never collide. A reader at offset 0 of such an epoch has missed nothing when the channel's
 * first message (offset 1) arrives under the channel's first real epoch: see {@link continuesFrom}.
 */
export const UNWRITTEN_EPOCH_PREFIX = '~';

/** Whether `epoch` names a channel that had never been written when the position was taken. */
export function isUnwrittenEpoch(epoch: string): boolean {
  return epoch.startsWith(UNWRITTEN_EPOCH_PREFIX);
}

/**
 * Whether a message at `(epoch, offset)` is the next one after `position`: the next offset in the same
 * epoch, or the channel's very first message (offset 1, any epoch) after offset 0 of an unwritten one.
 */
export function continuesFrom(position: Position, epoch: string, offset: number): boolean {
  if (epoch === position.epoch) return offset === position.offset + 1;
  return offset === 1 && position.offset === 0 && isUnwrittenEpoch(position.epoch);
}

/** Channels under this prefix carry the server's own feeds: clients never publish there, and read only where the server allows it. */
export const RESERVED_CHANNEL_PREFIX = '$lifeline.';

/** Whether `channel` is one of the server's own ({@link RESERVED_CHANNEL_PREFIX}). */
export function isReservedChannel(channel: string): boolean {
  return channel.startsWith(RESERVED_CHANNEL_PREFIX);
}

/** A position in a channel: its epoch and the last offset seen. */
export interface Position {
  readonly epoch: string;
  readonly offset: number;
}

// ---- client to server ----

/** First frame of every connection: start a session, or resume one. */
export interface HelloFrame {
  readonly t: 'hello';
  /** Protocol version; 1. */
  readonly v: 1;
  /** Resume token from a previous `welcome`, to resume that session. */
  readonly token?: string;
  /**
   * The client's own random id (16-64 characters of [A-Za-z0-9_-]), stable for the life of the client
   * object. Message ids are deduplicated per origin, so a resend is recognised even if the session
   * could not be resumed. Without it, ids are deduplicated per session.
   */
  readonly origin?: string;
  /**
   * The channels to restore, with the last position delivered to the application; `null`: "from where
   * the session was" (the position the server recorded for the session, or reported lost when it has
   * none). An object without a prototype when decoded, so any channel name is an ordinary key.
   */
  readonly channels?: Readonly<Record<string, Position | null>>;
  /**
   * Credentials for the server's `authenticate` hook (a token, for example), so a browser need not put
   * them in the URL. Any JSON; what it holds is between the application's client and server.
   */
  readonly auth?: Json;
}
/** Fresh credentials on a live connection, before the ones it was admitted with expire. Answered `authed`. */
export interface AuthFrame {
  readonly t: 'auth';
  /** The new credentials, as in `hello.auth`. */
  readonly auth: Json;
}
/** Subscribe to a channel, optionally replaying from a position. */
export interface SubFrame {
  readonly t: 'sub';
  readonly ch: string;
  readonly from?: Position;
  /** Be a member of the channel's presence (docs/protocol.md §20), and ask for its `join`/`leave` events. */
  readonly presence?: PresenceRequest;
}
/** What a `sub` asks of the channel's presence. */
export interface PresenceRequest {
  /** What the client says about itself to the channel (any JSON, bounded by the server). */
  readonly info?: Json;
  /** Send this connection the channel's `join` and `leave` events. */
  readonly events?: boolean;
}
/** Which page of a channel's presence members: the query of a `presence` frame, `session.presence()` and `server.presence()`. */
export interface PresenceQuery {
  /** The cursor from the previous page's `next`. */
  readonly after?: string;
  /** Most members in the page (the server sends at most 100). */
  readonly limit?: number;
}
/** Ask for a page of a channel's presence members. Answered `members`. */
export interface PresenceFrame extends PresenceQuery {
  readonly t: 'presence';
  readonly ch: string;
  /** Echoed in the answer, to match it to this query. */
  readonly n?: number;
}
/** Unsubscribe from a channel. */
export interface UnsubFrame {
  readonly t: 'unsub';
  readonly ch: string;
}
/** An acknowledged message to the server's handler. `id` increases per origin, shared with `pub`. */
export interface MsgFrame {
  readonly t: 'msg';
  readonly id: number;
  readonly data: Json;
}
/** An acknowledged publish to a channel (if the server authorises it). */
export interface PubFrame {
  readonly t: 'pub';
  readonly id: number;
  readonly ch: string;
  readonly data: Json;
}
/** Application-level ping; the server answers `pong` with the same `n`. */
export interface PingFrame {
  readonly t: 'ping';
  readonly n?: number;
}
/** Any frame a client may send. */
export type ClientFrame = HelloFrame | AuthFrame | SubFrame | UnsubFrame | MsgFrame | PubFrame | PingFrame | PresenceFrame;

// ---- server to client ----

/** Answer to `hello`. */
export interface WelcomeFrame {
  readonly t: 'welcome';
  readonly v: 1;
  /** Session id (public). */
  readonly session: string;
  /** Secret resume token; present it in the next `hello`. */
  readonly token: string;
  /** When the token expires, ms since the epoch. */
  readonly expiresAt: number;
  /** True when the presented token resumed an existing session. */
  readonly resumed: boolean;
  /** False when something the client had cannot be restored: see `lost`. */
  readonly recovered: boolean;
  /** Channels whose missed messages cannot be replayed (history trimmed, epoch changed, session unknown). */
  readonly lost: readonly string[];
  /** Interval at which the server expects traffic or pings, ms. */
  readonly heartbeatMs: number;
  /**
   * When the connection's credentials expire, in ms from now (relative, so clocks need not agree): refresh
   * them with an `auth` frame before then, or the connection is closed with 4802. Absent: they do not expire.
   */
  readonly authTtlMs?: number;
}
/** Answer to `auth`: the new credentials are in force. */
export interface AuthedFrame {
  readonly t: 'authed';
  /** As `welcome.authTtlMs`, for the new credentials. */
  readonly authTtlMs?: number;
}
/** A channel subscription is active; live messages after `offset` follow, after any replay. */
export interface SubscribedFrame {
  readonly t: 'subscribed';
  readonly ch: string;
  /** The channel's epoch. */
  readonly epoch: string;
  /** Delivery continues after this offset: replayed messages, then live ones. */
  readonly offset: number;
  /** False when the requested `from` could not be fully replayed. */
  readonly recovered: boolean;
}
/** The subscription ended. */
export interface UnsubscribedFrame {
  readonly t: 'unsubscribed';
  readonly ch: string;
}
/** One channel message. */
export interface EventFrame {
  readonly t: 'ev';
  readonly ch: string;
  readonly epoch: string;
  readonly off: number;
  readonly data: Json;
}
/** A `msg` or `pub` succeeded (the handler returned; the publish is durable). */
export interface AckFrame {
  readonly t: 'ack';
  readonly id: number;
  /** For `msg`: what the handler returned, when it returned a value (JSON; absent for `undefined`). */
  readonly result?: Json;
  /** For `pub`: where the message was stored (its offset). */
  readonly off?: number;
  /** For `pub`: the epoch of the channel the offset belongs to. */
  readonly epoch?: string;
}
/** A `msg` or `pub` will never succeed; do not resend it. */
export interface RejectFrame {
  readonly t: 'reject';
  readonly id: number;
  /** Why: a {@link ProtocolErrorCode}. */
  readonly code: ProtocolErrorCode;
  /** For `HANDLER_FAILED`: the incident id operators can look up. */
  readonly incident?: string;
  /** For `DECLINED`: the application's own error code (1-64 of `[A-Za-z0-9_.:-]`). */
  readonly error?: string;
  /** For `DECLINED`: the application's text for people (at most 500 characters). */
  readonly message?: string;
}
/** A problem that does not close the connection. */
export interface ErrorFrame {
  readonly t: 'error';
  readonly code: ProtocolErrorCode;
  /** Human text; never internal details. */
  readonly message: string;
  /** The `id` or channel the error is about, when there is one. */
  readonly ref?: number | string;
}
/** Answer to `ping`. */
export interface PongFrame {
  readonly t: 'pong';
  readonly n?: number;
}
/** A member of a channel's presence: a session, its user, what it says about itself. */
export interface Member {
  /** The session's public id. */
  readonly session: string;
  /** The user the server's `authenticate` named for the session, if any. */
  readonly user?: string;
  /** What the member's `sub` said about itself, if anything. */
  readonly info?: Json;
}
/** Answer to `presence`: a page of members, or why there is none (`code`). */
export interface MembersFrame {
  readonly t: 'members';
  readonly ch: string;
  /** The query's `n`. */
  readonly n?: number;
  /** Members of the channel now, all pages together. */
  readonly count?: number;
  /** This page, in session id order. */
  readonly members?: readonly Member[];
  /** The cursor of the next page; absent on the last. */
  readonly next?: string;
  /** The query was refused: `LIMIT` (too many queries), `FORBIDDEN`, `UNAVAILABLE`. */
  readonly code?: ProtocolErrorCode;
}
/** A member joined a channel whose events this connection asked for (a `join` of a known member updates it). */
export interface JoinFrame {
  readonly t: 'join';
  readonly ch: string;
  readonly session: string;
  readonly user?: string;
  readonly info?: Json;
}
/** A member left a channel whose events this connection asked for. */
export interface LeaveFrame {
  readonly t: 'leave';
  readonly ch: string;
  readonly session: string;
  readonly user?: string;
}
/** Any frame a server may send. */
export type ServerFrame =
  | WelcomeFrame
  | AuthedFrame
  | SubscribedFrame
  | UnsubscribedFrame
  | EventFrame
  | AckFrame
  | RejectFrame
  | ErrorFrame
  | PongFrame
  | MembersFrame
  | JoinFrame
  | LeaveFrame;

/**
 * The protocol's error codes: the stable `code` of `reject` and `error` frames (docs/protocol.md §13).
 * Not to be confused with a {@link LifelineError}'s `code` (`LIFELINE_ERR_*`): a client error that
 * carries one of these has it as `protocolCode`.
 */
export const ProtocolErrorCode = {
  /** The handler failed on this message before; it will not be run again. */
  HANDLER_FAILED: 'HANDLER_FAILED',
  /** The server died while the handler ran; whether it took effect is unknown. */
  OUTCOME_UNKNOWN: 'OUTCOME_UNKNOWN',
  /** Not allowed by the server's authorisation hook. */
  FORBIDDEN: 'FORBIDDEN',
  /** The store cannot accept writes right now; retry later. */
  UNAVAILABLE: 'UNAVAILABLE',
  /** A frame type this server does not know (a newer client). */
  UNKNOWN_TYPE: 'UNKNOWN_TYPE',
  /** A limit was reached (subscriptions, channels created, queued work). */
  LIMIT: 'LIMIT',
  /** The id was used before for different content (a `msg` and a `pub`, or two different payloads): nothing was done. */
  CONFLICT: 'CONFLICT',
  /** A request that makes no sense in the current state (e.g. unsubscribing what is not subscribed). */
  BAD_REQUEST: 'BAD_REQUEST',
  /** The handler declined the message on purpose, with an error code of the application's (`reject.error`). */
  DECLINED: 'DECLINED',
  /** Credentials were refused (an `auth` refresh): the ones in force stay until they expire. */
  UNAUTHORIZED: 'UNAUTHORIZED',
} as const;
/** Union of {@link ProtocolErrorCode} values. */
export type ProtocolErrorCode = (typeof ProtocolErrorCode)[keyof typeof ProtocolErrorCode];


/** A frame that breaks the protocol. `closeCode` is what the receiver closes with (never 1011). */
export class FrameError extends LifelineError<'LIFELINE_ERR_FRAME'> {
  override name = 'FrameError';
  /** 1002 (malformed frame), 1003 (binary in a text protocol) or 1007 (not JSON). */
  readonly closeCode: 1002 | 1003 | 1007;
  /** A short, safe text for the close reason. */
  readonly reason: string;
  constructor(closeCode: 1002 | 1003 | 1007, reason: string) {
    super('LIFELINE_ERR_FRAME', reason);
    this.closeCode = closeCode;
    this.reason = reason;
  }
}

/** Thrown by {@link decodeClientFrame} for a well-formed frame of a type this version does not know. */
export class UnknownFrameTypeError extends LifelineError<'LIFELINE_ERR_UNKNOWN_FRAME'> {
  override name = 'UnknownFrameTypeError';
  /** The unknown type, cut to 32 characters. */
  readonly type: string;
  constructor(type: string) {
    super('LIFELINE_ERR_UNKNOWN_FRAME', `unknown frame type ${type}`);
    this.type = type;
  }
}

/** Longest channel name, in characters. */
export const MAX_CHANNEL_LENGTH = 200;
const CHANNEL = /^[\x21-\x7e]{1,200}$/;
const MAX_ID = Number.MAX_SAFE_INTEGER;
const ORIGIN = /^[A-Za-z0-9_-]{16,64}$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function bad(reason: string): never {
  throw new FrameError(1002, reason);
}
/** Length in code points: what JSON Schema's `maxLength` counts, so the decoder and the schema agree. */
const codePoints = codePointLength;
/** A finite number (`JSON.parse` turns `1e999` into Infinity). */
function isNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}
function isCount(v: unknown, min: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= MAX_ID;
}
function channel(v: unknown): string {
  if (typeof v !== 'string' || !CHANNEL.test(v)) bad('bad channel name');
  return v;
}
function id(v: unknown): number {
  if (!isCount(v, 1)) bad('bad message id');
  return v;
}
function position(v: unknown): Position {
  if (!isObject(v) || typeof v.epoch !== 'string' || codePoints(v.epoch) > 64 || !isCount(v.offset, 0)) bad('bad position');
  return { epoch: v.epoch, offset: v.offset };
}

/** Largest number of channels a `hello` may list. */
export const MAX_HELLO_CHANNELS = 1000;
/** Largest page a `presence` query may ask for. */
export const MAX_PRESENCE_LIMIT = 1000;
/** Longest `presence.after` cursor, in characters. */
const MAX_CURSOR = 128;

function presenceRequest(v: unknown): PresenceRequest {
  if (!isObject(v) || (v.events !== undefined && typeof v.events !== 'boolean')) bad('bad presence');
  return { ...('info' in v ? { info: v.info as Json } : {}), ...(v.events !== undefined ? { events: v.events } : {}) };
}

/**
 * The JSON object of one frame, with its type: what both decoders start from.
 * @throws FrameError for text that is not JSON (1007) or not an object with a string `t` (1002)
 */
function parseFrame(data: string): Record<string, unknown> & { t: string } {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    throw new FrameError(1007, 'frame is not valid JSON');
  }
  if (!isObject(value) || typeof value.t !== 'string') bad('frame must be an object with a type');
  return value as Record<string, unknown> & { t: string };
}

/**
 * Decode and validate one client message. Accepts exactly the client frames of
 * `lifeline.v1.schema.json` (a test holds the two together); unknown members are dropped.
 * @throws FrameError for binary data (1003), text that is not JSON (1007), or a malformed frame (1002)
 * @throws UnknownFrameTypeError for a valid frame of an unknown type (answered with an error frame)
 */
export function decodeClientFrame(data: string | Uint8Array): ClientFrame {
  if (typeof data !== 'string') throw new FrameError(1003, 'lifeline.v1 frames are JSON text');
  const value = parseFrame(data);
  switch (value.t) {
    case 'hello': {
      if (value.v !== 1) bad('unsupported protocol version');
      if (value.token !== undefined && (typeof value.token !== 'string' || codePoints(value.token) > 512)) bad('bad token');
      if (value.origin !== undefined && (typeof value.origin !== 'string' || !ORIGIN.test(value.origin))) bad('bad origin');
      let channels: Record<string, Position | null> | undefined;
      if (value.channels !== undefined) {
        if (!isObject(value.channels)) bad('bad channels');
        const entries = Object.entries(value.channels);
        if (entries.length > MAX_HELLO_CHANNELS) bad('too many channels');
        channels = Object.create(null) as Record<string, Position | null>;
        for (const [name, pos] of entries) channels[channel(name)] = pos === null ? null : position(pos);
      }
      return {
        t: 'hello',
        v: 1,
        ...(value.token !== undefined ? { token: value.token as string } : {}),
        ...(value.origin !== undefined ? { origin: value.origin as string } : {}),
        ...(channels ? { channels } : {}),
        ...('auth' in value ? { auth: value.auth as Json } : {}),
      };
    }
    case 'auth':
      if (!('auth' in value)) bad('auth without credentials');
      return { t: 'auth', auth: value.auth as Json };
    case 'sub':
      return {
        t: 'sub',
        ch: channel(value.ch),
        ...(value.from !== undefined ? { from: position(value.from) } : {}),
        ...(value.presence !== undefined ? { presence: presenceRequest(value.presence) } : {}),
      };
    case 'presence': {
      const ch = channel(value.ch);
      const { n, after, limit } = value;
      if ((n !== undefined && !isNumber(n)) || (after !== undefined && (typeof after !== 'string' || codePoints(after) > MAX_CURSOR))) bad('bad presence query');
      if (limit !== undefined && !(isCount(limit, 1) && limit <= MAX_PRESENCE_LIMIT)) bad('bad presence query');
      return { t: 'presence', ch, ...(n !== undefined ? { n } : {}), ...(after !== undefined ? { after } : {}), ...(limit !== undefined ? { limit } : {}) };
    }
    case 'unsub':
      return { t: 'unsub', ch: channel(value.ch) };
    case 'msg':
      if (!('data' in value)) bad('msg without data');
      return { t: 'msg', id: id(value.id), data: value.data as Json };
    case 'pub':
      if (!('data' in value)) bad('pub without data');
      return { t: 'pub', id: id(value.id), ch: channel(value.ch), data: value.data as Json };
    case 'ping':
      if (value.n !== undefined && !isNumber(value.n)) bad('bad ping');
      return value.n === undefined ? { t: 'ping' } : { t: 'ping', n: value.n as number };
    default:
      // Echoed back as the error frame's `ref` (at most 32 characters): never half a surrogate pair.
      throw new UnknownFrameTypeError(truncateCodePoints(value.t, 32));
  }
}

/** Encode a frame (either direction) as the text of one WebSocket message. */
export function encodeFrame(frame: ServerFrame | ClientFrame): string {
  return JSON.stringify(frame);
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isBoolean = (v: unknown): v is boolean => typeof v === 'boolean';
const optional = (v: unknown, check: (v: unknown) => boolean): boolean => v === undefined || check(v);
const isDuration = (v: unknown): boolean => isNumber(v) && v >= 0;

/**
 * Whether a server frame of a known type has every member it must have, each of its type; undefined for a
 * type this version does not know (the switch is the list of known types).
 */
function validServerFrame(f: Record<string, unknown>): boolean | undefined {
  switch (f.t) {
    case 'welcome':
      return (
        f.v === 1 && isString(f.session) && isString(f.token) && isNumber(f.expiresAt) && isBoolean(f.resumed) && isBoolean(f.recovered) &&
        Array.isArray(f.lost) && f.lost.every(isString) && isDuration(f.heartbeatMs) && optional(f.authTtlMs, isDuration)
      );
    case 'authed':
      return optional(f.authTtlMs, isDuration);
    case 'subscribed':
      return isString(f.ch) && isString(f.epoch) && isCount(f.offset, 0) && isBoolean(f.recovered);
    case 'unsubscribed':
      return isString(f.ch);
    case 'ev':
      return isString(f.ch) && isString(f.epoch) && isCount(f.off, 1) && 'data' in f;
    case 'ack':
      return isCount(f.id, 1) && optional(f.off, (v) => isCount(v, 1)) && optional(f.epoch, isString);
    case 'reject':
      return isCount(f.id, 1) && isString(f.code) && optional(f.incident, isString) && optional(f.error, isString) && optional(f.message, isString);
    case 'error':
      return isString(f.code) && isString(f.message) && optional(f.ref, (v) => isString(v) || isNumber(v));
    case 'pong':
      return optional(f.n, isNumber);
    case 'members':
      // A page (`count` and `members`), or a refusal (`code`); whatever is there, of its type.
      return (
        isString(f.ch) && optional(f.n, isNumber) && optional(f.next, isString) && optional(f.code, isString) && optional(f.count, (v) => isCount(v, 0)) &&
        optional(f.members, (v) => Array.isArray(v) && v.every(isMember)) && (f.code !== undefined || (f.count !== undefined && f.members !== undefined))
      );
    case 'join':
    case 'leave':
      return isString(f.ch) && isMember(f);
  }
  return undefined;
}

/** A member (in a `members` page, or a `join`/`leave`): an object with a session id, a user when given. */
const isMember = (m: unknown): boolean => isObject(m) && isString(m.session) && optional(m.user, isString);

/**
 * Decode one server message on the client. Lenient about unknown types (returns undefined, so newer
 * servers can add frames) but strict about the shape of known ones: exactly the server frames of
 * `lifeline.v1.schema.json`.
 * @throws FrameError when the text is not a JSON object with a type, or a known frame is malformed
 */
export function decodeServerFrame(data: string): ServerFrame | undefined {
  const value = parseFrame(data);
  const valid = validServerFrame(value);
  if (valid === undefined) return undefined;
  if (!valid) bad(`bad ${value.t}`);
  return value as unknown as ServerFrame;
}
