/**
 * The Lua scripts of presence in Redis (see `presence.ts` for the layout). Each runs on the keys of one
 * slot: a channel's records and its partition's indexes share the partition's hash tag; the leases and
 * the index of partitions with due members share the `{presence}` tag.
 *
 * A member's record is one field of its channel's hash, five parts separated by newlines (none of them
 * can hold one: numbers, key parts escaped as JSON string bodies, and JSON text):
 * `graceMs \n node \n connection \n deadline \n memberJson` — node and connection empty while nobody holds
 * it (then `deadline` is set), `deadline` empty while it is held. Field `''` of the hash holds the channel's
 * version `epoch|seq` (see `PresenceVersion`); the hash is deleted with the last member, so a channel that
 * fills again starts a new epoch.
 *
 * Every change of membership (a new member, a member gone) counts one in the version and is published on
 * the channel's topic, in the same script: `{"type":"presence","kind":"join"|"leave","channel":…,
 * "epoch":…,"seq":…,"member":…}`. Times are the store's clock, passed in as text.
 * @packageDocumentation
 */

/** Helpers every presence script starts with. */
const PRELUDE = `
local function num(n)
  if n == math.floor(n) then return string.format('%d', n) end
  return string.format('%.17g', n)
end
local function parse(rec)
  return string.match(rec, '^([^\\n]*)\\n([^\\n]*)\\n([^\\n]*)\\n([^\\n]*)\\n(.*)$')
end
local function record(grace, node, conn, deadline, member)
  return grace .. '\\n' .. node .. '\\n' .. conn .. '\\n' .. deadline .. '\\n' .. member
end
-- One more change in the channel: its version, started afresh (newEpoch, 1) when the channel has none.
local function bump(pres, newEpoch)
  local v = redis.call('HGET', pres, '')
  local epoch, seq = newEpoch, 1
  if v then
    local e, s = string.match(v, '^(.*)|(%d+)$')
    if e then epoch, seq = e, tonumber(s) + 1 end
  end
  local text = string.format('%d', seq)
  redis.call('HSET', pres, '', epoch .. '|' .. text)
  return epoch, text
end
local function publish(cmd, topic, kind, part, epoch, seq, member)
  if cmd == '' then return end
  redis.call(cmd, topic, '{"type":"presence","kind":"' .. kind .. '","channel":"' .. part .. '","epoch":"' .. epoch ..
    '","seq":' .. seq .. ',"member":' .. member .. '}')
end
-- A member removed from its channel: the leave counted and published; the hash goes with the last member.
local function removed(pres, pidx, session, newEpoch, cmd, topic, part, member)
  redis.call('HDEL', pres, session)
  redis.call('ZREM', pidx, session)
  local epoch, seq = bump(pres, newEpoch)
  publish(cmd, topic, 'leave', part, epoch, seq, member)
  if redis.call('ZCARD', pidx) == 0 then redis.call('DEL', pres) end
end
`;

/**
 * Join. KEYS: pres, pidx, pdue, held (the partition's set of the members `node` holds). ARGV: session,
 * memberJson, node, connection, graceMs, maxMembers, newEpoch, channelPart, heldHead (the name of a
 * node's held set without the node), publishCommand, topic.
 * Returns `{'continued'}` (it was a member: held now by this connection, silently), `{'full'}` (nothing
 * written), or `{'joined', epoch, seq}`.
 */
export const PRESENCE_JOIN_LUA = `${PRELUDE}
local pres, pidx, pdue, held = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local session, member, node, conn, grace = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local ref = ARGV[8] .. '\\n' .. session
local rec = redis.call('HGET', pres, session)
if rec then
  local _, oldNode = parse(rec)
  if oldNode ~= '' then
    if oldNode ~= node then redis.call('SREM', ARGV[9] .. oldNode, ref) end
  else
    redis.call('ZREM', pdue, ref)
  end
  redis.call('HSET', pres, session, record(grace, node, conn, '', member))
  redis.call('SADD', held, ref)
  return {'continued'}
end
if redis.call('ZCARD', pidx) >= tonumber(ARGV[6]) then return {'full'} end
redis.call('HSET', pres, session, record(grace, node, conn, '', member))
redis.call('ZADD', pidx, 0, session)
redis.call('SADD', held, ref)
local epoch, seq = bump(pres, ARGV[7])
publish(ARGV[10], ARGV[11], 'join', ARGV[8], epoch, seq, member)
return {'joined', epoch, seq}
`;

/**
 * Detach: the member stays, held by nobody, until `deadline`. KEYS: pres, pdue, held. ARGV: session, node,
 * connection, deadline, channelPart. Returns 1, or 0 when that connection does not hold it.
 */
export const PRESENCE_DETACH_LUA = `${PRELUDE}
local rec = redis.call('HGET', KEYS[1], ARGV[1])
if not rec then return 0 end
local grace, node, conn, _, member = parse(rec)
if node ~= ARGV[2] or conn ~= ARGV[3] then return 0 end
local ref = ARGV[5] .. '\\n' .. ARGV[1]
redis.call('HSET', KEYS[1], ARGV[1], record(grace, '', '', ARGV[4], member))
redis.call('SREM', KEYS[3], ref)
redis.call('ZADD', KEYS[2], ARGV[4], ref)
return 1
`;

/**
 * Leave. KEYS: pres, pidx, pdue. ARGV: session, node ('' for whoever holds it), connection, channelPart,
 * heldHead, newEpoch, publishCommand, topic. Returns `{memberJson}` when it left, `{}` otherwise.
 */
export const PRESENCE_LEAVE_LUA = `${PRELUDE}
local rec = redis.call('HGET', KEYS[1], ARGV[1])
if not rec then return {} end
local _, node, conn, _, member = parse(rec)
if ARGV[2] ~= '' and (node ~= ARGV[2] or conn ~= ARGV[3]) then return {} end
local ref = ARGV[4] .. '\\n' .. ARGV[1]
if node ~= '' then redis.call('SREM', ARGV[5] .. node, ref) else redis.call('ZREM', KEYS[3], ref) end
removed(KEYS[1], KEYS[2], ARGV[1], ARGV[6], ARGV[7], ARGV[8], ARGV[4], member)
return {member}
`;

/**
 * One partition's due leaves, each claimed here (removed, so no other sweep gets it). KEYS: pdue. ARGV:
 * now, limit, base (the partition's key prefix: a channel's records are `<base>pres:<part>`,
 * `<base>pidx:<part>`, its topic `<base>t:<part>`), newEpoch, publishCommand, fixedTopic ('' for each
 * channel's own topic). Returns `{next, part1, member1, part2, member2, …}`: `next` the earliest deadline
 * left in the partition ('' for none).
 */
export const PRESENCE_EXPIRE_LUA = `${PRELUDE}
local pdue, now, limit, base = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local out = {''}
local left = 0
while left < limit do
  local due = redis.call('ZRANGEBYSCORE', pdue, '-inf', ARGV[1], 'LIMIT', 0, limit - left)
  if #due == 0 then break end
  for i = 1, #due do
    local ref = due[i]
    local part, session = string.match(ref, '^([^\\n]*)\\n(.*)$')
    local pres, pidx = base .. 'pres:' .. part, base .. 'pidx:' .. part
    local rec = redis.call('HGET', pres, session)
    redis.call('ZREM', pdue, ref)
    if rec then
      local _, node, _, deadline, member = parse(rec)
      if node == '' and deadline ~= '' then
        if tonumber(deadline) <= now then
          local topic = ARGV[6]
          if topic == '' then topic = base .. 't:' .. part end
          removed(pres, pidx, session, ARGV[4], ARGV[5], topic, part, member)
          out[#out + 1] = part
          out[#out + 1] = member
          left = left + 1
        else
          -- Detached again since, with a later deadline: it stays due then.
          redis.call('ZADD', pdue, deadline, ref)
        end
      end
    end
  end
end
local first = redis.call('ZRANGE', pdue, 0, 0, 'WITHSCORES')
if first[2] then out[1] = first[2] end
return out
`;

/**
 * A dead node's members in one partition: detached, each with its grace counted from `leaseEnd`. KEYS:
 * pdue, held (the node's set). ARGV: node, leaseEnd, base, batch. Takes at most `batch` members a call.
 * Returns `{more, next}`: `more` 1 while the node holds others here, `next` the partition's earliest
 * deadline ('' for none).
 */
export const PRESENCE_ORPHAN_LUA = `${PRELUDE}
local refs = redis.call('SPOP', KEYS[2], tonumber(ARGV[4]))
local leaseEnd = tonumber(ARGV[2])
for i = 1, #refs do
  local part, session = string.match(refs[i], '^([^\\n]*)\\n(.*)$')
  local pres = ARGV[3] .. 'pres:' .. part
  local rec = redis.call('HGET', pres, session)
  if rec then
    local grace, node, _, _, member = parse(rec)
    if node == ARGV[1] then
      local deadline = num(leaseEnd + tonumber(grace))
      redis.call('HSET', pres, session, record(grace, '', '', deadline, member))
      redis.call('ZADD', KEYS[1], deadline, refs[i])
    end
  end
end
local more = 0
if redis.call('SCARD', KEYS[2]) > 0 then more = 1 end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {more, first[2] or ''}
`;

/**
 * A page of members. KEYS: pres, pidx. ARGV: after ('' from the start), count (the page's limit + 1).
 * Returns `{total, member1, member2, …}`: the count of every page together, read with the page.
 */
export const PRESENCE_PAGE_LUA = `
local min = '-'
if ARGV[1] ~= '' then min = '(' .. ARGV[1] end
local sessions = redis.call('ZRANGEBYLEX', KEYS[2], min, '+', 'LIMIT', 0, tonumber(ARGV[2]))
local out = {redis.call('ZCARD', KEYS[2])}
for i = 1, #sessions do
  local rec = redis.call('HGET', KEYS[1], sessions[i])
  if rec then out[#out + 1] = string.match(rec, '^[^\\n]*\\n[^\\n]*\\n[^\\n]*\\n[^\\n]*\\n(.*)$') end
end
return out
`;

/**
 * Every member at once, with the version of the last change. KEYS: pres, pidx. Returns
 * `{version, member1, member2, …}` in session order (`version` '' for a channel without members).
 */
export const PRESENCE_SNAPSHOT_LUA = `
local sessions = redis.call('ZRANGE', KEYS[2], 0, -1)
local out = {redis.call('HGET', KEYS[1], '') or ''}
for i = 1, #sessions do
  local rec = redis.call('HGET', KEYS[1], sessions[i])
  if rec then out[#out + 1] = string.match(rec, '^[^\\n]*\\n[^\\n]*\\n[^\\n]*\\n[^\\n]*\\n(.*)$') end
end
return out
`;

/**
 * Renew a lease. KEYS: leases (hash node → expiry), leaseDue (when to look at each node). ARGV: node,
 * now, expiresAt. Returns 1 when the lease still held, 0 when it had run out or was unknown.
 */
export const PRESENCE_REFRESH_LUA = `
local old = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
if old and tonumber(old) > tonumber(ARGV[2]) then return 1 end
return 0
`;

/**
 * Before a node holds members in a partition: it has a lease (one that has run out already, `now`,
 * unless it has one: a node that never renews cannot hold members forever), and the partition is in its
 * set of partitions, where a sweep finds its members when it dies. A node whose lease ran out that does
 * this is marked: a sweep detaching its members then looks again before forgetting it. KEYS: leases,
 * leaseDue, touched, parts (the node's partitions). ARGV: node, now, partition.
 */
export const PRESENCE_ENSURE_LUA = `
local expires = redis.call('HGET', KEYS[1], ARGV[1])
if not expires then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
elseif tonumber(expires) <= tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[3], ARGV[1], '1')
end
redis.call('SADD', KEYS[4], ARGV[3])
return 1
`;

/**
 * Claim leases that ran out, for this sweep to detach their nodes' members: each is looked at again
 * only after `retryAt` (should this sweep die halfway). KEYS: leases, leaseDue, touched. ARGV: now,
 * retryAt, limit. Returns `{node1, expiresAt1, …}`.
 */
export const PRESENCE_CLAIM_DEAD_LUA = `
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for i = 1, #due do
  local node = due[i]
  local expires = redis.call('HGET', KEYS[1], node)
  if not expires then
    redis.call('ZREM', KEYS[2], node)
  elseif tonumber(expires) > tonumber(ARGV[1]) then
    redis.call('ZADD', KEYS[2], expires, node)
  else
    redis.call('ZADD', KEYS[2], ARGV[2], node)
    redis.call('HDEL', KEYS[3], node)
    out[#out + 1] = node
    out[#out + 1] = expires
  end
end
return out
`;

/**
 * A dead node's members are all detached: forget its lease and its partitions, unless it was renewed
 * meanwhile (the node was only slow: it joins its members again), or it took members since the claim
 * (they are detached at the next sweep). KEYS: leases, leaseDue, touched, parts. ARGV: node, expiresAt
 * (as claimed), now. Returns 1 when forgotten.
 */
export const PRESENCE_BURY_LUA = `
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
if redis.call('HDEL', KEYS[3], ARGV[1]) == 1 then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
  return 0
end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[4])
return 1
`;

/** The presence scripts as ioredis commands (`defineCommand`), by name; merged into the engine's `SCRIPTS`. */
export const PRESENCE_SCRIPTS = {
  lifelinePresenceJoin: { lua: PRESENCE_JOIN_LUA, numberOfKeys: 4 },
  lifelinePresenceDetach: { lua: PRESENCE_DETACH_LUA, numberOfKeys: 3 },
  lifelinePresenceLeave: { lua: PRESENCE_LEAVE_LUA, numberOfKeys: 3 },
  lifelinePresenceExpire: { lua: PRESENCE_EXPIRE_LUA, numberOfKeys: 1 },
  lifelinePresenceOrphan: { lua: PRESENCE_ORPHAN_LUA, numberOfKeys: 2 },
  lifelinePresencePage: { lua: PRESENCE_PAGE_LUA, numberOfKeys: 2 },
  lifelinePresenceSnapshot: { lua: PRESENCE_SNAPSHOT_LUA, numberOfKeys: 2 },
  lifelinePresenceRefresh: { lua: PRESENCE_REFRESH_LUA, numberOfKeys: 2 },
  lifelinePresenceEnsure: { lua: PRESENCE_ENSURE_LUA, numberOfKeys: 4 },
  lifelinePresenceClaimDead: { lua: PRESENCE_CLAIM_DEAD_LUA, numberOfKeys: 3 },
  lifelinePresenceBury: { lua: PRESENCE_BURY_LUA, numberOfKeys: 4 },
} as const;
