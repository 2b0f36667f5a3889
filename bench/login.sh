#!/usr/bin/env bash
# Benchmarks Sign in with Plex: redeem_token for a returning member, against the fake-plex
# binary answering every plex.tv call after 100 ms (latency, one connection; with the owner's
# Plex Home call working, and with it failing: 500) and at once (logins per second, 32
# connections), on SQLite and PostgreSQL, with the health endpoint as the baseline of the same
# run; and at once for BENCH_MEMBERS (500) different returning members (fake-plex --members),
# as after an invitation mail or a Plex server restart. Writes bench/results/login.md.
# Needs: wrk, a release build (built here), PostgreSQL at PLEXID_BENCH_POSTGRES_URL.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh login 9241

{
  echo "Run $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, wrk -d$DURATION, loopback, release build; fake-plex on the same machine."
  echo
  echo "| backend / request | req/s | p50 ms | p90 ms | p99 ms | ratio to health baseline |"
  echo "|---|---|---|---|---|---|"
} >"$OUT"

for backend in sqlite postgres; do
  for run in 100 100-home-failing 0 0-many; do
    latency=${run%%-*}
    FAKE_ARGS=
    [ "$run" = 100-home-failing ] && FAKE_ARGS="--fault /api/v2/home/users=500"
    [ "$run" = 0-many ] && FAKE_ARGS="--members ${BENCH_MEMBERS:-500}"
    label=
    [ "$run" = 100-home-failing ] && label=" (Home failing)"
    [ "$run" = 0-many ] && label=" (${BENCH_MEMBERS:-500} members)"
    fresh_database "$backend" "login_${latency}_${#FAKE_ARGS}"
    start_servers "$DB_URL" "$latency" \
      PLEXID_LOGIN_RATE_LIMIT=0 PLEXID_LOGIN_SOURCE_RATE_LIMIT=0
    demo_source
    # The member's first sign-in enrols them; every benchmarked one is a returning member.
    curl -sf -o /dev/null -X POST "http://127.0.0.1:$PORT/api/v3/sources/plex/redeem_token/?slug=plex" -H 'Content-Type: application/json' -d '{"plex_token":"demo-member-token"}'
    if [ "$run" = 0-many ]; then # each of them enrols once
      seq 100000 $((100000 + ${BENCH_MEMBERS:-500} - 1)) | xargs -P 4 -I{} curl -sf -o /dev/null -X POST \
        "http://127.0.0.1:$PORT/api/v3/sources/plex/redeem_token/?slug=plex" -H 'Content-Type: application/json' -d '{"plex_token":"member-{}-token"}'
    fi
    base=$(measure 32 "/-/health/live/")
    read -r base_rps _ <<<"$base"
    path="/api/v3/sources/plex/redeem_token/?slug=plex"
    {
      row "$backend, plex.tv +${latency} ms$label: GET /-/health/live/ (baseline)" "$base" "$base_rps"
      if [ "$run" = 100-home-failing ]; then
        row "$backend, plex.tv +100 ms, owner's Home call failing (500): redeem_token, returning member, 1 connection" "$(measure 1 "$path" redeem.lua)" "$base_rps"
      elif [ "$latency" = 100 ]; then
        row "$backend, plex.tv +100 ms: redeem_token, returning member, 1 connection" "$(measure 1 "$path" redeem.lua)" "$base_rps"
        row "$backend, plex.tv +100 ms: redeem_token, returning member, 32 connections" "$(measure 32 "$path" redeem.lua)" "$base_rps"
      elif [ "$run" = 0-many ]; then
        row "$backend, plex.tv +0 ms: redeem_token, ${BENCH_MEMBERS:-500} different returning members, 32 connections" \
          "$(BENCH_MEMBERS=${BENCH_MEMBERS:-500} measure 32 "$path" redeem_many.lua)" "$base_rps"
      else
        row "$backend, plex.tv +0 ms: redeem_token, returning member, 32 connections" "$(measure 32 "$path" redeem.lua)" "$base_rps"
      fi
    } >>"$OUT"
    stop_servers
  done
done
cat "$OUT"
