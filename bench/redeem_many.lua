-- POST redeem_token for many different members of the demo server (fake-plex --members N:
-- accounts 100000… with tokens member-<id>-token), each thread walking its own half of them in
-- turn (BENCH_MEMBERS: N), so concurrent sign-ins are of different people.
local members = tonumber(os.getenv("BENCH_MEMBERS") or "500")
local threads = 0

function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

local next_one = 0

function request()
  local member = 100000 + (next_one * 2 + id) % members
  next_one = next_one + 1
  return wrk.format("POST", nil, { ["Content-Type"] = "application/json" },
    '{"plex_token":"member-' .. member .. '-token"}')
end
