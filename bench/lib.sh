# Shared by the benchmark scripts: `. bench/lib.sh NAME PORT` sets DURATION, PG_URL, PORT,
# PLEX_PORT (PORT + 1; fake-plex's app page on PORT + 2), TOKEN, WORK (removed on exit with the servers) and OUT
# (bench/results/NAME.md), checks for wrk and builds the release binaries; then the helpers
# below start fake-plex and plexid on a fresh database, call the API, measure and write rows.

DURATION="${BENCH_DURATION:-10s}"
PG_URL="${PLEXID_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
PORT=$2
PLEX_PORT=$(($2 + 1))
TOKEN="bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
cargo build --release -p plexid-server -p fake-plex --quiet
WORK=$(mktemp -d)
OUT="bench/results/$1.md"
mkdir -p bench/results
PID=; PLEX_PID=; SCHEMA=
trap 'kill $PID $PLEX_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT

fresh_database() { # backend name → DB_URL, a fresh SQLite file or PostgreSQL schema
  if [ "$1" = sqlite ]; then
    DB_URL="sqlite://$WORK/$2.db"
  else
    SCHEMA="bench_$2_$$"
    PGOPTIONS="-c client_min_messages=warning" psql "$PG_URL" -qc "DROP SCHEMA IF EXISTS $SCHEMA CASCADE; CREATE SCHEMA $SCHEMA" >/dev/null
    DB_URL="$PG_URL?options=-c%20search_path%3D$SCHEMA"
  fi
}

start_servers() { # database-url fake-plex-latency-ms [VAR=value for plexid…]; FAKE_ARGS: more fake-plex arguments
  local url=$1
  start_fake_plex "$2"
  shift 2
  DB=$url start_plexid "$@"
}

start_fake_plex() { # latency-ms: fake-plex alone (its log in $WORK/plex.log); FAKE_ARGS: more arguments
  # shellcheck disable=SC2086
  target/release/fake-plex --listen "127.0.0.1:$PLEX_PORT" --app-listen "127.0.0.1:$((PLEX_PORT + 1))" \
    --latency-ms "$1" ${FAKE_ARGS:-} >"$WORK/plex.log" 2>&1 &
  PLEX_PID=$!
  until curl -s "http://127.0.0.1:$((PLEX_PORT + 1))/auth" >/dev/null; do sleep 0.05; done
}

start_plexid() { # [VAR=value for plexid…]: plexid alone, on $DB, pointed at the running fake-plex
  env PLEXID_DATABASE="$DB" PLEXID_BOOTSTRAP_TOKEN="$TOKEN" PLEXID_LISTEN="127.0.0.1:$PORT" PLEXID_LOG=warn \
    PLEXID_PLEX_API_URL="http://127.0.0.1:$PLEX_PORT" PLEXID_PLEX_APP_URL="http://127.0.0.1:$((PLEX_PORT + 1))" PLEXID_JOBS=false \
    "$@" target/release/plexid serve >>"$WORK/serve.log" 2>&1 &
  PID=$!
  until curl -sf "http://127.0.0.1:$PORT/-/health/ready/" >/dev/null; do
    kill -0 "$PID" 2>/dev/null || { echo "plexid stopped:" >&2; tail -5 "$WORK/serve.log" >&2; exit 1; }
    sleep 0.05
  done
}

stop_servers() { # stops both and drops the PostgreSQL schema, if one was made
  kill -TERM "$PID" "$PLEX_PID"; wait "$PID" "$PLEX_PID" 2>/dev/null || true
  if [ -n "$SCHEMA" ]; then
    PGOPTIONS="-c client_min_messages=warning" psql "$PG_URL" -qc "DROP SCHEMA $SCHEMA CASCADE" >/dev/null
    SCHEMA=
  fi
}

demo_source() { # the demo owner's source `plex` for the demo server, with both default flows
  api POST /api/v3/sources/plex/ "{\"name\":\"Plex\",\"slug\":\"plex\",\"plex_token\":\"demo-owner-token\",\"allowed_servers\":[\"demo-server\"],\"authentication_flow\":\"$(flow_pk default-source-authentication)\",\"enrollment_flow\":\"$(flow_pk default-source-enrollment)\"}" >/dev/null
}

api() { # method path [body]
  curl -sf -X "$1" "http://127.0.0.1:$PORT$2" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' ${3:+-d "$3"}
}

measure() { # connections path [lua script under bench/] [more wrk arguments…]
  # BENCH_PERF=DIR: a `perf record -g` profile of plexid during each run, DIR/N.data, N
  # numbering the runs in DIR/runs.txt.
  local threads=2 connections=$1 path=$2 script=${3:-} perf= n
  shift 2; [ $# -gt 0 ] && shift
  [ "$connections" = 1 ] && threads=1
  if [ -n "${BENCH_PERF:-}" ]; then
    mkdir -p "$BENCH_PERF"
    n=$(($(cat "$BENCH_PERF/runs.txt" 2>/dev/null | wc -l) + 1))
    echo "$n: $path" >>"$BENCH_PERF/runs.txt"
    perf record -q -F 499 -g -p "$PID" -o "$BENCH_PERF/$n.data" >/dev/null 2>&1 &
    perf=$!
  fi
  # BENCH_PEAKS=FILE: plexid's peak resident memory during each run, a line per run in FILE.
  [ -z "${BENCH_PEAKS:-}" ] || echo 5 >"/proc/$PID/clear_refs"
  wrk -t"$threads" -c"$connections" -d"$DURATION" --latency ${script:+-s "bench/$script"} "$@" "http://127.0.0.1:$PORT$path" >"$WORK/wrk.txt" 2>&1
  [ -z "${BENCH_PEAKS:-}" ] || echo "$path: $(awk '$1=="VmHWM:" {printf "%d MiB", $2 / 1024}' "/proc/$PID/status")" >>"$BENCH_PEAKS"
  [ -z "$perf" ] || { kill -INT "$perf"; wait "$perf" 2>/dev/null || true; }
  awk '
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
    /Requests\/sec/ {rps=$2} /Non-2xx/ {bad=$NF}
    $1=="50%" {p50=ms($2)} $1=="90%" {p90=ms($2)} $1=="99%" {p99=ms($2)}
    END {printf "%.0f %.2f %.2f %.2f %d\n", rps, p50, p90, p99, bad}' "$WORK/wrk.txt"
}

row() { # label figures baseline
  read -r rps p50 p90 p99 bad <<<"$2"
  [ "$bad" = 0 ] || { echo "$1: $bad answers were not 2xx" >&2; exit 1; }
  printf '| %s | %s | %s | %s | %s | %.3f |\n' "$1" "$rps" "$p50" "$p90" "$p99" "$(echo "$rps / $3" | bc -l)"
}

flow_pk() { # slug
  api GET "/api/v3/flows/instances/$1/" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pk"])'
}

location() { # headers file → the Location header
  tr -d '\r' <"$1" | awk 'tolower($1)=="location:" {print $2}'
}

cookie() { # headers file, name → the cookie's value
  tr -d '\r' <"$1" | awk -v n="$2" 'tolower($1)=="set-cookie:" {v=$2; sub(/;.*/, "", v); i=index(v, "="); if (substr(v, 1, i-1)==n) print substr(v, i+1)}'
}

forward_auth_session() { # cookie-jar-of-a-signed-in-person host provider-pk → the app's session cookie value
  # The round trip nginx sends a browser through once: start, authorize (signed in), callback.
  local jar=$1 host=$2 provider=$3 state
  curl -s -o /dev/null -D "$WORK/start.h" -H "Host: $host" "http://127.0.0.1:$PORT/outpost.goauthentik.io/start?rd=%2F"
  state=$(cookie "$WORK/start.h" "authentik_proxy_${provider}_state")
  curl -s -o /dev/null -D "$WORK/authorize.h" -b "$jar" "$(location "$WORK/start.h")"
  local callback
  callback=$(location "$WORK/authorize.h")
  curl -s -o /dev/null -D "$WORK/callback.h" -H "Host: $host" -H "Cookie: authentik_proxy_${provider}_state=$state" \
    "http://127.0.0.1:$PORT${callback#http://"$host"}"
  local session
  session=$(cookie "$WORK/callback.h" "authentik_proxy_$provider")
  [ -n "$session" ] || { echo "no forward-auth session" >&2; cat "$WORK"/*.h >&2; exit 1; }
  echo "$session"
}
