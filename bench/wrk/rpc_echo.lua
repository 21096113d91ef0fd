-- POST /v2/rpc/$RPC_ID with a session token ($TOKEN), the payload double-encoded as nakama-js
-- sends it; with $HTTP_KEY instead of $TOKEN, the HTTP key is sent as Basic auth.
local token = os.getenv("TOKEN")
local key = os.getenv("HTTP_KEY")
local id = os.getenv("RPC_ID") or "echo"
local auth = token and ("Bearer " .. token) or ("Basic " .. (key or ""))
local body = '"{\\"hello\\":\\"world\\",\\"n\\":42}"'
request = function()
  return wrk.format("POST", "/v2/rpc/" .. id,
    {["Authorization"] = auth, ["Content-Type"] = "application/json"}, body)
end
