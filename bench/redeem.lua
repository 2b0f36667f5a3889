-- POST redeem_token for a returning member of the demo server (fake-plex's demo accounts), or
-- for the Plex token in PLEXID_BENCH_PLEX_TOKEN.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"plex_token":"' .. (os.getenv("PLEXID_BENCH_PLEX_TOKEN") or "demo-member-token") .. '"}'
