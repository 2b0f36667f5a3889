-- wrk script: POST /api/v3/sources/plex/ with a new slug every request.
-- Each wrk thread gets its own prefix so slugs never collide.
local counter = 0
local prefix = ""
local token = os.getenv("PLEXID_BENCH_TOKEN")

function setup(thread)
  thread:set("prefix", "t" .. tostring(math.random(1, 1e9)))
end

function init(args)
  prefix = prefix ~= "" and prefix or ("t" .. tostring(math.random(1, 1e9)))
end

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
