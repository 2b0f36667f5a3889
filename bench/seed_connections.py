"""Seeds N users, each connected to the Plex source SLUG, through plexid's API (keep-alive)."""
import http.client
import json
import sys

port, token, slug, count = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
conn = http.client.HTTPConnection("127.0.0.1", port)
headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def post(path, body):
    conn.request("POST", path, json.dumps(body), headers)
    response = conn.getresponse()
    data = response.read()
    if response.status != 201:
        sys.exit(f"POST {path}: {response.status} {data[:200]!r}")
    return json.loads(data)


for i in range(count):
    user = post("/api/v3/core/users/", {"username": f"{slug}-user-{i}", "name": f"User {i}"})
    post(
        "/api/v3/sources/user_connections/plex/",
        {"user": user["pk"], "source": slug, "identifier": str(100000 + i), "plex_token": "t"},
    )
