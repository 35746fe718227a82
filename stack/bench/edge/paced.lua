-- paced.lua: wrk script for latency at a given rate. Requests (POSTs of the
-- body in $BODY_FILE, with the optional $EXTRA_HEADER) take slots on one timeline, one slot every 1/$RATE s:
-- a connection whose answer arrived waits for the next free slot, so the
-- offered rate is $RATE requests/s as long as some of the wrk -c connections
-- are idle (run it with -t1). wrk times each request from send to answer;
-- below saturation the queueing that a closed loop hides (coordinated
-- omission) stays small, and the achieved rate is reported next to the
-- latency so that the reader can check it. wrk's timers have 1 ms
-- resolution: requests leave in small bunches once per millisecond.
local ffi = require("ffi")
ffi.cdef[[
  typedef struct { long tv_sec; long tv_nsec; } vb_timespec;
  int clock_gettime(int clk, vb_timespec *ts);
]]
local ts = ffi.new("vb_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts)            -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
local extra = os.getenv("EXTRA_HEADER")   -- "Name: value", e.g. Authorization (orders)
if extra and extra ~= "" then
  local name, value = extra:match("^([^:]+):%s*(.*)$")
  wrk.headers[name] = value
end

local gap = 1000 / tonumber(os.getenv("RATE"))
local next_slot = nil

function delay()
  local t = now_ms()
  -- after a stall (all connections busy), start again from now instead of
  -- bursting to catch up
  if next_slot == nil or next_slot < t - 20 then
    next_slot = t
  end
  next_slot = next_slot + gap
  local d = next_slot - t
  if d < 0.5 then
    return 0
  end
  return math.floor(d + 0.5)
end

-- With $IDS_FILE set, the id of every 202 answer is appended to that file (one per line), so
-- that the zero-loss audit can look each one up (stack/bench/pipeline/pipeline.py). Run with -t1.
local ids_path = os.getenv("IDS_FILE")
if ids_path then
  local ids = assert(io.open(ids_path, "a"))
  function response(status, headers, body)
    if status == 202 then
      local id = body:match('"id":"([0-9A-Z]+)"')
      if id then ids:write(id, "\n") end
    end
  end
end
