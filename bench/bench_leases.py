"""Benchmark the lease-file watcher: importing, re-reading and following big lease files.

    .venv/bin/python bench/bench_leases.py [--leases 100000] [--kinds dnsmasq,isc,kea]
                                           [--dir /var/tmp]

For each lease-file format, a file of N leases (what that daemon writes) is imported into a
fresh SQLite store by ``LeaseFile.scan`` — the watcher's own code path — and timed:

1. first import (every lease a new host: the goal is 100,000 in < 20 s, issue 13);
2. a scan of the unchanged file once settled (stat only: an idle watcher costs nothing);
3. the same file touched but unchanged (a full settled read and parse, no writes);
4. one lease changed (read, parse, one observation and one timeline row).

(3) and (4) are what every change of the file costs; the watcher repeats a slow read at
most every ``1 + BUSY_FACTOR`` times its duration.

Figures are wall-clock seconds of this process; the machine should be quiet.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pxehook.capture.leases import LeaseFile  # noqa: E402
from pxehook.store.sqlite import SQLiteStore  # noqa: E402

KEA_HEADER = (
    "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,"
    "state,user_context,pool_id\n"
)


def mac_ip(i: int) -> tuple[str, str]:
    mac = f"52:54:{i >> 24 & 255:02x}:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}"
    return mac, f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"


def lease_text(kind: str, n: int, changed: int = -1) -> str:
    """A lease file of ``kind`` with ``n`` leases; lease ``changed`` gets another hostname."""
    out = [KEA_HEADER] if kind == "kea" else []
    for i in range(n):
        mac, ip = mac_ip(i)
        name = f"node{i}" + ("x" if i == changed else "")
        if kind == "dnsmasq":
            out.append(f"1800000000 {mac} {ip} {name} 01:{mac}\n")
        elif kind == "kea":
            out.append(f"{ip},{mac},01:{mac},3600,1800003600,1,0,0,{name},0,,0\n")
        else:
            out.append(
                f"lease {ip} {{\n  starts 2 2026/11/24 10:00:00;\n  ends 2 2026/11/24 11:00:00;\n"
                f"  cltt 2 2026/11/24 10:00:00;\n  binding state active;\n"
                f"  next binding state free;\n  hardware ethernet {mac};\n"
                f'  uid "\\001RT\\000\\022\\0044";\n  client-hostname "{name}";\n}}\n'
            )
    return "".join(out)


def timed(fn) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def bench(kind: str, n: int, work: Path) -> dict[str, object]:
    db = work / f"{kind}.db"
    for suffix in ("", "-wal", "-shm"):
        (work / f"{kind}.db{suffix}").unlink(missing_ok=True)
    store = SQLiteStore(str(db))
    path = work / f"{kind}.leases"
    path.write_text(lease_text(kind, n))
    size = path.stat().st_size
    watched = LeaseFile(store, kind, str(path))
    first, counts = timed(watched.scan)
    while watched.due is not None:  # the re-check a just-written file gets, then idle
        time.sleep(max(0.0, watched.due - time.time()))
        watched.scan()
    idle, _ = timed(watched.scan)
    os.utime(path, (time.time() - 60, time.time() - 60))  # same bytes, new mtime: re-read
    watched.not_before = 0.0  # (the watcher would wait out the last slow read first)
    reread, again = timed(watched.scan)
    path.write_text(lease_text(kind, n, changed=n // 2))
    os.utime(path, (time.time() - 60, time.time() - 60))  # a quiet file
    watched.not_before = 0.0
    one, changed = timed(watched.scan)
    store.close()
    return {
        "kind": kind,
        "leases": n,
        "MB": size / 1e6,
        "first": first,
        "rate": n / first,
        "idle": idle,
        "reread": reread,
        "one": one,
        "counts": f"{counts} / {again} / {changed}",
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--leases", type=int, default=100_000)
    ap.add_argument("--kinds", default="dnsmasq,isc,kea")
    ap.add_argument("--dir", default=None, help="work directory (default: a temp dir)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        rows = [bench(kind, args.leases, Path(tmp)) for kind in args.kinds.split(",")]
    print(f"{'format':8} {'leases':>8} {'MB':>6} {'import s':>9} {'leases/s':>9} "
          f"{'idle s':>8} {'re-read s':>10} {'1 change s':>10}")  # fmt: skip
    for r in rows:
        print(
            f"{r['kind']:8} {r['leases']:>8} {r['MB']:>6.1f} {r['first']:>9.2f} "
            f"{r['rate']:>9.0f} {r['idle']:>8.4f} {r['reread']:>10.2f} {r['one']:>10.2f}"
        )
    for r in rows:
        print(f"  {r['kind']}: outcomes {r['counts']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
