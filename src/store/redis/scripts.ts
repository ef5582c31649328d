/**
 * The Lua scripts of the Redis engine. Each store operation that touches more than one key is one
 * script, so Redis runs it atomically: no other client sees half of it, and a crash (AOF, replicas)
 * keeps all of it or none. The keys they work on are laid out in `keys.ts`.
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
import { PRESENCE_SCRIPTS } from './presence-scripts.js';

/** Helpers every history script starts with. */
const PRELUDE = `
local function fmt(n) return string.format('%d', n) end
local function offsetOf(entry) return tonumber(string.match(entry[1], '^(%d+)')) end
-- Entries are written as XADD ... 't' time 'd' data: field values at positions 2 and 4.
local function timeOf(entry) return tonumber(entry[2][2]) end

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

-- The empty epoch, made on first use; one that is not an empty epoch (fresh's first character marks
-- them), such as the '' an earlier version could leave when two processes initialised a prefix at once,
-- is replaced: an unwritten channel's epoch is never one a reader could mistake for a written one.
local function emptyEpoch(key, fresh)
  local current = redis.call('GET', key)
  if current and string.sub(current, 1, 1) == string.sub(fresh, 1, 1) and #current == #fresh then return current end
  redis.call('SET', key, fresh)
  return fresh
end

-- Record a claim of one id in its scope and keep the scope to its window: ids at or below the highest
-- minus perScope are dropped (their keys named from the index: they share the scope's hash tag, so its slot).
local function recordClaim(claim, index, id, state, incident, result, fp, untilText, px, perScope, claimHead, indexPx, pub)
  redis.call('DEL', claim)
  redis.call('HSET', claim, 'state', state, 'incident', incident, 'result', result, 'fp', fp, 'until', untilText, 'pub', pub)
  if px ~= '' then redis.call('PEXPIRE', claim, px) end
  redis.call('ZADD', index, id, id)
  local top = redis.call('ZRANGE', index, -1, -1, 'WITHSCORES')[2]
  local floor = tonumber(top) - tonumber(perScope)
  local old = redis.call('ZRANGEBYSCORE', index, '-inf', floor)
  for i = 1, #old do redis.call('DEL', claimHead .. old[i]) end
  if #old > 0 then redis.call('ZREMRANGEBYSCORE', index, '-inf', floor) end
  if indexPx ~= '' then redis.call('PEXPIRE', index, indexPx) else redis.call('PERSIST', index) end
end

-- The offset readers may see: 'committed' (issue 16), or 'last' in a channel written before it existed.
local function committedOf(r) return tonumber(r[3] or r[2] or '0') end

-- The rollback fence (fence.ts): this process saw offset seen committed in epoch fenceEpoch. If the
-- channel is still in that epoch but holds fewer entries (a failover to a replica that was behind), its
-- history is dropped and the epoch rotated, so no offset is ever reused with other data in one epoch.
-- If it holds them all but its committed mark is lower (the mark's write was not yet replicated), the
-- mark is moved up: those entries were acknowledged. Returns {oldEpoch, found} when it rotated.
local function fence(meta, history, fenceEpoch, fenceSeen, newEpoch)
  if fenceEpoch == '' then return nil end
  local r = redis.call('HMGET', meta, 'epoch', 'last', 'committed')
  if r[1] ~= fenceEpoch then return nil end
  local last, seen = tonumber(r[2] or '0'), tonumber(fenceSeen)
  if last >= seen then
    if committedOf(r) < seen then redis.call('HSET', meta, 'committed', fenceSeen) end
    return nil
  end
  redis.call('DEL', history)
  redis.call('HSET', meta, 'epoch', newEpoch, 'last', '0', 'committed', '0')
  return {fenceEpoch, fmt(last)}
end

-- The publish of one entry on the channel's topic, as fanout.ts parses it.
local function publishEntry(command, topic, channelJson, epoch, offset, time, data)
  redis.call(command, topic, '{"type":"append","channel":' .. channelJson .. ',"epoch":"' .. epoch ..
    '","offset":' .. offset .. ',"time":' .. time .. ',"data":' .. data .. '}')
end

-- Whether id is below its scope's window.
local function forgotten(index, id, perScope)
  local top = redis.call('ZRANGE', index, -1, -1, 'WITHSCORES')[2]
  return top and tonumber(id) <= tonumber(top) - tonumber(perScope)
end
`;

/**
 * Append. KEYS: meta, history, channels[, idempotency, idempotencyScope][, publishedIds] — all keys of
 * one channel, so one slot. ARGV: newEpoch, now, channelJson, dataJson, maxCount, ageCutoff, until, px,
 * topic, publishCommand ('PUBLISH' | 'SPUBLISH' | '' for none), channelPart,
 * keyMode ('' | 'key' | 'scoped-key'), keyPart, perScopeKeys, idempotencyHead,
 * pubMode ('' | 'pub'), pubId, fingerprint, perScopeClaims, commitMode ('primary' | 'replicas'),
 * fenceEpoch ('' none), fenceSeen.
 * Returns `{'new', epoch, offset, time}`, `{'dup', channelJson, epoch, offset, time, dataJson}` for a live
 * idempotency key on the same channel (the caller compares the data, as JSON values: a conflict when
 * they differ), `{'conflict', channelJson, epoch, offset}` for one on another channel, `{'pubdup', fingerprint, epoch, offset, time}` for a client message id this scope already
 * published on this channel (the caller compares the fingerprint); each followed by
 * `'rolled', oldEpoch, found` when the fence rotated the epoch first (see `fence` in the prelude).
 *
 * The checks, the offset, the entry, the trimming, the dedupe records and the publish happen together or
 * not at all: a message is never stored without its record, nor published unstored. With commitMode
 * `primary` the entry is committed (readable) and published at once; with `replicas` it is stored only,
 * and COMMIT_LUA commits and publishes it once replicas acknowledged it (`durability.ts`).
 */
export const APPEND_LUA = `${PRELUDE}
local meta, history, channels = KEYS[1], KEYS[2], KEYS[3]
local newEpoch, now, channelJson, data = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local keyMode, pubMode = ARGV[12], ARGV[16]
local rolled = fence(meta, history, ARGV[21], ARGV[22], newEpoch)
local function out(t)
  if rolled then t[#t + 1] = 'rolled'; t[#t + 1] = rolled[1]; t[#t + 1] = rolled[2] end
  return t
end
local idem, idemScope, pubIds
local k = 4
if keyMode ~= '' then
  idem = KEYS[k]; k = k + 1
  if keyMode == 'scoped-key' then idemScope = KEYS[k]; k = k + 1 end
end
if pubMode ~= '' then pubIds = KEYS[k] end
if idem then
  local r = redis.call('HMGET', idem, 'channel', 'epoch', 'offset', 'time', 'data', 'until')
  if r[1] and live(r[6], now) then
    -- Another channel is a conflict here; other data text is compared by the caller as JSON values
    -- (keys in any order are the same data), which Lua cannot do without parsing.
    if r[1] ~= channelJson then return out({'conflict', r[1], r[2], r[3]}) end
    return out({'dup', r[1], r[2], r[3], r[4], r[5]})
  end
end
if pubIds then
  local found = redis.call('ZRANGEBYSCORE', pubIds, ARGV[17], ARGV[17])
  for i = 1, #found do
    local id, untilText, fp, epoch, offset, time = string.match(found[i], '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|(.*)$')
    if live(untilText, now) then return out({'pubdup', fp, epoch, offset, time}) end
  end
end
local epoch = redis.call('HGET', meta, 'epoch')
if not epoch then
  -- A history left without its meta key belongs to a lost epoch: dropped, never served under the new one.
  redis.call('DEL', history)
  epoch = newEpoch
  redis.call('HSET', meta, 'epoch', epoch, 'last', '0', 'committed', '0')
  redis.call('SADD', channels, ARGV[11])
end
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
  if idemScope then
    redis.call('ZADD', idemScope, now, ARGV[13])
    local over = redis.call('ZCARD', idemScope) - tonumber(ARGV[14])
    if over > 0 then
      local oldest = redis.call('ZPOPMIN', idemScope, over)
      for i = 1, #oldest, 2 do
        if oldest[i] ~= ARGV[13] then redis.call('DEL', ARGV[15] .. oldest[i]) end
      end
    end
    if ARGV[8] ~= '' then redis.call('PEXPIRE', idemScope, ARGV[8]) end
  end
end
if pubIds then
  -- The scope's window on this channel, as its claims keep theirs: the highest perScope ids.
  redis.call('ZREMRANGEBYSCORE', pubIds, ARGV[17], ARGV[17])
  redis.call('ZADD', pubIds, ARGV[17], ARGV[17] .. '|' .. ARGV[7] .. '|' .. ARGV[18] .. '|' .. epoch .. '|' .. offset .. '|' .. time)
  local top = redis.call('ZRANGE', pubIds, -1, -1, 'WITHSCORES')[2]
  redis.call('ZREMRANGEBYSCORE', pubIds, '-inf', tonumber(top) - tonumber(ARGV[19]))
  if ARGV[8] ~= '' then redis.call('PEXPIRE', pubIds, ARGV[8]) else redis.call('PERSIST', pubIds) end
end
if ARGV[20] == 'primary' then
  redis.call('HSET', meta, 'committed', offset)
  if ARGV[10] ~= '' then publishEntry(ARGV[10], ARGV[9], channelJson, epoch, offset, time, data) end
end
return out({'new', epoch, offset, time})
`;

/**
 * Commit (durability `replicas`): replicas acknowledged the channel's entries up to `offset`, so move its
 * committed mark there (never back, never past `last`) and publish the entries it passes, in order.
 * KEYS: meta, history. ARGV: epoch, offset, channelJson, topic, publishCommand ('' for none).
 * Returns `{'gone'}` when the channel is no longer in `epoch` (the fence rotated it: the entry is lost),
 * else `{'ok', committed}`.
 */
export const COMMIT_LUA = `${PRELUDE}
local meta, history = KEYS[1], KEYS[2]
local r = redis.call('HMGET', meta, 'epoch', 'last', 'committed')
if r[1] ~= ARGV[1] then return {'gone'} end
local committed = committedOf(r)
local to = math.min(tonumber(ARGV[2]), tonumber(r[2] or '0'))
if to <= committed then return {'ok', fmt(committed)} end
redis.call('HSET', meta, 'committed', fmt(to))
if ARGV[5] ~= '' then
  local rows = redis.call('XRANGE', history, fmt(committed + 1) .. '-0', fmt(to) .. '-0')
  for i = 1, #rows do
    local row = rows[i]
    publishEntry(ARGV[5], ARGV[4], ARGV[3], ARGV[1], fmt(offsetOf(row)), row[2][2], row[2][4])
  end
end
return {'ok', fmt(to)}
`;

/**
 * Take an idempotency key for a channel, or learn which channel has it: keys are global across channels,
 * and the records that deduplicate live with each channel (APPEND_LUA), so this is the one place that
 * knows a key's channel. KEYS: keyOwner. ARGV: channelJson, now, until, px.
 * Returns `{'other', channelJson}` while another channel holds the key, else `{'ok'}` (taken or already held).
 */
export const OWN_KEY_LUA = `${PRELUDE}
local r = redis.call('HMGET', KEYS[1], 'channel', 'until')
if r[1] and live(r[2], ARGV[2]) then
  if r[1] ~= ARGV[1] then return {'other', r[1]} end
  return {'ok'}
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'channel', ARGV[1], 'until', ARGV[3])
if ARGV[4] ~= '' then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
return {'ok'}
`;

/**
 * Read. KEYS: meta, history, emptyEpoch. ARGV: freshEmptyEpoch, ageCutoff, fromEpoch, fromOffset, limit,
 * maxBytes, fenceEpoch ('' none), fenceSeen, rotateEpoch.
 * Returns `{epoch, committed, firstRetained, emptyEpoch, rolledEpoch, rolledFound, offset1, time1, data1, ...}`
 * with at most `limit + 1` messages, and no more once `maxBytes` of data are reached (then one more row,
 * as `limit + 1` does, so the caller learns there is more); `rolledEpoch` is '' unless the fence rotated
 * the epoch. Nothing past the committed offset is seen. Creates nothing (but the fence's rotation): an
 * unwritten channel has the empty epoch.
 *
 * Where the messages start mirrors `planRead` in `rules.ts` (the reference rule); the caller decides
 * `complete` with `planRead` itself, on the same snapshot.
 */
export const READ_LUA = `${PRELUDE}
local meta, history = KEYS[1], KEYS[2]
local empty = emptyEpoch(KEYS[3], ARGV[1])
local rolled = fence(meta, history, ARGV[7], ARGV[8], ARGV[9]) or {'', ''}
local r = redis.call('HMGET', meta, 'epoch', 'last', 'committed')
local epoch = r[1]
if not epoch then return {empty, '0', '1', empty, rolled[1], rolled[2]} end
trimAge(history, ARGV[2])
-- Readers see up to the committed offset only: entries above it wait for their replicas.
local last = committedOf(r)
local oldest = redis.call('XRANGE', history, '-', '+', 'COUNT', 1)[1]
local first = last + 1
if oldest then first = math.min(offsetOf(oldest), last + 1) end
local fromOffset = tonumber(ARGV[4])
local start = first
if ARGV[3] == epoch and fromOffset <= last and fromOffset + 1 > first then start = fromOffset + 1 end
local out = {epoch, fmt(last), fmt(first), empty, rolled[1], rolled[2]}
if start <= last then
  local rows = redis.call('XRANGE', history, fmt(start) .. '-0', fmt(last) .. '-0', 'COUNT', ARGV[5])
  local bytes, maxBytes = 0, tonumber(ARGV[6])
  for i = 1, #rows do
    local row = rows[i]
    out[#out + 1] = fmt(offsetOf(row))
    out[#out + 1] = row[2][2]
    out[#out + 1] = row[2][4]
    bytes = bytes + #row[2][4]
    if maxBytes and bytes >= maxBytes then
      -- one more row, if there is one, tells the caller the page was cut
      if rows[i + 1] then
        out[#out + 1] = fmt(offsetOf(rows[i + 1]))
        out[#out + 1] = rows[i + 1][2][2]
        out[#out + 1] = ''
      end
      break
    end
  end
end
return out
`;

/**
 * Head. KEYS: meta, emptyEpoch, history. ARGV: freshEmptyEpoch, fenceEpoch ('' none), fenceSeen, rotateEpoch.
 * Returns `{epoch, committed, rolledEpoch, rolledFound}` (`rolledEpoch` '' unless the fence rotated the
 * epoch); creates nothing but the fence's rotation.
 */
export const HEAD_LUA = `${PRELUDE}
local rolled = fence(KEYS[1], KEYS[3], ARGV[2], ARGV[3], ARGV[4]) or {'', ''}
local r = redis.call('HMGET', KEYS[1], 'epoch', 'last', 'committed')
if not r[1] then return {emptyEpoch(KEYS[2], ARGV[1]), '0', rolled[1], rolled[2]} end
return {r[1], fmt(committedOf(r)), rolled[1], rolled[2]}
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
 * Claim or finish a client message id. KEYS: claim, claims (the scope's index by id), in the scope's slot.
 * ARGV: mode, now, until, px, messageId, state, incident, result, fingerprint, perScope, claimHead,
 * indexPx, channelJson, legacyFingerprint ('' none: the same content's fingerprint in an earlier
 * version's form, matched like `fingerprint`, never recorded). Modes:
 * - `claim`: record `state` unless a live record exists;
 * - `finish`: record `state`, keeping the claim's fingerprint;
 * - `pub`: reserve the id for a publish on channel `channelJson` (the append itself runs in the channel's
 *   slot, then `published` records its outcome): answered `{'go'}` when reserved now, or when a reservation
 *   of the same publish (same channel and fingerprint) is still open, as after an attempt that died
 *   between the two steps; a resend then finishes it, and the channel's own record makes it a duplicate;
 * - `published`: record `done` with `result`, keeping the fingerprint and the channel.
 * Returns `{}` when the record was written, `{'go'}` (mode `pub`), `{'forgotten'}` below the scope's window
 * (modes `claim`, `pub`), or `{state, incident, result, fp}` of a live record (modes `claim`, `pub`).
 */
export const CLAIM_LUA = `${PRELUDE}
local claim, index = KEYS[1], KEYS[2]
local mode, now, id = ARGV[1], ARGV[2], ARGV[5]
local fp, pub = ARGV[9], ''
if mode == 'claim' or mode == 'pub' then
  if forgotten(index, id, ARGV[10]) then return {'forgotten'} end
  local r = redis.call('HMGET', claim, 'state', 'incident', 'result', 'fp', 'until', 'pub')
  if r[1] and live(r[5], now) then
    if mode == 'pub' and r[1] == 'claimed' and r[6] == ARGV[13] and (r[4] == fp or (ARGV[14] ~= '' and r[4] == ARGV[14])) then return {'go'} end
    return {r[1], r[2] or '', r[3] or '', r[4] or ''}
  end
  if mode == 'pub' then pub = ARGV[13] end
else
  -- Finishing keeps the fingerprint the claim was taken with (and a publish's channel).
  local r = redis.call('HMGET', claim, 'fp', 'pub')
  fp, pub = r[1] or '', r[2] or ''
  if mode == 'published' then fp, pub = ARGV[9], ARGV[13] end
end
recordClaim(claim, index, id, ARGV[6], ARGV[7], ARGV[8], fp, ARGV[3], ARGV[4], ARGV[10], ARGV[11], ARGV[12], pub)
if mode == 'pub' then return {'go'} end
return {}
`;

/**
 * Change a session. KEYS: session (hash: `r` the record as JSON, `e` its expiry), sessionChannels.
 * ARGV: now, expiresAt ('' keeps it), px ('' none), unsubscribeCount, then that many channel fields,
 * then triples of (channel field, position `epoch|offset` or '', presence JSON or ''). Channel fields are
 * key parts (`keyPart`), so every name is distinct bytes; a channel's value is `seq|epoch|offset|presence`
 * (see `sessions.ts`). A position or presence given replaces the one kept; '' keeps it.
 * Returns 0 (unknown or expired: nothing changed) or 1.
 */
export const UPDATE_SESSION_LUA = `
local function fields(v)
  local seq, rest = string.match(v, '^(%d+)|?(.*)$')
  local epoch, offset, presence = string.match(rest, '^([^|]*)|?([^|]*)|?(.*)$')
  return seq, epoch, offset, presence
end
local expires = redis.call('HGET', KEYS[1], 'e')
if not expires or tonumber(expires) <= tonumber(ARGV[1]) then return 0 end
if ARGV[2] ~= '' then
  redis.call('HSET', KEYS[1], 'e', ARGV[2])
  if ARGV[3] ~= '' then redis.call('PEXPIRE', KEYS[1], ARGV[3]) else redis.call('PERSIST', KEYS[1]) end
end
local removing = tonumber(ARGV[4])
for i = 5, 4 + removing do redis.call('HDEL', KEYS[2], ARGV[i]) end
local seq = tonumber(redis.call('HGET', KEYS[2], '') or '0')
for i = 5 + removing, #ARGV, 3 do
  local old = redis.call('HGET', KEYS[2], ARGV[i])
  if old then
    if ARGV[i + 1] ~= '' or ARGV[i + 2] ~= '' then
      local oldSeq, epoch, offset, presence = fields(old)
      local position = epoch .. '|' .. offset
      if ARGV[i + 1] ~= '' then position = ARGV[i + 1] end
      if ARGV[i + 2] ~= '' then presence = ARGV[i + 2] end
      redis.call('HSET', KEYS[2], ARGV[i], oldSeq .. '|' .. position .. '|' .. presence)
    end
  else
    seq = seq + 1
    local position = ARGV[i + 1]
    if position == '' then position = '|' end
    redis.call('HSET', KEYS[2], ARGV[i], string.format('%d', seq) .. '|' .. position .. '|' .. ARGV[i + 2])
  end
end
redis.call('HSET', KEYS[2], '', string.format('%d', seq))
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) else redis.call('PERSIST', KEYS[2]) end
return 1
`;

/**
 * Replace a session. KEYS: session, sessionChannels. ARGV: recordJson, expiresAt, px ('' none), then
 * triples of (channel field, position `epoch|offset` or '', presence JSON or '') in order.
 */
export const SAVE_SESSION_LUA = `
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('HSET', KEYS[1], 'r', ARGV[1], 'e', ARGV[2])
if ARGV[3] ~= '' then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
local seq = 0
for i = 4, #ARGV, 3 do
  seq = seq + 1
  local position = ARGV[i + 1]
  if position == '' then position = '|' end
  redis.call('HSET', KEYS[2], ARGV[i], string.format('%d', seq) .. '|' .. position .. '|' .. ARGV[i + 2])
end
redis.call('HSET', KEYS[2], '', string.format('%d', seq))
if ARGV[3] ~= '' then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
return 1
`;

/**
 * Delete a session, its channels and its claims. KEYS: session, claims, sessionChannels. ARGV: claimHead.
 * Claim keys are named from the index (not declared in KEYS): they share the session's hash tag, so the
 * script still touches one slot, as Redis Cluster requires.
 */
export const DELETE_SESSION_LUA = `
redis.call('DEL', KEYS[1], KEYS[3])
local ids = redis.call('ZRANGE', KEYS[2], 0, -1)
for i = 1, #ids do redis.call('DEL', ARGV[1] .. ids[i]) end
redis.call('DEL', KEYS[2])
return #ids
`;

/** The scripts as ioredis commands (`defineCommand`), by name. */
export const SCRIPTS = {
  ...PRESENCE_SCRIPTS,
  lifelineAppend: { lua: APPEND_LUA }, // variable key count: the first argument is the number of keys
  lifelineOwnKey: { lua: OWN_KEY_LUA, numberOfKeys: 1 },
  lifelineRead: { lua: READ_LUA, numberOfKeys: 3 },
  lifelineHead: { lua: HEAD_LUA, numberOfKeys: 3 },
  lifelineCommit: { lua: COMMIT_LUA, numberOfKeys: 2 },
  lifelineTrim: { lua: TRIM_LUA, numberOfKeys: 3 },
  lifelineClaim: { lua: CLAIM_LUA, numberOfKeys: 2 },
  lifelineDeleteSession: { lua: DELETE_SESSION_LUA, numberOfKeys: 3 },
  lifelineUpdateSession: { lua: UPDATE_SESSION_LUA, numberOfKeys: 2 },
  lifelineSaveSession: { lua: SAVE_SESSION_LUA, numberOfKeys: 2 },
} as const;

/** The name of a script command. */
export type ScriptName = keyof typeof SCRIPTS;
