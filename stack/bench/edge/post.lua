-- post.lua: wrk script that POSTs one JSON body (file in $BODY_FILE) on every request,
-- with an optional extra header ($EXTRA_HEADER, "Name: value") such as Authorization.
local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
local extra = os.getenv("EXTRA_HEADER")
if extra and extra ~= "" then
  local name, value = extra:match("^([^:]+):%s*(.*)$")
  wrk.headers[name] = value
end
