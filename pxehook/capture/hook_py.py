"""Pure-Python DHCP hook: the fallback for sites without a C compiler.

Writes exactly the record ``hooks/pxehook-hook.c`` writes (format in that file and in
docs/capture.md), so the ingester cannot tell them apart; a test compares their bytes.
It costs a Python start-up per call (about 10 ms instead of about 1 ms): prefer the C hook.

Run it with an absolute interpreter path and no site packages, never through a PATH shim::

    dhcp-script=/usr/local/libexec/pxehook/pxehook-hook.py   (first line: #!/usr/bin/python3 -IS)

Standard library only; this module must not import pxehook (it runs with ``-I -S``).
``pxehook hook install --python`` copies it with ``SPOOL`` set to the configured path.
"""

import errno
import fcntl
import os
import sys
import time
import zlib

SPOOL = "/var/lib/pxehook/spool/hook.spool"
FSYNC = "async"  # off | sync | async (see hooks/pxehook-hook.c)

MAX_PAYLOAD = 60 * 1024
MAX_VALUE = 4096
#: Environment entries kept: pxehook.daemons.HOOK_ENV, copied (a test holds them equal).
PREFIXES = (
    b"DNSMASQ_",
    b"LEASE4_",
    b"LEASES4_",
    b"DELETED_LEASES4_",
    b"QUERY4_",
    b"SUBNET4_",
    b"PKT4_",
    b"REMOVE_LEASE=",
)


def encode_record(when_ns: int, args: list[bytes], environ: list[bytes]) -> bytes:
    """One spool record from the time, argv[1:] and ``NAME=value`` environment entries."""
    payload = bytearray()
    truncated = False

    def item(kind: bytes, text: bytes) -> None:
        nonlocal truncated
        text = text.split(b"\x00", 1)[0][:MAX_VALUE]
        if len(payload) + len(text) + 2 > MAX_PAYLOAD - 12:
            truncated = True
            return
        payload.extend(kind + text + b"\x00")

    sec, usec = divmod(when_ns // 1000, 1_000_000)
    item(b"t", b"%d.%06d" % (sec, usec))
    for arg in args:
        item(b"a", arg)
    for entry in environ:
        if entry.startswith(PREFIXES):
            item(b"e", entry)
    if truncated:
        item(b"x", b"truncated")
    header = b"PXH1 %08x %08x\n" % (len(payload), zlib.crc32(payload) & 0xFFFFFFFF)
    return header + bytes(payload) + b"\n"


def _open_spool(path: str) -> int:
    """Open for appending under a shared lock; reopen if the ingester rotated it away."""
    for _ in range(5):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o660)
        for _ in range(1000):
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                time.sleep(0.001)
            except OSError:
                break
        if os.fstat(fd).st_nlink:
            return fd
        os.close(fd)
    raise OSError(errno.ESTALE, "spool keeps being rotated")


def _fsync_mode() -> str:
    value = os.environ.get("PXH_HOOK_FSYNC") or FSYNC
    if value in ("0", "off", "no", "false"):
        return "off"
    return "async" if value in ("2", "async") else "sync"


def _make_durable(fd: int) -> None:
    mode = _fsync_mode()
    if mode == "async":
        try:
            pid = os.fork()
        except OSError:
            pid = -1
        if pid == 0:
            null = os.open(os.devnull, os.O_RDWR)
            for target in (0, 1, 2):
                os.dup2(null, target)
            os.setsid()
            os.fdatasync(fd)
            os._exit(0)
        if pid > 0:
            return
    if mode != "off":
        os.fdatasync(fd)


def main(argv: list[bytes], environ: list[bytes]) -> int:
    if len(argv) > 1 and argv[1] == b"init":
        return 0
    record = encode_record(time.time_ns(), argv[1:], environ)
    path = os.environ.get("PXH_HOOK_SPOOL") or SPOOL
    try:
        try:
            fd = _open_spool(path)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(path), mode=0o770, exist_ok=True)
            fd = _open_spool(path)
        try:
            written = os.write(fd, record)
            if written != len(record):
                raise OSError(errno.ENOSPC, "short write")
            _make_durable(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        print(f"pxehook-hook: cannot write spool {path}: {exc} (event dropped)", file=sys.stderr)
    return 0


def _environ_entries() -> list[bytes]:
    return [k + b"=" + v for k, v in os.environb.items()]


if __name__ == "__main__":
    try:
        code = main([os.fsencode(a) for a in sys.argv], _environ_entries())
    except Exception as exc:  # never hurt DHCP: report and exit 0
        print(f"pxehook-hook: {exc}", file=sys.stderr)
        code = 0
    sys.exit(code)
