"""The Lua scripts of the Redis window store (`forecaster.serve.redis_store`): each runs
atomically inside Redis, so two replicas never interleave on one sensor.

Per sensor two keys: ``R``, a sorted set of its readings (score: the slot; member: the slot
as 8 bytes big-endian then the values as float64, so that a redelivery is the same member),
and ``M``, a hash: ``c``, the settled frontier (every slot up to it is either held or given
up as missing, and its forecast claimed), and ``u:<owner>``, the range ``lo,hi`` of slots a
replica claimed and has not yet confirmed as published. ``C`` (one for all sensors) is a
sorted set of ``owner NUL sensor`` with unconfirmed claims, scored by the claim's time (ms).

Slot ``m`` missing is given up (settled) once a reading of slot ``m + K`` or later is held
(``K``: ``--reorder-slots``). A sensor's series starts at its lowest held slot once a reading
``min(K, L)`` slots after the slot before it is held (``L``: the window length), so a stream may
start out of order too, and a large K does not delay the first forecast beyond the first window.
"""

from __future__ import annotations

_HELPERS = """
local function fmt(x) return string.format('%.0f', x) end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function range_of(u)
  local sep = string.find(u, ',', 1, true)
  return tonumber(string.sub(u, 1, sep - 1)), tonumber(string.sub(u, sep + 1))
end
local function rows(R, lo, hi, L, G)
  return redis.call('ZRANGEBYSCORE', R, fmt(lo - L - G), fmt(hi))
end
"""

PUSH = _HELPERS + """
-- KEYS: R, M, C. ARGV: slot, member, K, L, max_gap, ttl_ms, owner, claim member.
-- Returns {status} or {0, lo, hi, rows...}: status 0 held now, 1 the same reading again,
-- 2 another reading of a held slot, 3 too late (its slot was given up as missing).
local R, M, C = KEYS[1], KEYS[2], KEYS[3]
local slot, K, L, G = tonumber(ARGV[1]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local held = redis.call('ZRANGEBYSCORE', R, ARGV[1], ARGV[1])
if #held > 0 then
  if held[1] == ARGV[2] then return {1} end
  return {2}
end
local c = tonumber(redis.call('HGET', M, 'c'))
if c and slot <= c then return {3} end
redis.call('ZADD', R, slot, ARGV[2])
redis.call('PEXPIRE', R, ARGV[6])
redis.call('PEXPIRE', M, ARGV[6])
local newest = tonumber(redis.call('ZRANGE', R, -1, -1, 'WITHSCORES')[2])
if not c then
  local lowest = tonumber(redis.call('ZRANGE', R, 0, 0, 'WITHSCORES')[2])
  if newest < lowest - 1 + math.min(K, L) then return {0} end
  c = lowest - 1
end
local old = c
while true do
  local nxt = redis.call('ZRANGEBYSCORE', R, '(' .. fmt(c), '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  if #nxt == 0 then break end
  local p = tonumber(nxt[2])
  if p == c + 1 or newest >= p - 1 + K then
    c = p
  else
    if newest - K > c then c = newest - K end
    break
  end
end
if c <= old then return {0} end
redis.call('HSET', M, 'c', fmt(c))
local lo, owned = old + 1, redis.call('HGET', M, 'u:' .. ARGV[7])
if owned then lo = math.min(lo, (range_of(owned))) end
redis.call('HSET', M, 'u:' .. ARGV[7], fmt(lo) .. ',' .. fmt(c))
redis.call('ZADD', C, now_ms(), ARGV[8])
local keep = c + 1
local fields = redis.call('HGETALL', M)
for i = 1, #fields, 2 do
  if string.sub(fields[i], 1, 2) == 'u:' then keep = math.min(keep, (range_of(fields[i + 1]))) end
end
redis.call('ZREMRANGEBYSCORE', R, '-inf', '(' .. fmt(keep - L - G))
local out = {0, old + 1, c}
for _, r in ipairs(rows(R, old + 1, c, L, G)) do out[#out + 1] = r end
return out
"""

CONFIRM = _HELPERS + """
-- KEYS: M, C. ARGV: owner, claim member, hi. The owner's claim up to slot hi is published.
local u = redis.call('HGET', KEYS[1], 'u:' .. ARGV[1])
if not u then
  redis.call('ZREM', KEYS[2], ARGV[2])
  return 0
end
local lo, hi = range_of(u)
if hi <= tonumber(ARGV[3]) then
  redis.call('HDEL', KEYS[1], 'u:' .. ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[2])
else
  redis.call('HSET', KEYS[1], 'u:' .. ARGV[1], fmt(math.max(lo, tonumber(ARGV[3]) + 1)) .. ',' .. fmt(hi))
end
return 1
"""

TAKE = _HELPERS + """
-- KEYS: R, M, C. ARGV: old owner, new owner, old claim member, new claim member, cutoff_ms, L, max_gap.
-- Takes over a claim made at or before cutoff_ms (the new owner publishes it): {lo, hi, rows...}
-- or {} (confirmed meanwhile, or taken by another replica, or too recent).
local R, M, C = KEYS[1], KEYS[2], KEYS[3]
local score = redis.call('ZSCORE', C, ARGV[3])
local u = redis.call('HGET', M, 'u:' .. ARGV[1])
if not u then
  redis.call('ZREM', C, ARGV[3])
  return {}
end
if not score or tonumber(score) > tonumber(ARGV[5]) then return {} end
local lo, hi = range_of(u)
if ARGV[1] ~= ARGV[2] then
  local mine = redis.call('HGET', M, 'u:' .. ARGV[2])
  if mine then
    local mlo, mhi = range_of(mine)
    lo, hi = math.min(lo, mlo), math.max(hi, mhi)
  end
  redis.call('HDEL', M, 'u:' .. ARGV[1])
  redis.call('ZREM', C, ARGV[3])
  redis.call('HSET', M, 'u:' .. ARGV[2], fmt(lo) .. ',' .. fmt(hi))
end
redis.call('ZADD', C, now_ms(), ARGV[4])
local out = {lo, hi}
for _, r in ipairs(rows(R, lo, hi, tonumber(ARGV[6]), tonumber(ARGV[7]))) do out[#out + 1] = r end
return out
"""
