"""Benchmark the DHCP capture path: hook cost per event, ingest rate, locked store, listener.

    .venv/bin/python bench/bench_hook.py [--events 2000] [--dir /var/tmp] [--no-listener]

1. Hook cost: N invocations exactly as dnsmasq makes them (fork+exec one process per event,
   serially, argv ``add MAC IP HOST`` and a dnsmasq-like environment), for /bin/true and a
   bare ``python3 -I -S -c pass`` (baselines, same run), the C hook (fsync async, sync, off) and
   the Python fallback hook.
2. Ingest: the spool the C hook wrote, applied to a fresh SQLite store.
3. Locked store: 1,000 hook events while another process holds ``BEGIN IMMEDIATE`` for
   5 s mid-burst; counts what reached the store.
4. Listener (root, netns): a burst of DISCOVERs in a private namespace lab, recorded by
   ``pxehook listen``; packets/s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pxehook.capture.build import build_c, build_python  # noqa: E402
from pxehook.capture.ingest import Ingester, IngestService  # noqa: E402
from pxehook.capture.spool import Spool  # noqa: E402
from pxehook.store.sqlite import SQLiteStore  # noqa: E402

PY = "/usr/bin/python3"


def dnsmasq_env(i: int, spool: Path, fsync: str) -> list[str]:
    return [
        f"PXH_HOOK_SPOOL={spool}",
        f"PXH_HOOK_FSYNC={fsync}",
        "DNSMASQ_INTERFACE=eth0",
        f"DNSMASQ_LEASE_EXPIRES={1_800_000_000 + i}",
        "DNSMASQ_TIME_REMAINING=3600",
        "DNSMASQ_VENDOR_CLASS=PXEClient:Arch:00007:UNDI:003000",
        "DNSMASQ_TAGS=pxh-efi-x64 eth0",
        f"DNSMASQ_CLIENT_ID=01:52:54:00:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}",
        "DNSMASQ_REQUESTED_OPTIONS=1,2,3,4,5,6,12,13,15,17,18,22,23,28,40,41,42,43,50,51,54,"
        "58,59,60,66,67,97,128,129,130,131,132,133,134,135",
        "DNSMASQ_LOG_DHCP=1",
    ]


def argv_for(i: int) -> list[str]:
    mac = f"52:54:00:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}"
    return ["add", mac, f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}", f"node{i}"]


def fire(cmd: list[str], i: int, spool: Path, fsync: str, client: int | None = None) -> None:
    """One event: fork+exec and wait, as dnsmasq's helper does (event i of ``client``)."""
    env = dnsmasq_env(i, spool, fsync)
    argv = [*cmd, *argv_for(i if client is None else client)]
    pid = os.posix_spawn(cmd[0], argv, dict(e.split("=", 1) for e in env))
    _, status = os.waitpid(pid, 0)
    if status != 0:
        raise SystemExit(f"{cmd[0]} exited {status}")


def run_serial(cmd: list[str], n: int, spool: Path, fsync: str = "async") -> float:
    start = time.perf_counter()
    for i in range(n):
        fire(cmd, i, spool, fsync)
    return time.perf_counter() - start


def hook_costs(work: Path, n: int, rounds: int = 5) -> tuple[Path, Path]:
    """Cost per event of each case; cases interleave in ``rounds`` so load noise hits all."""
    c_hook = build_c(work / "pxehook-hook", str(work / "unused"))
    py_hook = build_python(work / "pxehook-hook.py", str(work / "unused"))
    slow = max(rounds, n // 5)  # Python start-up is slow: fewer events, same rounds
    cases = [
        ("/bin/true (no-op exec)", ["/bin/true"], "off", n),
        ("python3 -I -S -c pass", [PY, "-I", "-S", "-c", "pass"], "off", slow),
        ("C hook, fsync async (default)", [str(c_hook)], "async", n),
        ("C hook, fsync sync", [str(c_hook)], "sync", n),
        ("C hook, fsync off", [str(c_hook)], "off", n),
        ("Python hook, fsync async", [str(py_hook)], "async", slow),
        ("Python hook, fsync sync", [str(py_hook)], "sync", slow),
    ]
    spool_c = work / "c" / "hook.spool"
    spent = dict.fromkeys(range(len(cases)), 0.0)
    for _label, cmd, fsync, _count in cases:
        run_serial(cmd, 10, work / "warm" / "hook.spool", fsync)  # warm caches
    for _round in range(rounds):
        for index, (label, cmd, fsync, count) in enumerate(cases):
            main = label.startswith("C hook, fsync async")
            spool = spool_c if main else work / f"x{index}" / "hook.spool"
            spent[index] += run_serial(cmd, count // rounds, spool, fsync)
    print(
        f"\n## 1. Hook cost: serial fork+exec per event, {rounds} interleaved rounds "
        f"(spool on {work})"
    )
    print(f"| {'what':30} | events | events/s | ms/event | x /bin/true |")
    print("|---|---:|---:|---:|---:|")
    base = None
    for index, (label, _cmd, _fsync, count) in enumerate(cases):
        done = count // rounds * rounds
        per = spent[index] / done * 1000
        base = base or per
        print(
            f"| {label:30} | {done:6} | {done / spent[index]:8.0f} | {per:8.3f} "
            f"| {per / base:11.2f} |"
        )
    return c_hook, spool_c


def ingest_rate(work: Path, spool: Path) -> None:
    store = SQLiteStore(str(work / "ingest.db"))
    start = time.perf_counter()
    result = Ingester(store, str(spool.parent)).drain(timeout=600)
    seconds = time.perf_counter() - start
    print(
        f"\n## 2. Ingest: {result.records} records -> SQLite in {seconds:.2f} s "
        f"= {result.records / seconds:.0f} records/s ({dict(result.outcomes)})"
    )


def locked_store(work: Path, hook: Path, n: int = 1000, hold: float = 5.0) -> None:
    spool_dir = work / "locked"
    db = str(work / "locked.db")
    store = SQLiteStore(db, busy_timeout_ms=300)
    service = IngestService(store, str(spool_dir), poll=0.5)
    service.start()
    lock = (
        "import sqlite3,time\n"
        f"c=sqlite3.connect({db!r}, isolation_level=None)\n"
        "c.execute('BEGIN IMMEDIATE');print('locked',flush=True)\n"
        f"time.sleep({hold});c.execute('COMMIT')"
    )
    start = time.perf_counter()
    locker = None
    for i in range(n):
        if i == n // 3:
            locker = subprocess.Popen([PY, "-c", lock], stdout=subprocess.PIPE, text=True)
            locker.stdout.readline()
            locked_at = time.perf_counter()
        fire([str(hook)], i, spool_dir / "hook.spool", "async", client=i % 100)
    burst = time.perf_counter() - start
    locker.wait()
    released = time.perf_counter()
    while Spool(str(spool_dir)).pending_bytes() and time.perf_counter() - released < 120:
        time.sleep(0.05)
    caught_up = time.perf_counter() - released
    service.stop()
    applied, ordered = 0, True
    for host in store.host_list():
        seq = [int(e.data["lease_expires"]) for e in store.events(host.id) if e.kind == "dhcp.add"]
        applied += len(seq)
        ordered = ordered and seq == sorted(seq)
    print(
        f"\n## 3. Locked store: {n} events, store locked {hold:.0f} s from event {n // 3} "
        f"(t={locked_at - start:.2f} s)"
    )
    print(
        f"hook burst took {burst:.2f} s ({n / burst:.0f} events/s, unaffected by the lock); "
        f"ingester caught up {caught_up:.2f} s after the lock was released; "
        f"applied {applied}/{n} (loss {n - applied}), order per MAC kept: {ordered}; "
        f"blocked passes {service.ingester.totals['blocked']}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1000)
    ap.add_argument("--dir", default="/var/tmp", help="where the spool lives (a real disk)")
    ap.add_argument("--no-listener", action="store_true")
    ap.add_argument("--packets", type=int, default=2000, help="listener burst size")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pxh-bench-", dir=args.dir))
    try:
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(
            f"# pxehook capture benchmark ({time.strftime('%Y-%m-%d %H:%M')}, "
            f"{os.cpu_count()} CPUs, {os.uname().release}, load average {load})"
        )
        hook, spool = hook_costs(work, args.events)
        ingest_rate(work, spool)
        locked_store(work, hook)
        if not args.no_listener:
            from bench.bench_listener import listener_rate

            listener_rate(work, args.packets)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
