-- POST /v2/account/authenticate/device with a new device id every request (creates accounts).
local threads = 0
function setup(thread)
  thread:set("tno", threads)
  threads = threads + 1
end
local n = 0
local run = tostring(os.time())
request = function()
  n = n + 1
  local body = string.format('{"id":"bench-%s-%d-%d"}', run, tno or 0, n)
  return wrk.format("POST", "/v2/account/authenticate/device?create=true",
    {["Authorization"] = "Basic ZGVmYXVsdGtleTo=", ["Content-Type"] = "application/json"}, body)
end
