#!/usr/bin/env bash
# Mapping expressions under hard limits: how long the runaway expressions of issue 7 take to be
# stopped, plexid's peak memory meanwhile (ten at once), and the cost of a normal evaluation in
# a worker process.   bench/mappings.sh [BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${1:-target/release/plexid}"
PORT=9271
TOKEN="bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
[ -x "$BIN" ] || cargo build --release -p plexid-server --quiet
WORK=$(mktemp -d)
PID=
trap 'kill $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
PLEXID_DATABASE="sqlite://$WORK/m.db" PLEXID_BOOTSTRAP_TOKEN="$TOKEN" PLEXID_LISTEN="127.0.0.1:$PORT" PLEXID_LOG=warn \
  "$BIN" serve >"$WORK/serve.log" 2>&1 &
PID=$!
until curl -sf "http://127.0.0.1:$PORT/-/health/ready/" >/dev/null; do sleep 0.05; done
mapping() { # name expression → test URL
  local pk
  pk=$(curl -sf -X POST "http://127.0.0.1:$PORT/api/v3/propertymappings/source/plex/" -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' -d "{\"name\":\"$1\",\"expression\":$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$2")}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["pk"])')
  echo "http://127.0.0.1:$PORT/api/v3/propertymappings/all/$pk/test/"
}
run() { curl -s -o "$WORK/out.json" -w '%{time_total}' -X POST "$1" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{}'; }
lists=$(mapping lists 'return [[0]*10000000 for i in range(100)]')
strings=$(mapping strings 'return ("a"*1000000)*2000')
fine=$(mapping fine 'return {"username": "x"}')
echo "| expression | seconds | answer |"
echo "|---|---|---|"
for name in lists strings; do
  url=${!name}
  t=$(run "$url")
  echo "| $name | $t | $(python3 -c 'import json; print(json.load(open("'"$WORK/out.json"'"))["result"])') |"
done
run "$fine" >/dev/null
total=0
for _ in $(seq 1 50); do total=$(echo "$total + $(run "$fine")" | bc -l); done
echo "| a normal expression, mean of 50 | $(echo "$total / 50" | bc -l | cut -c1-6) | successful |"
started=$(date +%s.%N)
pids=()
for i in $(seq 1 10); do
  if [ $((i % 2)) = 0 ]; then run "$lists" >/dev/null & else run "$strings" >/dev/null & fi
  pids+=($!)
done
wait "${pids[@]}"
echo "| ten runaways at once (two workers) | $(echo "$(date +%s.%N) - $started" | bc -l | cut -c1-5) | peak resident memory of plexid $(awk '/VmHWM/ {printf "%d MiB", $2/1024}' /proc/$PID/status) |"
