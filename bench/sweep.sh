#!/usr/bin/env bash
# Benchmarks the access sweep from the owner's side: a source with 10,000 connections
# (BENCH_CONNECTION_COUNT), 99% of them people the demo server is shared with, against the
# fake-plex binary answering every plex.tv call after 100 ms, on SQLite and PostgreSQL. plexid is
# seeded with the jobs off, then restarted with them on; its first sweep revokes the 1% the owner
# does not share with, a second one (a restart later) changes nothing. Reports the sweep's time
# (plexid's "access sweep finished" log line) and the plex.tv calls it made (fake-plex's call
# log), with the health endpoint as the baseline of the same run. Writes bench/results/sweep.md.
# Needs: a release build (built here), PostgreSQL at PLEXID_BENCH_POSTGRES_URL.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh sweep 9261
COUNT="${BENCH_CONNECTION_COUNT:-10000}"
SHARED=$((COUNT * 99 / 100))

{
  echo "Run $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, loopback, release build; fake-plex (+100 ms per call) on the same machine."
  echo
  echo "| backend | sweep | connections | revoked | plex.tv calls (by path) | person calls | sweep ms | health baseline req/s |"
  echo "|---|---|---|---|---|---|---|---|"
} >"$OUT"

sweep_once() { # backend label: restart plexid with the jobs on, wait for its sweep, write a row
  local before
  before=$(wc -l <"$WORK/plex.log")
  : >"$WORK/serve.log"
  # The interval is short so a restart finds the last sweep's lease run out.
  start_plexid PLEXID_JOBS=true PLEXID_ACCESS_CHECK_INTERVAL=1 PLEXID_LOG="warn,plexid_server::jobs::access=info"
  until grep -q "access sweep finished" "$WORK/serve.log"; do sleep 0.2; done
  local line calls base
  line=$(grep "access sweep finished" "$WORK/serve.log" | tail -1)
  # The calls from plexid's start to the end of its first sweep (its token check's one
  # /api/v2/user included); later sweeps (every second here) are not counted.
  calls=$(head -n "$(wc -l <"$WORK/plex.log")" "$WORK/plex.log" | tail -n +"$((before + 1))" | grep '^call ' | awk '{print $3}' | sort | uniq -c | awk '{printf "%s%s %s", sep, $1, $2; sep=", "}')
  base=$(measure 32 "/-/health/live/")
  kill -TERM "$PID"; wait "$PID" 2>/dev/null || true
  field() { sed -n "s/.*$1=\([0-9]*\).*/\1/p" <<<"$line"; }
  printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$2" "$(field checked)" "$(field revoked)" "$calls" \
    "$(field person_calls)" "$(field elapsed_ms)" "$(awk '{print $1}' <<<"$base")"
}

for backend in sqlite postgres; do
  fresh_database "$backend" sweep
  FAKE_ARGS="--members $SHARED --log-calls" start_servers "$DB_URL" 100
  demo_source
  python3 bench/seed_connections.py "$PORT" "$TOKEN" plex "$COUNT"
  kill -TERM "$PID"; wait "$PID" 2>/dev/null || true
  DB=$DB_URL
  sweep_once "$backend" "first (revokes $((COUNT - SHARED)))" >>"$OUT"
  sweep_once "$backend" "second (no change)" >>"$OUT"
  start_plexid
  stop_servers
done
cat "$OUT"
