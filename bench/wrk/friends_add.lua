-- POST /v2/friend?ids=...: players (tokens in the file $TOKENS) invite random users (ids in the
-- file $TARGETS), one id per request; most requests write a new invite (two edges, two edge
-- counts, one stored notification).
local tokens, targets = {}, {}
for line in io.lines(os.getenv("TOKENS")) do tokens[#tokens + 1] = line end
for line in io.lines(os.getenv("TARGETS")) do targets[#targets + 1] = line end
local n = 0
setup = function(thread) thread:set("seed", math.random(1, 1000000)) end
init = function() math.randomseed((seed or 1) + os.time()) end
request = function()
  n = n + 1
  local token = tokens[math.random(1, #tokens)]
  local id = targets[math.random(1, #targets)]
  return wrk.format("POST", "/v2/friend?ids=" .. id, {["Authorization"] = "Bearer " .. token})
end
