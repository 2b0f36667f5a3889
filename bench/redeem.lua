-- POST redeem_token for a returning member of the demo server (fake-plex's demo accounts).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"plex_token":"demo-member-token"}'
