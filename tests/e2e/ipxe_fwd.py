"""One HTTP exchange for QEMU's ``guestfwd=…-cmd:`` (stdin/stdout is the guest's TCP
connection): log the request line, answer ``/boot.ipxe`` with the bootstrap file and every
other path with the per-machine file. Run as ``python ipxe_fwd.py DIR`` (files in DIR)."""

from __future__ import annotations

import sys
from pathlib import Path


def main(folder: Path) -> None:
    request = sys.stdin.buffer.readline().decode("latin-1")
    while sys.stdin.buffer.readline() not in (b"\r\n", b"\n", b""):
        pass
    with open(folder / "requests.log", "a") as log:
        log.write(request)
    parts = request.split()
    path = parts[1] if len(parts) > 1 else "/"
    body = (folder / ("bootstrap.ipxe" if path == "/boot.ipxe" else "machine.ipxe")).read_bytes()
    head = f"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n\r\n"
    sys.stdout.buffer.write(head.encode() + body)
    sys.stdout.flush()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
