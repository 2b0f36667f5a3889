-- wrk script: POST /api/v3/core/users/{BENCH_USER}/set_password/ (argon2 hashing on every request).
local token = os.getenv("PLEXID_BENCH_TOKEN")
local user = os.getenv("BENCH_USER")
wrk.method = "POST"
wrk.path = "/api/v3/core/users/" .. user .. "/set_password/"
wrk.headers["Authorization"] = "Bearer " .. token
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"password":"correct horse battery staple"}'
