# Shared by the benchmark scripts (sourced): the API with the bench token, one wrk measurement,
# one table row. Expects PORT, TOKEN and WORK to be set.

api() { # method path [body]
  curl -sf -X "$1" "http://127.0.0.1:$PORT$2" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' ${3:+-d "$3"}
}

measure() { # connections path [lua script under bench/] [more wrk arguments…]
  local threads=2 connections=$1 path=$2 script=${3:-}
  shift 2; [ $# -gt 0 ] && shift
  [ "$connections" = 1 ] && threads=1
  wrk -t"$threads" -c"$connections" -d"$DURATION" --latency ${script:+-s "bench/$script"} "$@" "http://127.0.0.1:$PORT$path" >"$WORK/wrk.txt" 2>&1
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
