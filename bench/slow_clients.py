#!/usr/bin/env python3
"""Opens N connections to plexid that send half a request and never finish it, then measures
how long plexid takes to close them all and its resident memory meanwhile.

    bench/slow_clients.py PORT PID [N]
"""
import resource
import socket
import sys
import time


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    port, pid = int(sys.argv[1]), int(sys.argv[2])
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 1000), hard))
    before = rss_mib(pid)
    sockets = []
    started = time.monotonic()
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET /-/health/live/ HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        s.setblocking(False)
        sockets.append(s)
    peak = rss_mib(pid)
    open_ = set(range(count))
    while open_ and time.monotonic() - started < 60:
        for i in list(open_):
            try:
                data = sockets[i].recv(4096)
                if data == b"" or data:
                    open_.discard(i)
            except BlockingIOError:
                pass
            except OSError:
                open_.discard(i)
        peak = max(peak, rss_mib(pid))
        time.sleep(0.2)
    took = time.monotonic() - started
    print(f"{count} half-sent requests: all closed after {took:.1f} s (still open: {len(open_)}); "
          f"plexid resident memory {before:.0f} MiB before, {peak:.0f} MiB at most")


if __name__ == "__main__":
    main()
