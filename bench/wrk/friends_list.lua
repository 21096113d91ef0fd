-- GET /v2/friend: one player's 1000 friends, a page at a time. The page cursors are listed (one a
-- line) in the file $CURSORS ("" for the first page); each request asks for the next page in turn.
local token = os.getenv("TOKEN")
local limit = os.getenv("LIMIT") or "100"
local cursors = {}
for line in io.lines(os.getenv("CURSORS")) do cursors[#cursors + 1] = line end
local n = 0
request = function()
  n = n + 1
  local cursor = cursors[(n - 1) % #cursors + 1]
  local path = "/v2/friend?limit=" .. limit
  if cursor ~= "" then path = path .. "&cursor=" .. cursor end
  return wrk.format("GET", path, {["Authorization"] = "Bearer " .. token})
end
