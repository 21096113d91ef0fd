-- GET /v2/group?name=<prefix>%&limit=20: search by a random 3-character prefix of the seeded
-- names (hex digests, so each prefix matches about 24 of 100,000 groups).
local token = os.getenv("TOKEN")
local hex = "0123456789abcdef"
request = function()
  local p = ""
  for _ = 1, 3 do
    local i = math.random(1, 16)
    p = p .. hex:sub(i, i)
  end
  return wrk.format("GET", "/v2/group?limit=20&name=" .. p .. "%25",
    {["Authorization"] = "Bearer " .. token})
end
