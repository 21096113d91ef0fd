-- POST /v2/leaderboard/bench: players (tokens in the file $TOKENS) write random scores to one
-- board; the board's operator decides how many writes change the record ($OPERATOR: the API
-- enum to send as an override, "" for the board's own).
local tokens = {}
for line in io.lines(os.getenv("TOKENS")) do tokens[#tokens + 1] = line end
local op = os.getenv("OPERATOR") or ""
setup = function(thread) thread:set("seed", math.random(1, 1000000)) end
init = function() math.randomseed((seed or 1) + os.time()) end
request = function()
  local token = tokens[math.random(1, #tokens)]
  local body = string.format('{"score":"%d","subscore":"%d"%s}', math.random(0, 1000000000),
    math.random(0, 100), op ~= "" and (',"operator":' .. op) or "")
  return wrk.format("POST", "/v2/leaderboard/bench",
    {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
end
