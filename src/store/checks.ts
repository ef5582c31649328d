/**
 * The argument checks of the store contract. The guard (`guarded.ts`) runs them once, on entry,
 * for every engine, so an engine's core trusts its arguments. A bad argument is the caller's mistake:
 * it rejects with `TypeError` or `RangeError`, never a store error. Internal: not re-exported from
 * `store/index.ts`.
 * @packageDocumentation
 */
import { isDuration } from './options.js';
import { encodeData } from './records.js';
import type {
  AppendOptions,
  ChannelPosition,
  ClaimOptions,
  JsonValue,
  MessageOutcome,
  PresenceHolder,
  PresenceJoinOptions,
  PresenceMember,
  ReadOptions,
  SessionPatch,
  SessionPresence,
  SessionRecord,
  Store,
} from './types.js';

/** A channel name: any non-empty string. */
export function checkChannel(channel: unknown): asserts channel is string {
  if (typeof channel !== 'string' || channel.length === 0) throw new TypeError('channel must be a non-empty string');
}

/** An id (session id, idempotency key): any non-empty string. */
export function checkId(value: unknown, what: string): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) throw new TypeError(`${what} must be a non-empty string`);
}

/** A client message id: a safe integer. */
export function checkMessageId(messageId: unknown): asserts messageId is number {
  if (typeof messageId !== 'number' || !Number.isSafeInteger(messageId)) {
    throw new RangeError(`messageId must be a safe integer, got ${String(messageId)}`);
  }
}

/** Append options: a non-empty key and scope when given, a claim with a scope, an id and a fingerprint. */
export function checkAppendOptions(options: unknown): asserts options is AppendOptions | undefined {
  const o = options as { idempotencyKey?: unknown; idempotencyScope?: unknown; claim?: unknown } | null | undefined;
  if (o?.idempotencyKey !== undefined) checkId(o.idempotencyKey, 'idempotencyKey');
  if (o?.idempotencyScope !== undefined) checkId(o.idempotencyScope, 'idempotencyScope');
  if (o?.claim === undefined) return;
  const claim = o.claim as { scope?: unknown; id?: unknown; fingerprint?: unknown } | null;
  checkId(claim?.scope, 'claim.scope');
  checkMessageId(claim?.id);
  if (typeof claim?.fingerprint !== 'string') throw new TypeError('claim.fingerprint must be a string');
}

/** A read limit: an integer >= 0. */
export function checkLimit(limit: unknown): asserts limit is number {
  if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 0) {
    throw new RangeError(`limit must be an integer >= 0, got ${String(limit)}`);
  }
}

/** A read position: a string epoch and an integer offset >= 0. */
export function checkPosition(from: unknown): asserts from is ChannelPosition {
  if (typeof from !== 'object' || from === null) throw new TypeError('from must be a {epoch, offset} position or undefined');
  const { epoch, offset } = from as { epoch?: unknown; offset?: unknown };
  if (typeof epoch !== 'string') throw new TypeError('from.epoch must be a string');
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
    throw new RangeError(`from.offset must be an integer >= 0, got ${String(offset)}`);
  }
}

/** Read options: `maxBytes` an integer >= 1 when given. */
export function checkReadOptions(options: unknown): asserts options is ReadOptions | undefined {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null) throw new TypeError('read options must be an object');
  const { maxBytes } = options as { maxBytes?: unknown };
  if (maxBytes !== undefined && !(typeof maxBytes === 'number' && Number.isSafeInteger(maxBytes) && maxBytes >= 1)) {
    throw new RangeError(`maxBytes must be an integer >= 1, got ${String(maxBytes)}`);
  }
}

/** Claim options: `leaseMs` a duration, `fingerprint` a string. */
export function checkClaimOptions(options: unknown): asserts options is ClaimOptions | undefined {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null) throw new TypeError('claim options must be an object');
  const { leaseMs, fingerprint } = options as { leaseMs?: unknown; fingerprint?: unknown };
  if (leaseMs !== undefined && !isDuration(leaseMs)) throw new RangeError(`leaseMs must be a number of ms >= 0, got ${String(leaseMs)}`);
  if (fingerprint !== undefined && typeof fingerprint !== 'string') throw new TypeError('fingerprint must be a string');
}

/** A session patch as {@link SessionPatch} describes it. */
export function checkSessionPatch(patch: unknown): asserts patch is SessionPatch {
  if (typeof patch !== 'object' || patch === null) throw new TypeError('session patch must be an object');
  const p = patch as { expiresAt?: unknown; subscribe?: unknown; unsubscribe?: unknown };
  if (p.expiresAt !== undefined && (typeof p.expiresAt !== 'number' || Number.isNaN(p.expiresAt))) throw new TypeError('patch.expiresAt must be a number (ms)');
  if (p.subscribe !== undefined) {
    if (!Array.isArray(p.subscribe)) throw new TypeError('patch.subscribe must be an array');
    for (const entry of p.subscribe as unknown[]) {
      const e = entry as { channel?: unknown; position?: unknown } | null;
      if (typeof e !== 'object' || e === null) throw new TypeError('patch.subscribe entries must be objects');
      checkChannel(e.channel);
      if (e.position !== undefined) checkPosition(e.position);
      if ((e as { presence?: unknown }).presence !== undefined) checkSessionPresence((e as { presence?: unknown }).presence);
    }
  }
  if (p.unsubscribe !== undefined && !(Array.isArray(p.unsubscribe) && p.unsubscribe.every((c) => typeof c === 'string'))) {
    throw new TypeError('patch.unsubscribe must be an array of channel names');
  }
}

/** A message outcome as {@link MessageOutcome} describes it. */
export function checkOutcome(outcome: unknown): asserts outcome is MessageOutcome {
  const state = (outcome as { state?: unknown } | null)?.state;
  if (state === 'claimed' || state === 'running') return;
  if (state === 'done') {
    const result = (outcome as { result?: unknown }).result;
    if (result !== undefined) encodeData(result as JsonValue);
    return;
  }
  if (state === 'failed' && typeof (outcome as { incident?: unknown }).incident === 'string') return;
  throw new TypeError("outcome must be {state: 'claimed' | 'running'}, {state: 'done', result?} or {state: 'failed', incident: string}");
}

/** A session record with the documented field types. */
export function checkSession(session: unknown): asserts session is SessionRecord {
  if (typeof session !== 'object' || session === null) throw new TypeError('session must be an object');
  const s = session as Partial<Record<keyof SessionRecord, unknown>>;
  checkId(s.id, 'session.id');
  if (typeof s.tokenHash !== 'string') throw new TypeError('session.tokenHash must be a string');
  if (s.user !== undefined && typeof s.user !== 'string') throw new TypeError('session.user must be a string or undefined');
  if (!Array.isArray(s.channels) || !s.channels.every((c) => typeof c === 'string')) {
    throw new TypeError('session.channels must be an array of strings');
  }
  if (typeof s.expiresAt !== 'number' || Number.isNaN(s.expiresAt)) throw new TypeError('session.expiresAt must be a number (ms)');
  if (s.positions !== undefined) {
    if (typeof s.positions !== 'object' || s.positions === null) throw new TypeError('session.positions must be an object');
    for (const position of Object.values(s.positions)) checkPosition(position);
  }
  if (s.presence !== undefined) {
    if (typeof s.presence !== 'object' || s.presence === null) throw new TypeError('session.presence must be an object');
    for (const presence of Object.values(s.presence)) checkSessionPresence(presence);
  }
}

/** A session's presence in a channel: `info` a JSON value, `events` a boolean, each when given. */
export function checkSessionPresence(presence: unknown): asserts presence is SessionPresence {
  if (typeof presence !== 'object' || presence === null) throw new TypeError('presence must be an object');
  const { info, events } = presence as { info?: unknown; events?: unknown };
  if (info !== undefined) encodeData(info as JsonValue);
  if (events !== undefined && typeof events !== 'boolean') throw new TypeError('presence.events must be a boolean');
}

/** A presence member: a session id, a string user when given, JSON info when given. */
export function checkMember(member: unknown): asserts member is PresenceMember {
  if (typeof member !== 'object' || member === null) throw new TypeError('member must be an object');
  const { session, user, info } = member as { session?: unknown; user?: unknown; info?: unknown };
  checkId(session, 'member.session');
  if (user !== undefined && typeof user !== 'string') throw new TypeError('member.user must be a string or undefined');
  if (info !== undefined) encodeData(info as JsonValue);
}

/** A presence holder: a node id and a connection id. */
export function checkHolder(holder: unknown): asserts holder is PresenceHolder {
  if (typeof holder !== 'object' || holder === null) throw new TypeError('holder must be an object');
  const { node, connection } = holder as { node?: unknown; connection?: unknown };
  checkId(node, 'holder.node');
  checkId(connection, 'holder.connection');
}

/** A duration in ms for presence: finite and >= 0. */
export function checkPresenceDuration(value: unknown, what: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new RangeError(`${what} must be a finite number of ms >= 0, got ${String(value)}`);
}

/** Join options: a grace and a bound on members (an integer >= 0). */
export function checkJoinOptions(options: unknown): asserts options is PresenceJoinOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('join options must be an object');
  const { graceMs, maxMembers } = options as { graceMs?: unknown; maxMembers?: unknown };
  checkPresenceDuration(graceMs, 'graceMs');
  if (typeof maxMembers !== 'number' || !Number.isSafeInteger(maxMembers) || maxMembers < 0) {
    throw new RangeError(`maxMembers must be an integer >= 0, got ${String(maxMembers)}`);
  }
}

/** A list of channel names. */
export function checkChannels(channels: unknown): asserts channels is readonly string[] {
  if (!Array.isArray(channels)) throw new TypeError('channels must be an array of channel names');
  for (const channel of channels) checkChannel(channel);
}

/** A page size or sweep batch: an integer >= 1. */
export function checkBatch(limit: unknown): asserts limit is number {
  if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`limit must be an integer >= 1, got ${String(limit)}`);
}

/** A listener (of {@link Store.watch}): a function. */
export function checkListener(listener: unknown): asserts listener is (...args: never[]) => void {
  if (typeof listener !== 'function') throw new TypeError('listener must be a function');
}
