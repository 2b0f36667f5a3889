#!/usr/bin/env bash
# Benchmarks Sign in with Plex: redeem_token for a returning member, against the fake-plex
# binary answering every plex.tv call after 100 ms (latency, one connection) and at once
# (logins per second, 32 connections), on SQLite and PostgreSQL, with the health endpoint as the
# baseline of the same run. Writes bench/results/login.md.
# Needs: wrk, a release build (built here), PostgreSQL at PLEXID_BENCH_POSTGRES_URL.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${BENCH_DURATION:-10s}"
PG_URL="${PLEXID_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
PORT=9241
PLEX_PORT=9242
TOKEN="bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
cargo build --release -p plexid-server -p fake-plex --quiet
WORK=$(mktemp -d)
OUT=bench/results/login.md
mkdir -p bench/results
PID=; PLEX_PID=
trap 'kill $PID $PLEX_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT

. bench/lib.sh

{
  echo "Run $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, wrk -d$DURATION, loopback, release build; fake-plex on the same machine."
  echo
  echo "| backend / request | req/s | p50 ms | p90 ms | p99 ms | ratio to health baseline |"
  echo "|---|---|---|---|---|---|"
} >"$OUT"

for backend in sqlite postgres; do
  for latency in 100 0; do
    target/release/fake-plex --listen "127.0.0.1:$PLEX_PORT" --latency-ms "$latency" >"$WORK/plex.log" 2>&1 &
    PLEX_PID=$!
    if [ "$backend" = sqlite ]; then
      url="sqlite://$WORK/login-$latency.db"
    else
      schema="bench_login_$$_$latency"
      PGOPTIONS="-c client_min_messages=warning" psql "$PG_URL" -qc "DROP SCHEMA IF EXISTS $schema CASCADE; CREATE SCHEMA $schema" >/dev/null
      url="$PG_URL?options=-c%20search_path%3D$schema"
    fi
    PLEXID_DATABASE="$url" PLEXID_BOOTSTRAP_TOKEN="$TOKEN" PLEXID_LISTEN="127.0.0.1:$PORT" PLEXID_LOG=warn \
      PLEXID_PLEX_API_URL="http://127.0.0.1:$PLEX_PORT" PLEXID_PLEX_APP_URL="http://127.0.0.1:$PLEX_PORT" \
      PLEXID_LOGIN_RATE_LIMIT=0 PLEXID_LOGIN_SOURCE_RATE_LIMIT=0 PLEXID_JOBS=false \
      target/release/plexid serve >"$WORK/serve.log" 2>&1 &
    PID=$!
    until curl -sf "http://127.0.0.1:$PORT/-/health/ready/" >/dev/null && curl -s "http://127.0.0.1:$PLEX_PORT/auth" >/dev/null; do sleep 0.05; done
    flows=$(api GET "/api/v3/flows/instances/?ordering=slug")
    auth=$(echo "$flows" | python3 -c 'import json,sys; print([f["pk"] for f in json.load(sys.stdin)["results"] if f["slug"]=="default-source-authentication"][0])')
    enroll=$(echo "$flows" | python3 -c 'import json,sys; print([f["pk"] for f in json.load(sys.stdin)["results"] if f["slug"]=="default-source-enrollment"][0])')
    api POST /api/v3/sources/plex/ "{\"name\":\"Plex\",\"slug\":\"plex\",\"plex_token\":\"demo-owner-token\",\"allowed_servers\":[\"demo-server\"],\"authentication_flow\":\"$auth\",\"enrollment_flow\":\"$enroll\"}" >/dev/null
    # The member's first sign-in enrols them; every benchmarked one is a returning member.
    curl -sf -o /dev/null -X POST "http://127.0.0.1:$PORT/api/v3/sources/plex/redeem_token/?slug=plex" -H 'Content-Type: application/json' -d '{"plex_token":"demo-member-token"}'
    base=$(measure 32 "/-/health/live/")
    read -r base_rps _ <<<"$base"
    path="/api/v3/sources/plex/redeem_token/?slug=plex"
    {
      row "$backend, plex.tv +${latency} ms: GET /-/health/live/ (baseline)" "$base" "$base_rps"
      if [ "$latency" = 100 ]; then
        row "$backend, plex.tv +100 ms: redeem_token, returning member, 1 connection" "$(measure 1 "$path" redeem.lua)" "$base_rps"
        row "$backend, plex.tv +100 ms: redeem_token, returning member, 32 connections" "$(measure 32 "$path" redeem.lua)" "$base_rps"
      else
        row "$backend, plex.tv +0 ms: redeem_token, returning member, 32 connections" "$(measure 32 "$path" redeem.lua)" "$base_rps"
      fi
    } >>"$OUT"
    kill -TERM "$PID" "$PLEX_PID"; wait "$PID" "$PLEX_PID" 2>/dev/null || true
    [ "$backend" = postgres ] && PGOPTIONS="-c client_min_messages=warning" psql "$PG_URL" -qc "DROP SCHEMA $schema CASCADE" >/dev/null
  done
done
cat "$OUT"
