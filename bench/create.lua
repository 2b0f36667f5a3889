-- wrk script: POST /api/v3/sources/plex/ with a new slug every request.
-- setup() runs once per wrk thread in the main Lua state and gives each thread its own prefix,
-- so slugs never collide between threads or runs.
local threads = 0
local run = tostring(os.time())

function setup(thread)
  threads = threads + 1
  thread:set("prefix", "r" .. run .. "t" .. threads)
end

local counter = 0
local token = os.getenv("PLEXID_BENCH_TOKEN")

function request()
  counter = counter + 1
  local slug = prefix .. "-" .. counter
  local body = '{"name":"Bench ' .. slug .. '","slug":"' .. slug .. '","plex_token":"bench-token","allowed_servers":["a","b"]}'
  return wrk.format("POST", "/api/v3/sources/plex/", {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
  }, body)
end

function response(status, headers, body)
  if status ~= 201 then
    io.stderr:write("unexpected status " .. status .. ": " .. body .. "\n")
  end
end
