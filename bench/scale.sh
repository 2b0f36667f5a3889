#!/usr/bin/env bash
# The scale run: 100,000 users with Plex connections across 3 sources, 20,000 live sessions and
# 50 applications (forward-auth), against the fake-plex binary (`--scale 3:99000`: three owners,
# each with a server shared with a third of 99,000 people), on SQLite and PostgreSQL, each on a
# fresh database. Seeds through the API from parallel clients (BENCH_SCALE_WORKERS, 8): the
# first 20,000 people sign in (redeem_token: enrolled, a session each), the other 80,000 are
# created by the admin API (a user, then its connection; the last 1% are people plexid's owners
# do not share with). Then measures, with the health endpoint as the baseline of the same run:
# start-up to ready on the seeded database, resident memory, the admin lists (API and pages),
# the forward-auth check, a returning member's sign-in; then restarts plexid with its jobs on
# against fake-plex answering after 100 ms and times the access sweep of the three sources and
# counts its plex.tv calls. Writes bench/results/scale.md.
#   bench/scale.sh                                  # both engines
#   BENCH_BACKENDS=postgres BENCH_SCALE_USERS=10000 BENCH_SCALE_SESSIONS=2000 bench/scale.sh
# Needs: wrk, python3, a release build (built here), PostgreSQL at PLEXID_BENCH_POSTGRES_URL.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh scale 9271
USERS="${BENCH_SCALE_USERS:-100000}"
SESSIONS="${BENCH_SCALE_SESSIONS:-20000}"
APPS="${BENCH_SCALE_APPS:-50}"
WORKERS="${BENCH_SCALE_WORKERS:-8}"
SHARED=$((USERS * 99 / 100))
FIRST=1000000 # fake-plex's first scale member; Plex id ID is shared with scale-server-(ID % 3 + 1)
SLUGS=scale-1,scale-2,scale-3
export PLEXID_BENCH_TOKEN=$TOKEN # get.lua's bearer
PLEXID_ENV=(PLEXID_PUBLIC_URL="http://127.0.0.1:$PORT" PLEXID_LOGIN_RATE_LIMIT=0 PLEXID_LOGIN_SOURCE_RATE_LIMIT=0)

mib() { awk -v k="$2:" '$1==k {printf "%d", $2 / 1024}' "/proc/$1/status"; } # pid VmRSS|VmHWM
now_ms() { echo $(($(date +%s%N) / 1000000)); }
note() { echo "| $1 | $2 | | | | |" >>"$OUT"; }
pk() { python3 -c 'import json,sys; print(json.load(sys.stdin)["pk"])'; }
sql() { # statement → its answer, on the run's database
  if [ -n "$SCHEMA" ]; then PGOPTIONS="-c search_path=$SCHEMA" psql "$PG_URL" -tAc "$1"; else sqlite3 "$WORK/scale.db" "$1"; fi
}
count() { api GET "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pagination"]["count"])'; }

timed_start() { # [VAR=value…] → STARTUP_MS: plexid on $DB, from launch to ready
  local t0
  t0=$(now_ms)
  start_plexid "$@"
  STARTUP_MS=$(($(now_ms) - t0))
}

admin_cookie() { # → the Cookie header of an admin page session started with the bootstrap token
  local jar=$WORK/admin.jar csrf
  curl -sf -o "$WORK/signin.html" -c "$jar" "http://127.0.0.1:$PORT/if/admin/sign-in"
  csrf=$(sed -n 's/.*name="login_csrf" value="\([^"]*\)".*/\1/p' "$WORK/signin.html")
  curl -s -o /dev/null -b "$jar" -c "$jar" "http://127.0.0.1:$PORT/if/admin/sign-in" \
    --data-urlencode "token=$TOKEN" --data-urlencode "login_csrf=$csrf" --data-urlencode "next=/if/admin/"
  awk '!/^#/ && NF >= 7 {printf "%s%s=%s", sep, $6, $7; sep="; "} /^#HttpOnly_/ {printf "%s%s=%s", sep, $6, $7; sep="; "}' "$jar"
}

seed() { # sources, applications, sign-ins, users: writes the seeding rows
  local n auth enrol implicit provider t0 rate
  auth=$(flow_pk default-source-authentication)
  enrol=$(flow_pk default-source-enrollment)
  for n in 1 2 3; do
    api POST /api/v3/sources/plex/ "{\"name\":\"Scale $n\",\"slug\":\"scale-$n\",\"plex_token\":\"scale-owner-$n-token\",\"allowed_servers\":[\"scale-server-$n\"],\"authentication_flow\":\"$auth\",\"enrollment_flow\":\"$enrol\"}" >/dev/null
  done
  implicit=$(flow_pk default-provider-authorization-implicit-consent)
  for n in $(seq 1 "$APPS"); do
    provider=$(api POST /api/v3/providers/proxy/ "{\"name\":\"App $n\",\"authorization_flow\":\"$implicit\",\"external_host\":\"http://app-$n.bench\"}" | pk)
    api POST /api/v3/core/applications/ "{\"name\":\"App $n\",\"slug\":\"app-$n\",\"provider\":$provider,\"access_relationships\":[\"server_member\"],\"access_source\":\"scale-$((n % 3 + 1))\"}" >/dev/null
    if [ "$n" = 1 ]; then FIRST_PROVIDER=$provider; fi
  done
  t0=$(now_ms)
  rate=$(python3 bench/seed_connections.py "$PORT" "$TOKEN" "$SLUGS" "$SESSIONS" --first-id "$FIRST" --workers "$WORKERS" --sign-in)
  note "$1: seeding, $SESSIONS first sign-ins (redeem_token: enrolment and a session), $WORKERS clients" "$rate sign-ins/s, $(($(now_ms) - t0)) ms"
  t0=$(now_ms)
  rate=$(python3 bench/seed_connections.py "$PORT" "$TOKEN" "$SLUGS" "$((USERS - SESSIONS))" --first-id "$((FIRST + SESSIONS))" --workers "$WORKERS")
  note "$1: seeding, $((USERS - SESSIONS)) users by the admin API (POST user + POST connection), $WORKERS clients" "$rate users/s, $(($(now_ms) - t0)) ms"
  note "$1: resident memory after seeding / peak while seeding" "$(mib "$PID" VmRSS) MiB / $(mib "$PID" VmHWM) MiB"
}

measure_lists() { # backend baseline-rps: the admin lists, API and pages
  local cookie
  cookie=$(admin_cookie)
  row "$1: GET /api/v3/core/users/?page_size=100 (first page)" "$(measure 32 "/api/v3/core/users/?page_size=100" get.lua)" "$2"
  local deep=$((USERS / 100 * 9 / 10))
  row "$1: GET /api/v3/core/users/?page_size=100&page=$deep (deep page)" "$(measure 32 "/api/v3/core/users/?page_size=100&page=$deep" get.lua)" "$2"
  row "$1: GET /api/v3/core/users/?search=member-10123&page_size=100" "$(measure 32 "/api/v3/core/users/?search=member-10123&page_size=100" get.lua)" "$2"
  row "$1: GET /api/v3/sources/user_connections/plex/?page_size=100" "$(measure 32 "/api/v3/sources/user_connections/plex/?page_size=100" get.lua)" "$2"
  row "$1: same, ?source__slug=scale-2" "$(measure 32 "/api/v3/sources/user_connections/plex/?source__slug=scale-2&page_size=100" get.lua)" "$2"
  row "$1: page /if/admin/users/" "$(measure 32 /if/admin/users/ "" -H "Cookie: $cookie")" "$2"
  row "$1: page /if/admin/connections/user/" "$(measure 32 /if/admin/connections/user/ "" -H "Cookie: $cookie")" "$2"
  row "$1: page /if/admin/sessions/" "$(measure 32 /if/admin/sessions/ "" -H "Cookie: $cookie")" "$2"
}

measure_apps() { # backend baseline-rps: forward-auth check and sign-in of a member who has signed in before
  local member=$FIRST slug session
  slug="scale-$((member % 3 + 1))"
  curl -sf -o /dev/null -c "$WORK/jar" -X POST "http://127.0.0.1:$PORT/api/v3/sources/plex/redeem_token/?slug=$slug" \
    -H 'Content-Type: application/json' -d "{\"plex_token\":\"scale-member-$member-token\"}"
  session=$(forward_auth_session "$WORK/jar" app-1.bench "$FIRST_PROVIDER")
  row "$1: forward-auth check (auth/nginx), signed in, rule: server members" \
    "$(measure 32 /outpost.goauthentik.io/auth/nginx "" -H "Cookie: authentik_proxy_$FIRST_PROVIDER=$session" -H 'X-Original-URL: http://app-1.bench/page')" "$2"
  row "$1: redeem_token, returning member, plex.tv +0 ms" \
    "$(PLEXID_BENCH_PLEX_TOKEN="scale-member-$member-token" measure 32 "/api/v3/sources/plex/redeem_token/?slug=$slug" redeem.lua)" "$2"
}

sweep() { # backend: plexid restarted with its jobs on, fake-plex answering after 100 ms; one sweep of every source
  local t0 lines calls
  kill -TERM "$PID" "$PLEX_PID"; wait "$PID" "$PLEX_PID" 2>/dev/null || true
  FAKE_ARGS="--scale 3:$SHARED --log-calls" start_fake_plex 100
  : >"$WORK/serve.log"
  t0=$(now_ms)
  DB=$DB_URL start_plexid "${PLEXID_ENV[@]}" PLEXID_JOBS=true PLEXID_LOG="warn,plexid_server::jobs::access=info"
  until [ "$(grep -c "access sweep finished" "$WORK/serve.log")" -ge 3 ]; do
    sleep 0.2
    [ $(($(now_ms) - t0)) -lt 900000 ] || { echo "no sweep of the 3 sources within 15 minutes" >&2; tail "$WORK/serve.log" >&2; exit 1; }
  done
  lines=$(wc -l <"$WORK/plex.log")
  note "$1: access sweep, 3 sources, wall time from start" "$(($(now_ms) - t0)) ms"
  calls=$(head -n "$lines" "$WORK/plex.log" | grep '^call ' | awk '$3 != "/auth" {print $3}' | sort | uniq -c | awk '{printf "%s%s %s", sep, $1, $2; sep=", "}')
  grep "access sweep finished" "$WORK/serve.log" | sed 's/\x1b\[[0-9;]*m//g' | awk '
    function f(k,  m) { return match($0, k "=[0-9]+") ? substr($0, RSTART + length(k) + 1, RLENGTH - length(k) - 1) : 0 }
    {c += f("checked"); r += f("revoked"); p += f("person_calls"); e += f("elapsed_ms"); s = s sep f("elapsed_ms"); sep = " + "}
    END {printf "%d %d %d %d %s\n", c, r, p, e, s}' >"$WORK/sweep"
  read -r checked revoked person elapsed parts <"$WORK/sweep"
  note "$1: access sweep: connections checked / revoked / calls with a person's token" "$checked / $revoked / $person"
  note "$1: access sweep, time in the sweep (sum of the sources' elapsed_ms)" "$elapsed ms ($parts)"
  note "$1: access sweep, plex.tv calls from start to the end of the sweep (by path)" "$calls"
  note "$1: access sweep, plexid's peak resident memory (VmHWM)" "$(mib "$PID" VmHWM) MiB"
}

{
  echo "Run $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores (load average before: $(cut -d' ' -f1-3 /proc/loadavg)), wrk -d$DURATION, 32 connections, loopback, release build; fake-plex on the same machine."
  echo
  echo "| backend / request | req/s | p50 ms | p90 ms | p99 ms | ratio to health baseline |"
  echo "|---|---|---|---|---|---|"
} >"$OUT"

for backend in ${BENCH_BACKENDS:-sqlite postgres}; do
  fresh_database "$backend" scale
  FAKE_ARGS="--scale 3:$SHARED" start_fake_plex 0
  DB=$DB_URL start_plexid "${PLEXID_ENV[@]}"
  seed "$backend"
  note "$backend: users / connections / sessions / applications" "$(count "/api/v3/core/users/?page_size=1") / $(count "/api/v3/sources/user_connections/plex/?page_size=1") / $(sql "SELECT count(*) FROM user_session") / $(count "/api/v3/core/applications/?page_size=1")"
  # PostgreSQL plans by its statistics, which autovacuum refreshes within a minute of a bulk load.
  if [ "$backend" = postgres ]; then sql ANALYZE >/dev/null; fi
  kill -TERM "$PID"; wait "$PID" 2>/dev/null || true
  DB=$DB_URL timed_start "${PLEXID_ENV[@]}"
  note "$backend: start-up to ready (seeded database)" "$STARTUP_MS ms"
  sleep 1
  note "$backend: resident memory idle after start-up (seeded database)" "$(mib "$PID" VmRSS) MiB"
  base=$(measure 32 "/-/health/live/")
  read -r base_rps _ <<<"$base"
  {
    row "$backend: GET /-/health/live/ (baseline)" "$base" "$base_rps"
    measure_lists "$backend" "$base_rps"
    measure_apps "$backend" "$base_rps"
  } >>"$OUT"
  note "$backend: resident memory after the measurements / peak (VmHWM)" "$(mib "$PID" VmRSS) MiB / $(mib "$PID" VmHWM) MiB"
  sweep "$backend"
  echo "load average after $backend: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$WORK/notes"
  stop_servers
done
{ echo; cat "$WORK/notes"; } >>"$OUT"
cat "$OUT"
