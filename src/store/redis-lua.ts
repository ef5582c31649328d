/**
 * The Lua scripts of the Redis engine, and the key layout they work on. Internal: used by
 * `redis.ts` only. Each store operation that touches more than one key is one script, so Redis runs
 * it atomically: no other client sees half of it, and a crash (AOF, replicas) keeps all of it or none.
 *
 * Conventions shared by every script:
 * - Numbers cross the boundary as strings. Times are the JavaScript text of the store's clock value,
 *   stored and returned verbatim, so no precision is lost in Lua's number formatting; offsets are
 *   integers formatted with `%d`.
 * - `''` stands for "none": no count limit, no age limit, no expiry.
 * - Expiry of sessions, idempotency keys and claims is decided from the store's clock (`now`, passed
 *   in), never from Redis's; Redis's own expiry (PX) only collects the garbage, a little later.
 * @packageDocumentation
 */

/** Key names under a prefix. Every variable part is escaped by {@link keyPart}. */
export interface RedisKeys {
  /** Hash: `epoch`, `last` (newest offset given out), `time` (newest message time). */
  meta(channelPart: string): string;
  /** Stream: the retained history, entry id `<offset>-0`, fields `t` (time) and `d` (JSON data). */
  history(channelPart: string): string;
  /** Set of every channel part, so sweeps find the channels without KEYS/SCAN over the database. */
  readonly channels: string;
  /** Hash: the first message stored with an idempotency key, and `until`. */
  idempotency(key: string): string;
  /** String: a session record as JSON. */
  session(id: string): string;
  /** Hash: `state`, `incident`, `until` of one client message id of one session. */
  claim(session: string, messageId: number): string;
  /** Sorted set of one session's claimed message ids, scored by `until` (what `deleteSession` deletes). */
  claims(session: string): string;
  /** Text before the message id in {@link RedisKeys.claim}, for the delete-session script. */
  readonly claimHead: string;
  /** Text after the message id in {@link RedisKeys.claim}. */
  claimTail(session: string): string;
  /** The pub/sub channel every append is published on (not a key). */
  readonly fanout: string;
  /** String: held for a while by the process doing the periodic sweep, so processes take turns. */
  readonly sweepLock: string;
}

/**
 * A variable part of a key (channel name, session id, idempotency key), escaped so that distinct
 * strings give distinct keys. JSON string escaping is injective and leaves ordinary names readable
 * (`room:1` stays `room:1`); it also spells lone surrogates out, which UTF-8 would otherwise merge
 * into one replacement character.
 */
export function keyPart(value: string): string {
  return JSON.stringify(value).slice(1, -1);
}

/** The key layout under `prefix`. Fixed tags come before the variable part, so no two kinds collide. */
export function redisKeys(prefix: string): RedisKeys {
  return {
    meta: (channel) => `${prefix}ch:${channel}`,
    history: (channel) => `${prefix}hist:${channel}`,
    channels: `${prefix}channels`,
    idempotency: (key) => `${prefix}idem:${keyPart(key)}`,
    session: (id) => `${prefix}sess:${keyPart(id)}`,
    // The message id (an integer: no ':') comes first, so any session id parses back unambiguously.
    claim: (session, messageId) => `${prefix}claim:${messageId}:${keyPart(session)}`,
    claims: (session) => `${prefix}claims:${keyPart(session)}`,
    claimHead: `${prefix}claim:`,
    claimTail: (session) => `:${keyPart(session)}`,
    fanout: `${prefix}fanout`,
    sweepLock: `${prefix}sweep-lock`,
  };
}

/** Helpers every history script starts with. */
const PRELUDE = `
local function fmt(n) return string.format('%d', n) end
local function offsetOf(entry) return tonumber(string.match(entry[1], '^(%d+)')) end
-- Entries are written as XADD ... 't' time 'd' data: field values at positions 2 and 4.
local function timeOf(entry) return tonumber(entry[2][2]) end

-- The channel's epoch, creating the channel (a fresh epoch) when its meta key is missing: a new
-- channel, or one whose data Redis lost. A history left without its meta key belongs to a lost
-- epoch, so it is dropped rather than served under the new one.
local function ensure(meta, history, channels, part, newEpoch)
  local epoch = redis.call('HGET', meta, 'epoch')
  if epoch then return epoch end
  redis.call('DEL', history)
  redis.call('HSET', meta, 'epoch', newEpoch, 'last', '0')
  redis.call('SADD', channels, part)
  return newEpoch
end

-- Drop the oldest entries older than cutoff (a prefix: times never decrease along the stream).
-- Binary search on P(x) = "the first entry at or after offset x is recent", monotone in x: a few
-- XRANGE calls whatever the number of entries, and correct even if offsets had gaps.
local function trimAge(history, cutoff)
  if cutoff == '' then return end
  cutoff = tonumber(cutoff)
  local first = redis.call('XRANGE', history, '-', '+', 'COUNT', 1)[1]
  if not first or timeOf(first) >= cutoff then return end
  local newest = redis.call('XREVRANGE', history, '+', '-', 'COUNT', 1)[1]
  if timeOf(newest) < cutoff then
    redis.call('XTRIM', history, 'MINID', fmt(offsetOf(newest) + 1) .. '-0')
    return
  end
  local lo, hi = offsetOf(first), offsetOf(newest)
  while hi - lo > 1 do
    local mid = math.floor((lo + hi) / 2)
    local entry = redis.call('XRANGE', history, fmt(mid) .. '-0', '+', 'COUNT', 1)[1]
    if timeOf(entry) < cutoff then lo = mid else hi = mid end
  end
  redis.call('XTRIM', history, 'MINID', fmt(hi) .. '-0')
end

-- Keep at most maxCount entries: offsets are contiguous, so that is every id below last - maxCount + 1.
local function trimCount(history, last, maxCount)
  if maxCount == '' then return end
  local keep = last - tonumber(maxCount) + 1
  if keep > 1 then redis.call('XTRIM', history, 'MINID', fmt(keep) .. '-0') end
end

local function live(untilText, now)
  return untilText == '' or tonumber(untilText) > tonumber(now)
end
`;

/**
 * Append. KEYS: meta, history, channels[, idempotency]. ARGV: newEpoch, now, channelJson, dataJson,
 * maxCount, ageCutoff, until, idempotencyPx, fanout, channelPart.
 * Returns `{'dup', channelJson, epoch, offset, time, dataJson}` for a live idempotency key, else
 * `{'new', epoch, offset, time}`.
 *
 * The idempotency check, the offset, the entry, the trimming, the idempotency record and the publish
 * happen together or not at all: a message is never stored without its key, nor published unstored.
 */
export const APPEND_LUA = `${PRELUDE}
local meta, history, channels, idem = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local newEpoch, now, channelJson, data = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if idem then
  local r = redis.call('HMGET', idem, 'channel', 'epoch', 'offset', 'time', 'data', 'until')
  if r[1] and live(r[6], now) then return {'dup', r[1], r[2], r[3], r[4], r[5]} end
end
local epoch = ensure(meta, history, channels, ARGV[10], newEpoch)
local last = redis.call('HINCRBY', meta, 'last', 1)
local offset = fmt(last)
local time = now
local previous = redis.call('HGET', meta, 'time')
if previous and tonumber(previous) > tonumber(now) then time = previous end
redis.call('HSET', meta, 'time', time)
redis.call('XADD', history, offset .. '-0', 't', time, 'd', data)
trimCount(history, last, ARGV[5])
trimAge(history, ARGV[6])
if idem then
  redis.call('DEL', idem)
  redis.call('HSET', idem, 'channel', channelJson, 'epoch', epoch, 'offset', offset, 'time', time, 'data', data, 'until', ARGV[7])
  if ARGV[8] ~= '' then redis.call('PEXPIRE', idem, ARGV[8]) end
end
redis.call('PUBLISH', ARGV[9], '{"type":"append","channel":' .. channelJson .. ',"epoch":"' .. epoch ..
  '","offset":' .. offset .. ',"time":' .. time .. ',"data":' .. data .. '}')
return {'new', epoch, offset, time}
`;

/**
 * Read. KEYS: meta, history, channels. ARGV: newEpoch, ageCutoff, fromEpoch, fromOffset, limit, channelPart.
 * Returns `{epoch, last, firstRetained, offset1, time1, data1, ...}` with at most `limit + 1` messages.
 *
 * Where the messages start mirrors `planRead` in `internal.ts` (the reference rule): from the oldest
 * retained for another epoch or an offset beyond the head, else after `fromOffset`. The caller decides
 * `complete` with `planRead` itself, on the same snapshot.
 */
export const READ_LUA = `${PRELUDE}
local meta, history = KEYS[1], KEYS[2]
local epoch = ensure(meta, history, KEYS[3], ARGV[6], ARGV[1])
trimAge(history, ARGV[2])
local last = tonumber(redis.call('HGET', meta, 'last') or '0')
local oldest = redis.call('XRANGE', history, '-', '+', 'COUNT', 1)[1]
local first = last + 1
if oldest then first = offsetOf(oldest) end
local fromOffset = tonumber(ARGV[4])
local start = first
if ARGV[3] == epoch and fromOffset <= last and fromOffset + 1 > first then start = fromOffset + 1 end
local out = {epoch, fmt(last), fmt(first)}
if start <= last then
  local rows = redis.call('XRANGE', history, fmt(start) .. '-0', '+', 'COUNT', ARGV[5])
  for i = 1, #rows do
    local row = rows[i]
    out[#out + 1] = fmt(offsetOf(row))
    out[#out + 1] = row[2][2]
    out[#out + 1] = row[2][4]
  end
end
return out
`;

/** Head. KEYS: meta, history, channels. ARGV: newEpoch, channelPart. Returns `{epoch, last}`. */
export const HEAD_LUA = `${PRELUDE}
local epoch = ensure(KEYS[1], KEYS[2], KEYS[3], ARGV[2], ARGV[1])
return {epoch, redis.call('HGET', KEYS[1], 'last') or '0'}
`;

/**
 * Age-trim one channel for a sweep. KEYS: meta, history, channels. ARGV: ageCutoff, channelPart.
 * Never creates a channel; forgets a listed channel whose meta key is gone.
 */
export const TRIM_LUA = `${PRELUDE}
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('SREM', KEYS[3], ARGV[2])
  return 0
end
trimAge(KEYS[2], ARGV[1])
return 1
`;

/**
 * Claim or finish a client message id. KEYS: claim, claims (the session's index).
 * ARGV: mode (`claim` | `finish`), now, until, px, messageId, state, incident, graceMs.
 * Returns `{}` when the record was written, or `{state, incident}` of a live claim (mode `claim`).
 */
export const CLAIM_LUA = `${PRELUDE}
local claim, index = KEYS[1], KEYS[2]
local mode, now, untilText, px, member = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if mode == 'claim' then
  local r = redis.call('HMGET', claim, 'state', 'incident', 'until')
  if r[1] and live(r[3], now) then return {r[1], r[2] or ''} end
end
redis.call('DEL', claim)
redis.call('HSET', claim, 'state', ARGV[6], 'incident', ARGV[7], 'until', untilText)
if px ~= '' then redis.call('PEXPIRE', claim, px) end
local score = untilText
if score == '' then score = '+inf' end
redis.call('ZADD', index, score, member)
-- Forget ids whose records expired (with the same grace as their keys), so the index stays small.
local grace = tonumber(ARGV[8])
redis.call('ZREMRANGEBYSCORE', index, '-inf', '(' .. fmt(tonumber(now) - grace))
-- The index lives as long as its longest-lived record.
if redis.call('ZCOUNT', index, '+inf', '+inf') > 0 then
  redis.call('PERSIST', index)
else
  local newest = redis.call('ZRANGE', index, -1, -1, 'WITHSCORES')[2]
  redis.call('PEXPIRE', index, fmt(math.max(1, math.ceil(tonumber(newest) - tonumber(now))) + grace))
end
return {}
`;

/**
 * Delete a session and its claims. KEYS: session, claims. ARGV: claimHead, claimTail.
 * Claim keys are named from the index (not declared in KEYS): fine on one Redis, not on Redis Cluster.
 */
export const DELETE_SESSION_LUA = `
redis.call('DEL', KEYS[1])
local ids = redis.call('ZRANGE', KEYS[2], 0, -1)
for i = 1, #ids do redis.call('DEL', ARGV[1] .. ids[i] .. ARGV[2]) end
redis.call('DEL', KEYS[2])
return #ids
`;
