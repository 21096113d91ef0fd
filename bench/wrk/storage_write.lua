-- PUT /v2/storage: one object per request, over 1000 keys of one player.
local token = os.getenv("TOKEN")
local n = 0
request = function()
  n = n + 1
  local body = string.format(
    '{"objects":[{"collection":"bench","key":"k%d","value":"{\\"level\\":%d,\\"hp\\":42,\\"items\\":[\\"sword\\",\\"shield\\"]}"}]}',
    math.random(0, 999), n)
  return wrk.format("PUT", "/v2/storage",
    {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
end
