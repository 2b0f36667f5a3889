#!/usr/bin/env bash
# Does anything block the runtime? Measures GET /-/health/live/ latency alone, then while
# sources are created (SQLite commits) and passwords set (argon2) at full speed, on SQLite.
#   bench/write_load.sh [BINARY] [SQLITE_OPTIONS]   e.g. bench/write_load.sh target/release/plexid synchronous=normal
# Writes the rows to bench/results/write_load.md (appending) and prints them.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${1:-target/release/plexid}"
OPTIONS="${2:-}"
DURATION="${BENCH_DURATION:-10s}"
PORT=9251
export PLEXID_BENCH_TOKEN="bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
[ -x "$BIN" ] || cargo build --release -p plexid-server --quiet
WORK=$(mktemp -d)
OUT=bench/results/write_load.md
mkdir -p bench/results
PID=
trap 'kill $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
PLEXID_DATABASE="sqlite://$WORK/load.db${OPTIONS:+?$OPTIONS}" PLEXID_BOOTSTRAP_TOKEN="$PLEXID_BENCH_TOKEN" \
  PLEXID_LISTEN="127.0.0.1:$PORT" PLEXID_LOG=warn "$BIN" serve >"$WORK/serve.log" 2>&1 &
PID=$!
until curl -sf "http://127.0.0.1:$PORT/-/health/ready/" >/dev/null; do sleep 0.05; done
export BENCH_USER=$(curl -sf -X POST "http://127.0.0.1:$PORT/api/v3/core/users/" -H "Authorization: Bearer $PLEXID_BENCH_TOKEN" \
  -H 'Content-Type: application/json' -d '{"username":"bench","name":"Bench"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["pk"])')

health() { # → "p50 p99 max" in ms
  wrk -t1 -c4 -d"$DURATION" --latency "http://127.0.0.1:$PORT/-/health/live/" >"$WORK/health.txt"
  awk 'function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
       $1=="50%" {p50=ms($2)} $1=="99%" {p99=ms($2)} $1=="Latency" && $2 != "Distribution" {max=ms($4)}
       END {printf "%.2f %.2f %.2f\n", p50, p99, max}' "$WORK/health.txt"
}
rate() { awk '/Requests\/sec/ {printf "%.0f", $2}' "$1"; }

read -r idle50 idle99 idlemax <<<"$(health)"
wrk -t1 -c8 -d"$DURATION" -s bench/create.lua "http://127.0.0.1:$PORT/api/v3/sources/plex/" >"$WORK/create.txt" 2>/dev/null &
W1=$!
wrk -t1 -c4 -d"$DURATION" -s bench/password.lua "http://127.0.0.1:$PORT/" >"$WORK/password.txt" 2>/dev/null &
W2=$!
read -r load50 load99 loadmax <<<"$(health)"
wait $W1 $W2
label="$(basename "$BIN")${OPTIONS:+ ?$OPTIONS}"
row="| $label | $idle50 / $idle99 / $idlemax | $load50 / $load99 / $loadmax | $(rate "$WORK/create.txt") | $(rate "$WORK/password.txt") |"
echo "$row" | tee -a "$OUT"
