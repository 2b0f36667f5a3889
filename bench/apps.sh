#!/usr/bin/env bash
# Benchmarks what other apps cost plexid: the forward-auth check nginx makes on every request to
# a protected app (a signed-in member, an application admitting server members), on SQLite and
# PostgreSQL, with the health endpoint as the baseline of the same run; and the OpenID Connect
# JWKS document apps fetch. Writes bench/results/apps.md.
# Needs: wrk, a release build (built here), PostgreSQL at PLEXID_BENCH_POSTGRES_URL.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh apps 9251

{
  echo "Run $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, wrk -d$DURATION, 32 connections, loopback, release build."
  echo
  echo "| backend / request | req/s | p50 ms | p90 ms | p99 ms | ratio to health baseline |"
  echo "|---|---|---|---|---|---|"
} >"$OUT"

for backend in sqlite postgres; do
  fresh_database "$backend" apps
  start_servers "$DB_URL" 0 PLEXID_PUBLIC_URL="http://127.0.0.1:$PORT"
  demo_source
  provider=$(api POST /api/v3/providers/proxy/ "{\"name\":\"App\",\"authorization_flow\":\"$(flow_pk default-provider-authorization-implicit-consent)\",\"external_host\":\"http://app.bench\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pk"])')
  api POST /api/v3/core/applications/ "{\"name\":\"App\",\"slug\":\"app\",\"provider\":$provider,\"access_relationships\":[\"server_member\"]}" >/dev/null
  oidc=$(api POST /api/v3/providers/oauth2/ "{\"name\":\"OIDC\",\"authorization_flow\":\"$(flow_pk default-provider-authorization-implicit-consent)\",\"redirect_uris\":\"https://rp.bench/cb\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pk"])')
  api POST /api/v3/core/applications/ "{\"name\":\"RP\",\"slug\":\"rp\",\"provider\":$oidc}" >/dev/null

  # The member signs in to plexid, then goes through the forward-auth round trip once.
  curl -sf -o /dev/null -c "$WORK/jar" -X POST "http://127.0.0.1:$PORT/api/v3/sources/plex/redeem_token/?slug=plex" -H 'Content-Type: application/json' -d '{"plex_token":"demo-member-token"}'
  session=$(forward_auth_session "$WORK/jar" app.bench "$provider")
  curl -sf -o /dev/null -H "Cookie: authentik_proxy_$provider=$session" -H 'X-Original-URL: http://app.bench/' \
    "http://127.0.0.1:$PORT/outpost.goauthentik.io/auth/nginx"

  # The first JWKS request makes the signing key (RSA 2048): timed once, outside the runs.
  first_key=$( { /usr/bin/time -f %e curl -sf -o /dev/null "http://127.0.0.1:$PORT/application/o/rp/jwks/"; } 2>&1 )
  base=$(measure 32 "/-/health/live/")
  read -r base_rps _ <<<"$base"
  {
    row "$backend: GET /-/health/live/ (baseline)" "$base" "$base_rps"
    row "$backend: forward-auth check (auth/nginx), signed in, rule: server members" \
      "$(measure 32 /outpost.goauthentik.io/auth/nginx "" -H "Cookie: authentik_proxy_$provider=$session" -H 'X-Original-URL: http://app.bench/page')" "$base_rps"
    row "$backend: GET /application/o/rp/jwks/" "$(measure 32 /application/o/rp/jwks/)" "$base_rps"
  } >>"$OUT"
  echo "$backend: first JWKS request, generating the RSA signing key: ${first_key} s" >>"$WORK/notes"
  stop_servers
done
{ echo; cat "$WORK/notes"; } >>"$OUT"
cat "$OUT"
