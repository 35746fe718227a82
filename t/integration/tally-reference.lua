-- tally.lua - applies one partition's slice of a vote batch to Redis atomically.
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
-- ARGV: prefix, field, batch_next_offset, nvotes, recent_cap, then per vote:
--   offset, id, poll, choice, voter ('' = none), json, nattrs, (attr_name, attr_value) * nattrs
-- Returns {applied_count, {dup_flag per vote}}.
local prefix, field, batch_next = ARGV[1], ARGV[2], ARGV[3]
local nvotes, recent_cap = tonumber(ARGV[4]), tonumber(ARGV[5])
local stored = tonumber(redis.call('HGET', KEYS[1], field) or '0')
local flags, touched, applied = {}, {}, 0
local i = 6
for n = 1, nvotes do
  local off = tonumber(ARGV[i])
  local id, poll, choice, voter, json = ARGV[i+1], ARGV[i+2], ARGV[i+3], ARGV[i+4], ARGV[i+5]
  local nattrs = tonumber(ARGV[i+6])
  local base = prefix .. 'poll:' .. poll .. ':'
  local fresh = off >= stored
  local dup = 0
  if voter ~= '' then
    local first = redis.call('HGET', base .. 'voter_first', voter)
    if first then
      if first ~= id then dup = 1 end
    elseif fresh then
      redis.call('HSET', base .. 'voter_first', voter, id)
      redis.call('SADD', base .. 'voters', voter)
    end
  end
  if fresh then
    applied = applied + 1
    if dup == 1 then
      redis.call('INCR', base .. 'dupes')
    else
      redis.call('HINCRBY', base .. 'totals', choice, 1)
      redis.call('INCR', base .. 'count')
      for a = 0, nattrs - 1 do
        redis.call('HINCRBY', base .. 'attr:' .. ARGV[i+7+2*a], ARGV[i+8+2*a] .. '\t' .. choice, 1)
      end
      redis.call('LPUSH', base .. 'recent', json)
      touched[poll] = true
    end
  end
  flags[n] = dup
  i = i + 7 + 2 * nattrs
end
if tonumber(batch_next) > stored then
  redis.call('HSET', KEYS[1], field, batch_next)
end
for poll in pairs(touched) do
  local base = prefix .. 'poll:' .. poll .. ':'
  redis.call('LTRIM', base .. 'recent', 0, recent_cap - 1)
  local count = tonumber(redis.call('GET', base .. 'count') or '0')
  redis.call('PUBLISH', prefix .. 'results:' .. poll, cjson.encode({poll = poll, count = count}))
end
return {applied, flags}
