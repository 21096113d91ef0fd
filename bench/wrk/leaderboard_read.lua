-- Reads of one board of a million records: $MODE "first" (GET /v2/leaderboard/bench?limit=$LIMIT,
-- the first page with ranks) or "around" (GET /v2/leaderboard/bench/owner/<owner>?limit=$LIMIT
-- for random owners of seeded records, listed in the file $OWNERS).
local token = os.getenv("TOKEN")
local mode = os.getenv("MODE")
local limit = os.getenv("LIMIT") or "100"
local owners = {}
if mode == "around" then
  for line in io.lines(os.getenv("OWNERS")) do owners[#owners + 1] = line end
end
setup = function(thread) thread:set("seed", math.random(1, 1000000)) end
init = function() math.randomseed((seed or 1) + os.time()) end
request = function()
  local path = "/v2/leaderboard/bench?limit=" .. limit
  if mode == "around" then
    path = "/v2/leaderboard/bench/owner/" .. owners[math.random(1, #owners)] .. "?limit=" .. limit
  end
  return wrk.format("GET", path, {["Authorization"] = "Bearer " .. token})
end
