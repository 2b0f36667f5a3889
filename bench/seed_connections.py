"""Seeds N users, each connected to the Plex source SLUG, through plexid's API (four keep-alive
connections at once)."""
import http.client
import json
import sys
import threading

port, token, slug, count = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
WORKERS = 4
failures = []


def post(conn, path, body):
    conn.request("POST", path, json.dumps(body), headers)
    response = conn.getresponse()
    data = response.read()
    if response.status != 201:
        raise RuntimeError(f"POST {path}: {response.status} {data[:200]!r}")
    return json.loads(data)


def seed(worker):
    conn = http.client.HTTPConnection("127.0.0.1", port)
    try:
        for i in range(worker, count, WORKERS):
            user = post(conn, "/api/v3/core/users/", {"username": f"{slug}-user-{i}", "name": f"User {i}"})
            post(
                conn,
                "/api/v3/sources/user_connections/plex/",
                {"user": user["pk"], "source": slug, "identifier": str(100000 + i), "plex_token": "t"},
            )
    except Exception as error:  # reported below, after the other workers stop
        failures.append(error)


threads = [threading.Thread(target=seed, args=(w,)) for w in range(WORKERS)]
for t in threads:
    t.start()
for t in threads:
    t.join()
if failures:
    sys.exit(str(failures[0]))
