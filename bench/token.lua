-- The OAuth2 token endpoint, driven by wrk for bench/token.sh (2 threads). TOKEN_MODE says what:
--   codes:    GET the authorization endpoint (the URL given to wrk) as a signed-in member, keeping
--             the code of each redirect in TOKEN_DIR/codes.<thread>;
--   exchange: POST grant_type=authorization_code with those codes (each once), keeping the
--             refresh token of each answer in TOKEN_DIR/refresh.<thread>;
--   refresh:  POST grant_type=refresh_token with those refresh tokens (each once), and with the
--             refresh token of each answer in turn (rotation gives a new one each time).
-- TOKEN_CLIENT is the client's `id:secret`, TOKEN_REDIRECT the redirect URI (URL-encoded). A
-- thread that has used all it was given asks for /-/health/live/ instead; at the end the script
-- prints how many token answers there were and how many requests went to health instead
-- (bench/token.sh reports a run that ran out).
local mode = os.getenv("TOKEN_MODE")
local dir = os.getenv("TOKEN_DIR")
local redirect = os.getenv("TOKEN_REDIRECT")
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  threads[#threads + 1] = thread
end

local function b64(data)
  local chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
  return ((data:gsub(".", function(x)
    local r, byte = "", x:byte()
    for i = 8, 1, -1 do r = r .. (byte % 2 ^ i - byte % 2 ^ (i - 1) > 0 and "1" or "0") end
    return r
  end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(x)
    if #x < 6 then return "" end
    local c = 0
    for i = 1, 6 do c = c + (x:sub(i, i) == "1" and 2 ^ (6 - i) or 0) end
    return chars:sub(c + 1, c + 1)
  end) .. ({ "", "==", "=" })[#data % 3 + 1])
end

local items, used, out = {}, 0, nil
answered, instead = 0, 0

function init(args)
  if mode == "codes" then
    out = io.open(dir .. "/codes." .. id, "w")
    out:setvbuf("line")
    return
  end
  local source = mode == "exchange" and "codes." or "refresh."
  for line in io.lines(dir .. "/" .. source .. id) do
    items[#items + 1] = line
  end
  if mode == "exchange" then
    out = io.open(dir .. "/refresh." .. id, "w")
    out:setvbuf("line")
  end
  wrk.headers["Authorization"] = "Basic " .. b64(os.getenv("TOKEN_CLIENT"))
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end

function request()
  if mode == "codes" then
    return wrk.format("GET")
  end
  used = used + 1
  local item = items[used]
  if item == nil then
    return wrk.format("GET", "/-/health/live/")
  end
  local body
  if mode == "exchange" then
    body = "grant_type=authorization_code&code=" .. item .. "&redirect_uri=" .. redirect
  else
    body = "grant_type=refresh_token&refresh_token=" .. item
  end
  return wrk.format("POST", "/application/o/token/", nil, body)
end

function response(status, headers, body)
  if mode == "codes" then
    local code = (headers["Location"] or headers["location"] or ""):match("[?&]code=([^&]+)")
    if code then out:write(code, "\n") end
    return
  end
  local refresh = body:match('"refresh_token":"([^"]+)"')
  if refresh then
    answered = answered + 1
    if out then out:write(refresh, "\n") end
    if mode == "refresh" then items[#items + 1] = refresh end
  elseif status == 200 then
    instead = instead + 1
  end
end

function done(summary, latency, requests)
  local a, i = 0, 0
  for _, thread in ipairs(threads) do
    a = a + thread:get("answered")
    i = i + thread:get("instead")
  end
  io.write(string.format("token answers: %d, health instead: %d\n", a, i))
end
