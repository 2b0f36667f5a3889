#!/usr/bin/env python3
"""An OpenID Connect relying party built with Authlib, against plexid's provider.

    DIR/bin/python compat/oidc_rp.py --url URL --slug APP --client-id ID --client-secret SECRET \
        --redirect-uri URI --plex-token TOKEN --source SLUG
    DIR/bin/python compat/oidc_rp.py --url URL --slug APP --client-id ID --client-secret SECRET \
        --refresh REFRESH_TOKEN --expect-refused

The first form signs the Plex account in to plexid (`redeem_token`, as the login page does),
then runs the authorization code flow with PKCE (S256) through Authlib's OAuth2Session, reading
the endpoints from the discovery document; validates the ID token with Authlib's JOSE against
the JWKS (signature, issuer, audience, nonce, expiry); calls userinfo; refreshes once; and prints
the newest refresh token as the last line ("refresh_token=…"). The second form refreshes and
expects the provider to refuse (the user lost access). Exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import secrets
import sys

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt
from authlib.oauth2.rfc7636 import create_s256_code_challenge


def fail(message: str) -> None:
    print(f"FAIL: {message}", flush=True)
    sys.exit(1)


def discover(url: str, slug: str) -> dict:
    response = requests.get(f"{url}/application/o/{slug}/.well-known/openid-configuration", timeout=10)
    if response.status_code != 200:
        fail(f"discovery answered {response.status_code}")
    return response.json()


def sign_in(url: str, source: str, plex_token: str) -> requests.Session:
    browser = requests.Session()
    response = browser.post(f"{url}/api/v3/sources/plex/redeem_token/?slug={source}",
                            json={"plex_token": plex_token}, timeout=10)
    if response.status_code != 200:
        fail(f"redeem_token answered {response.status_code}: {response.text}")
    return browser


def code_flow(args: argparse.Namespace, config: dict) -> None:
    browser = sign_in(args.url, args.source, args.plex_token)
    client = OAuth2Session(args.client_id, args.client_secret, scope="openid profile email",
                           redirect_uri=args.redirect_uri, code_challenge_method="S256",
                           token_endpoint_auth_method="client_secret_basic")
    verifier = secrets.token_urlsafe(48)
    nonce = secrets.token_urlsafe(16)
    authorize_url, state = client.create_authorization_url(
        config["authorization_endpoint"], code_verifier=verifier, nonce=nonce)
    if create_s256_code_challenge(verifier) not in authorize_url:
        fail("Authlib did not send the S256 challenge")
    response = browser.get(authorize_url, allow_redirects=False, timeout=10)
    location = response.headers.get("location", "")
    if not location.startswith(args.redirect_uri):
        fail(f"authorize answered {response.status_code} to {location!r}")
    token = client.fetch_token(config["token_endpoint"], authorization_response=location,
                               code_verifier=verifier, state=state)
    print("code exchanged with PKCE", flush=True)

    jwks = JsonWebKey.import_key_set(requests.get(config["jwks_uri"], timeout=10).json())
    claims = jwt.decode(token["id_token"], jwks, claims_options={
        "iss": {"essential": True, "value": config["issuer"]},
        "aud": {"essential": True, "value": args.client_id},
        "nonce": {"essential": True, "value": nonce},
    })
    claims.validate()
    print(f"ID token valid: sub={claims['sub']} preferred_username={claims.get('preferred_username')} "
          f"plex_relationship={claims.get('plex_relationship')}", flush=True)

    info = client.get(config["userinfo_endpoint"], timeout=10)
    if info.status_code != 200 or info.json().get("sub") != claims["sub"]:
        fail(f"userinfo answered {info.status_code}: {info.text}")
    print("userinfo matches the ID token", flush=True)

    refreshed = client.refresh_token(config["token_endpoint"], refresh_token=token["refresh_token"])
    if refreshed.get("refresh_token") in (None, token["refresh_token"]):
        fail("the refresh token was not rotated")
    print("refreshed, with a new refresh token", flush=True)
    print(f"refresh_token={refreshed['refresh_token']}", flush=True)


def refresh_refused(args: argparse.Namespace, config: dict) -> None:
    client = OAuth2Session(args.client_id, args.client_secret, token_endpoint_auth_method="client_secret_post")
    try:
        client.refresh_token(config["token_endpoint"], refresh_token=args.refresh)
    except Exception as error:  # Authlib raises OAuthError for the provider's invalid_grant
        if "invalid_grant" not in str(error):
            fail(f"refused, but not with invalid_grant: {error}")
        print("refresh refused: invalid_grant", flush=True)
        return
    fail("the refresh was accepted")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("--url", "--slug", "--client-id", "--client-secret"):
        parser.add_argument(name, required=True)
    parser.add_argument("--redirect-uri")
    parser.add_argument("--plex-token")
    parser.add_argument("--source")
    parser.add_argument("--refresh")
    parser.add_argument("--expect-refused", action="store_true")
    args = parser.parse_args()
    config = discover(args.url, args.slug)
    if args.refresh:
        refresh_refused(args, config)
    else:
        code_flow(args, config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
