#!/usr/bin/env bash
# Benchmarks plexid on loopback with wrk and writes the figures to bench/results/latest.md
# (copy them into bench/README.md when they change).
#   bench/run.sh            # SQLite and PostgreSQL, each with and without the read cache
#   BENCH_BACKENDS="sqlite postgres" bench/run.sh   # some of them
# Needs: wrk (apt-get install wrk), a release build (built here), PostgreSQL at
# PLEXID_BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test) for the PG rows.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${BENCH_DURATION:-10s}"
CONNECTIONS="${BENCH_CONNECTIONS:-32}"
CONNECTION_COUNT="${BENCH_CONNECTION_COUNT:-10000}"
PG_URL="${PLEXID_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
PORT=9231
export PLEXID_BENCH_TOKEN="bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
cargo build --release -p plexid-server --quiet
BIN=target/release/plexid
WORK=$(mktemp -d)
OUT=bench/results/latest.md
mkdir -p bench/results
trap 'kill $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT

start() { # $1 = database URL
  local t0 t1
  t0=$(date +%s%N)
  PLEXID_DATABASE="$1" PLEXID_BOOTSTRAP_TOKEN="$PLEXID_BENCH_TOKEN" PLEXID_LISTEN="127.0.0.1:$PORT" \
    PLEXID_LOG=warn "$BIN" serve >"$WORK/serve.log" 2>&1 &
  PID=$!
  until curl -sf "http://127.0.0.1:$PORT/-/health/ready/" >/dev/null; do sleep 0.005; done
  t1=$(date +%s%N)
  STARTUP_MS=$(( (t1 - t0) / 1000000 ))
}
stop() { kill -TERM "$PID"; wait "$PID" || true; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$PID/status"; }
hwm_kib() { awk '/VmHWM/ {print $2}' "/proc/$PID/status"; }

seed() { # 20 sources
  for i in $(seq -w 1 20); do
    curl -sf -o /dev/null -X POST "http://127.0.0.1:$PORT/api/v3/sources/plex/" \
      -H "Authorization: Bearer $PLEXID_BENCH_TOKEN" -H 'Content-Type: application/json' \
      -d "{\"name\":\"Seed $i\",\"slug\":\"seed-$i\",\"plex_token\":\"t\",\"allowed_servers\":[\"a\",\"b\"]}"
  done
}

# wrk → "rps p50 p90 p99" (latencies in ms)
measure() { # $1 = lua script, $2 = path
  local threads=2
  [ "$CONNECTIONS" = 1 ] && threads=1
  wrk -t"$threads" -c"$CONNECTIONS" -d"$DURATION" --latency -s "bench/$1" "http://127.0.0.1:$PORT$2" >"$WORK/wrk.txt" 2>"$WORK/wrk.err"
  if [ -s "$WORK/wrk.err" ]; then echo "wrk reported errors:" >&2; head -5 "$WORK/wrk.err" >&2; fi
  awk '
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
    /Requests\/sec/ {rps=$2}
    $1=="50%" {p50=ms($2)} $1=="90%" {p90=ms($2)} $1=="99%" {p99=ms($2)}
    END {printf "%.0f %.2f %.2f %.2f\n", rps, p50, p90, p99}' "$WORK/wrk.txt"
}

row() { # label, figures, baseline rps
  read -r rps p50 p90 p99 <<<"$2"
  printf '| %s | %s | %s | %s | %s | %.2f |\n' "$1" "$rps" "$p50" "$p90" "$p99" "$(echo "$rps / $3" | bc -l)"
}

{
  echo "Run $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, wrk -t2 -c$CONNECTIONS -d$DURATION, loopback, release build."
  echo
  echo "| backend / request | req/s | p50 ms | p90 ms | p99 ms | ratio to health baseline |"
  echo "|---|---|---|---|---|---|"
} >"$OUT"

for backend in ${BENCH_BACKENDS:-sqlite sqlite-uncached postgres postgres-uncached}; do
  if [ "$backend" = sqlite ]; then
    url="sqlite://$WORK/bench.db"
  elif [ "$backend" = sqlite-uncached ]; then
    url="sqlite://$WORK/bench-uncached.db?read_cache=off"
  else
    schema="bench_$$"
    PGOPTIONS="-c client_min_messages=warning" psql "$PG_URL" -qc "DROP SCHEMA IF EXISTS $schema CASCADE; CREATE SCHEMA $schema" >/dev/null
    url="$PG_URL?options=-c%20search_path%3D$schema"
    [ "$backend" = postgres-uncached ] && url="$url&read_cache=off"
  fi
  start "$url"
  startup=$STARTUP_MS
  seed
  idle=$(rss_kib)
  base=$(measure get.lua "/-/health/live/")
  read -r base_rps _ <<<"$base"
  list=$(measure get.lua "/api/v3/sources/plex/?page_size=20")
  create=$(measure create.lua "/api/v3/sources/plex/")
  curl -sf -o /dev/null -X POST "http://127.0.0.1:$PORT/api/v3/sources/plex/" -H "Authorization: Bearer $PLEXID_BENCH_TOKEN" \
    -H 'Content-Type: application/json' -d '{"name":"Connected","slug":"connected","plex_token":"t"}'
  python3 bench/seed_connections.py "$PORT" "$PLEXID_BENCH_TOKEN" connected "$CONNECTION_COUNT"
  # PostgreSQL plans by its statistics, which autovacuum refreshes within a minute of a bulk
  # load (autovacuum_naptime); take them now rather than measure the minute after the load.
  [[ "$backend" = postgres* ]] && PGOPTIONS="-c search_path=$schema" psql "$PG_URL" -qc ANALYZE
  conn_path="/api/v3/sources/user_connections/plex/?source__slug=connected&page_size=100"
  conn_single=$(CONNECTIONS=1 measure get.lua "$conn_path")
  conn_load=$(measure get.lua "$conn_path")
  after_create=$(curl -sf "http://127.0.0.1:$PORT/api/v3/sources/plex/?page_size=1" -H "Authorization: Bearer $PLEXID_BENCH_TOKEN" | sed -E 's/.*"count":([0-9]+).*/\1/')
  peak=$(hwm_kib)
  {
    row "$backend: GET /-/health/live/ (baseline)" "$base" "$base_rps"
    row "$backend: GET /api/v3/sources/plex/?page_size=20 (20 sources)" "$list" "$base_rps"
    row "$backend: POST /api/v3/sources/plex/ (table grows to $after_create)" "$create" "$base_rps"
    row "$backend: GET user connections ?source__slug (of $CONNECTION_COUNT), page of 100, 1 connection" "$conn_single" "$base_rps"
    row "$backend: same, $CONNECTIONS connections" "$conn_load" "$base_rps"
    echo "| $backend: start-up to ready (empty database) | ${startup} ms | | | | |"
    echo "| $backend: resident memory idle / peak | $((idle / 1024)) MiB / $((peak / 1024)) MiB | | | | |"
  } >>"$OUT"
  stop
  [[ "$backend" = postgres* ]] && PGOPTIONS="-c client_min_messages=warning" psql "$PG_URL" -qc "DROP SCHEMA $schema CASCADE" >/dev/null
done
cat "$OUT"
