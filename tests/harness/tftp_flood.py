"""A flood of TFTP read requests that are never acknowledged (tests and bench/bench_tftp.py).

Run it inside a test namespace: it opens one socket per request, spread over ``--sources``
(addresses of that namespace), sends one RRQ from each at ``--rate`` per second — every
other one asking for the largest block, the longest time-out and the size, as an attacker
would — and never reads or answers. After ``--hold`` seconds it counts what came back to
each socket and prints one JSON line: requests, replies, the most replies any one request
got, the largest reply. It sends only to loopback or the test networks
(``tftp_client.check_target``)::

    python -m tests.harness.tftp_flood --target 10.231.5.1 --sources 10.231.5.50,… \\
        --requests 10000 --rate 2000 --name undionly.kpxe
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import socket
import sys
import time

from tests.harness.tftp_client import check_target, rrq

GREEDY = {"blksize": "65464", "timeout": "255", "tsize": "0"}


def open_sockets(sources: list[str], count: int) -> list[socket.socket]:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and count + 100 > hard:
        sys.exit(f"tftp_flood: at most {hard - 100} requests (one socket each) here")
    resource.setrlimit(resource.RLIMIT_NOFILE, (count + 100, hard))
    socks = []
    for i in range(count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((sources[i % len(sources)], 0))
        sock.setblocking(False)
        socks.append(sock)
    return socks


def flood(socks: list[socket.socket], target: tuple[str, int], name: str, rate: float) -> float:
    """Send one request per socket at ``rate`` per second; returns the seconds it took."""
    plain, greedy = rrq(name), rrq(name, GREEDY)
    started = time.monotonic()
    for i, sock in enumerate(socks):
        due = started + i / rate
        if (wait := due - time.monotonic()) > 0:
            time.sleep(wait)
        with contextlib.suppress(BlockingIOError):
            sock.sendto(greedy if i % 2 else plain, target)
    return time.monotonic() - started


def count_replies(socks: list[socket.socket]) -> dict[str, int]:
    replies, size, most, largest = 0, 0, 0, 0
    for sock in socks:
        got = 0
        while True:
            try:
                packet = sock.recv(70000)
            except (BlockingIOError, ConnectionRefusedError):
                break
            got += 1
            size += len(packet)
            largest = max(largest, len(packet))
        replies += got
        most = max(most, got)
    return {
        "replies": replies,
        "reply_bytes": size,
        "max_replies_per_request": most,
        "max_reply_size": largest,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True)
    parser.add_argument("--port", type=int, default=69)
    parser.add_argument("--sources", required=True, help="comma-separated local addresses")
    parser.add_argument("--requests", type=int, default=10000)
    parser.add_argument("--rate", type=float, default=2000.0)
    parser.add_argument("--name", default="undionly.kpxe")
    parser.add_argument("--hold", type=float, default=2.0)
    args = parser.parse_args(argv)
    target = (check_target(args.target), args.port)
    socks = open_sockets(args.sources.split(","), args.requests)
    print("flooding", flush=True)
    seconds = flood(socks, target, args.name, args.rate)
    time.sleep(args.hold)
    report = {"requests": len(socks), "send_seconds": round(seconds, 2), **count_replies(socks)}
    print(json.dumps(report), flush=True)
    for sock in socks:
        sock.close()


if __name__ == "__main__":
    main(sys.argv[1:])
