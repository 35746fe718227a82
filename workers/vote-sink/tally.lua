-- tally.lua - applies one partition's chunk of a vote batch to Redis atomically.
--
-- Effectively-once: the hash KEYS[1] field ARGV[2] ("{topic}:{partition}") holds the next
-- offset to apply. A vote whose offset is below it was applied before (replay after a crash
-- or rebalance) and changes nothing. The offset advance happens in the same script, so
-- tallies and offset can never disagree.
--
-- One vote per voter: poll:{p}:voter_first maps voter -> id of that voter's first vote. A vote
-- is a duplicate iff that entry exists and names another id. The entry never changes once
-- set, so the answer for a given vote is the same on every replay; the sink stores it in
-- MongoDB (`duplicate: true`) after this script, so a replay stores the same flag.
--
-- Cost: Redis runs this on its one thread, next to MongoDB's server on the same cores, so
-- the per-vote work is only the voter rule (it must see earlier votes of the same chunk).
-- Counters, tallies, the voters set and the recent list are summed in Lua tables and
-- written once per chunk: the same final values as one command per vote (each vote's
-- +1s in offset order; the recent list gets the same newest recent_cap entries in the
-- same order) at about a third of the redis.call()s.
--
-- ARGV: prefix, field, batch_next_offset, nvotes, recent_cap, then per vote:
--   offset, id, poll, choice, voter ('' = none), json, nattrs, (attr_name, attr_value) * nattrs
-- Returns {applied_count, {dup_flag per vote}}.
local prefix, field, batch_next = ARGV[1], ARGV[2], ARGV[3]
local nvotes, recent_cap = tonumber(ARGV[4]), tonumber(ARGV[5])
local stored = tonumber(redis.call('HGET', KEYS[1], field) or '0')
local flags, applied = {}, 0
local polls = {}   -- poll -> {count, dupes, totals{choice}, attrs{key{field}}, voters[], recent[]}

local function poll_sums(poll)
  local p = polls[poll]
  if p == nil then
    p = { count = 0, dupes = 0, totals = {}, attrs = {}, voters = {}, recent = {} }
    polls[poll] = p
  end
  return p
end

local function add(t, k, n)
  t[k] = (t[k] or 0) + n
end

-- The voter rule for one vote: 1 when this voter's first vote is another id. A fresh
-- vote of a new voter claims the entry (HSETNX: one call for the common case).
local function duplicate_flag(base, p, voter, id, fresh)
  if voter == '' then return 0 end
  if fresh and redis.call('HSETNX', base .. 'voter_first', voter, id) == 1 then
    p.voters[#p.voters + 1] = voter
    return 0
  end
  local first = redis.call('HGET', base .. 'voter_first', voter)
  if first and first ~= id then return 1 end
  return 0
end

local i = 6
for n = 1, nvotes do
  local off = tonumber(ARGV[i])
  local id, poll, choice, voter, json = ARGV[i+1], ARGV[i+2], ARGV[i+3], ARGV[i+4], ARGV[i+5]
  local nattrs = tonumber(ARGV[i+6])
  local fresh = off >= stored
  local p = poll_sums(poll)
  local dup = duplicate_flag(prefix .. 'poll:' .. poll .. ':', p, voter, id, fresh)
  if fresh then
    applied = applied + 1
    if dup == 1 then
      p.dupes = p.dupes + 1
    else
      p.count = p.count + 1
      add(p.totals, choice, 1)
      for a = 0, nattrs - 1 do
        local name = ARGV[i+7+2*a]
        p.attrs[name] = p.attrs[name] or {}
        add(p.attrs[name], ARGV[i+8+2*a] .. '\t' .. choice, 1)
      end
      p.recent[#p.recent + 1] = json
    end
  end
  flags[n] = dup
  i = i + 7 + 2 * nattrs
end

-- Variadic commands in slices: Lua's unpack() is limited to a few thousand values.
local SLICE = 500
local function call_sliced(cmd, key, list, first, last)
  for s = first, last, SLICE do
    redis.call(cmd, key, unpack(list, s, math.min(s + SLICE - 1, last)))
  end
end

if tonumber(batch_next) > stored then
  redis.call('HSET', KEYS[1], field, batch_next)
end
for poll, p in pairs(polls) do
  local base = prefix .. 'poll:' .. poll .. ':'
  if #p.voters > 0 then call_sliced('SADD', base .. 'voters', p.voters, 1, #p.voters) end
  if p.dupes > 0 then redis.call('INCRBY', base .. 'dupes', p.dupes) end
  if p.count > 0 then
    for choice, n in pairs(p.totals) do redis.call('HINCRBY', base .. 'totals', choice, n) end
    for name, cells in pairs(p.attrs) do
      for cell, n in pairs(cells) do redis.call('HINCRBY', base .. 'attr:' .. name, cell, n) end
    end
    -- LPUSH of v1..vn leaves vn at the head, as n single LPUSHes would; older entries
    -- than the newest recent_cap would be trimmed anyway, so they are not pushed.
    call_sliced('LPUSH', base .. 'recent', p.recent, math.max(1, #p.recent - recent_cap + 1), #p.recent)
    redis.call('LTRIM', base .. 'recent', 0, recent_cap - 1)
    local count = redis.call('INCRBY', base .. 'count', p.count)
    redis.call('PUBLISH', prefix .. 'results:' .. poll, cjson.encode({poll = poll, count = count}))
  end
end
return {applied, flags}
