-- wrk script: authenticated GET of wrk's URL; any status but 200 is reported.
local token = os.getenv("PLEXID_BENCH_TOKEN")
wrk.headers["Authorization"] = "Bearer " .. token

function response(status, headers, body)
  if status ~= 200 then
    io.stderr:write("unexpected status " .. status .. "\n")
  end
end
