#!/usr/bin/env bash
# Benchmarks the OAuth2 token endpoint (`POST /application/o/token/`) on SQLite and PostgreSQL:
# authorization-code exchanges and refresh_token grants per second (wrk, 32 connections), with
# the health endpoint as the baseline of the same run. A confidential OpenID Connect client
# (scope `openid profile email`: every answer carries an RS256-signed ID token) admits everyone;
# the demo member signs in once; wrk then asks the authorization endpoint for codes for three
# times the run's duration (bench/token.lua keeps them), exchanges each once (keeping the refresh
# tokens) and uses each refresh token once. Writes bench/results/token.md.
# Needs: wrk, a release build (built here), PostgreSQL at PLEXID_BENCH_POSTGRES_URL.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh token 9261
REDIRECT="https%3A%2F%2Frp.bench%2Fcb"

{
  echo "Run $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, wrk -d$DURATION, loopback, release build; load average $(cut -d' ' -f1-3 /proc/loadavg)."
  echo
  echo "| backend / request | req/s | p50 ms | p90 ms | p99 ms | ratio to health baseline |"
  echo "|---|---|---|---|---|---|"
} >"$OUT"

for backend in sqlite postgres; do
  fresh_database "$backend" token
  start_servers "$DB_URL" 0 PLEXID_LOGIN_RATE_LIMIT=0 PLEXID_LOGIN_SOURCE_RATE_LIMIT=0
  demo_source
  provider=$(api POST /api/v3/providers/oauth2/ "{\"name\":\"RP\",\"authorization_flow\":\"$(flow_pk default-provider-authorization-implicit-consent)\",\"redirect_uris\":\"https://rp.bench/cb\",\"client_type\":\"confidential\"}")
  client_id=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])' <<<"$provider")
  client_secret=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])' <<<"$provider")
  pk=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["pk"])' <<<"$provider")
  api POST /api/v3/core/applications/ "{\"name\":\"RP\",\"slug\":\"rp\",\"provider\":$pk}" >/dev/null
  curl -sf -o /dev/null -c "$WORK/jar" -X POST "http://127.0.0.1:$PORT/api/v3/sources/plex/redeem_token/?slug=plex" -H 'Content-Type: application/json' -d '{"plex_token":"demo-member-token"}'
  cookies=$(awk '!/^#/ || /^#HttpOnly_/ {if (NF >= 7) printf "%s=%s; ", $6, $7}' "$WORK/jar")
  rm -f "$WORK"/codes.* "$WORK"/refresh.*
  export TOKEN_DIR="$WORK" TOKEN_REDIRECT="$REDIRECT" TOKEN_CLIENT="$client_id:$client_secret"
  TOKEN_MODE=codes wrk -t2 -c8 -d"$(( ${DURATION%s} * 3 ))s" -s bench/token.lua -H "Cookie: $cookies" \
    "http://127.0.0.1:$PORT/application/o/authorize/?client_id=$client_id&response_type=code&redirect_uri=$REDIRECT&scope=openid%20profile%20email&state=s" >/dev/null
  codes=$(cat "$WORK"/codes.* | wc -l)
  # The first JWKS request makes the RSA signing key: once, outside the runs.
  curl -sf -o /dev/null "http://127.0.0.1:$PORT/application/o/rp/jwks/"
  base=$(measure 32 "/-/health/live/")
  read -r base_rps _ <<<"$base"
  exchange=$(TOKEN_MODE=exchange measure 32 /application/o/token/ token.lua)
  exchanged=$(grep -o 'token answers: .*' "$WORK/wrk.txt")
  refresh=$(TOKEN_MODE=refresh measure 32 /application/o/token/ token.lua)
  refreshed=$(grep -o 'token answers: .*' "$WORK/wrk.txt")
  {
    row "$backend: GET /-/health/live/ (baseline)" "$base" "$base_rps"
    row "$backend: token endpoint, authorization_code (code exchange, ID token signed)" "$exchange" "$base_rps"
    row "$backend: token endpoint, refresh_token (rotation, ID token signed)" "$refresh" "$base_rps"
  } >>"$OUT"
  echo "$backend: $codes codes made; exchange run: $exchanged; refresh run: $refreshed (health instead > 0: the run ran out and its rate is too high)" >>"$WORK/notes"
  stop_servers
done
{ echo; cat "$WORK/notes"; } >>"$OUT"
cat "$OUT"
