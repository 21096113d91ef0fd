-- GET /v2/account with a valid session token (from the TOKEN environment variable).
local token = os.getenv("TOKEN")
request = function()
  return wrk.format("GET", "/v2/account", {["Authorization"] = "Bearer " .. token})
end
