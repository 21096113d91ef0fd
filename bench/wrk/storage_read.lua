-- POST /v2/storage: read one object per request, from the 1000 keys the write scenario made.
local token = os.getenv("TOKEN")
local uid = os.getenv("USER_ID")
request = function()
  local body = string.format('{"object_ids":[{"collection":"bench","key":"k%d","user_id":"%s"}]}',
    math.random(0, 999), uid)
  return wrk.format("POST", "/v2/storage",
    {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
end
