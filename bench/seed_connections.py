"""Seeds COUNT users, each connected to a Plex source, through plexid's API from parallel
keep-alive connections, and prints how many per second it made.

    seed_connections.py PORT TOKEN SLUG COUNT
        users SLUG-user-I (admin API: POST a user, then POST its connection, Plex id 100000 + I)
    seed_connections.py PORT TOKEN SLUG1,SLUG2,… COUNT --first-id N [--workers W]
        the I-th (from 0) connected to SLUG((N + I) mod number of slugs), Plex id N + I
    seed_connections.py … --sign-in
        instead, the person with Plex id N + I signs in with fake-plex's fixed token
        scale-member-ID-token (POST redeem_token: enrolled on their first sign-in, a session
        started); the token is checked by plex.tv, the bearer TOKEN is not used
"""
import argparse
import http.client
import json
import sys
import threading
import time

parser = argparse.ArgumentParser()
parser.add_argument("port", type=int)
parser.add_argument("token")
parser.add_argument("slugs")
parser.add_argument("count", type=int)
parser.add_argument("--first-id", type=int, default=100000)
parser.add_argument("--workers", type=int, default=4)
parser.add_argument("--sign-in", action="store_true")
args = parser.parse_args()
slugs = args.slugs.split(",")
headers = {"Authorization": f"Bearer {args.token}", "Content-Type": "application/json"}
failures = []


def post(conn, path, body, expected=201, with_headers=headers):
    conn.request("POST", path, json.dumps(body), with_headers)
    response = conn.getresponse()
    data = response.read()
    if response.status != expected:
        raise RuntimeError(f"POST {path}: {response.status} {data[:200]!r}")
    return json.loads(data)


def seed(worker):
    conn = http.client.HTTPConnection("127.0.0.1", args.port)
    try:
        for i in range(worker, args.count, args.workers):
            plex_id = args.first_id + i
            slug = slugs[plex_id % len(slugs)]
            if args.sign_in:
                post(
                    conn,
                    f"/api/v3/sources/plex/redeem_token/?slug={slug}",
                    {"plex_token": f"scale-member-{plex_id}-token"},
                    200,
                    {"Content-Type": "application/json"},
                )
                continue
            username = f"{slug}-user-{i}" if len(slugs) == 1 else f"user-{plex_id}"
            user = post(conn, "/api/v3/core/users/", {"username": username, "name": f"User {plex_id}"})
            post(
                conn,
                "/api/v3/sources/user_connections/plex/",
                {"user": user["pk"], "source": slug, "identifier": str(plex_id), "plex_token": "t"},
            )
    except Exception as error:  # reported below, after the other workers stop
        failures.append(error)


started = time.monotonic()
threads = [threading.Thread(target=seed, args=(w,)) for w in range(args.workers)]
for t in threads:
    t.start()
for t in threads:
    t.join()
if failures:
    sys.exit(str(failures[0]))
print(f"{args.count / (time.monotonic() - started):.0f}")
