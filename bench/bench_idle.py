#!/usr/bin/env python3
"""Idle CPU of ``pxehook serve`` (defaults, 10,000 hosts): goal < 1 % of a core over 60 s.

Builds the store (as bench_http.py does), starts ``pxehook serve`` with its default
settings and services, waits until it answers a boot request and ``--settle`` seconds
more (start-up work), then reads the CPU time of every process of the server (supervisor,
gunicorn arbiter, workers) from /proc over ``--seconds`` seconds with nothing asked of it.
Prints each process's share of one core and the total. Usage::

    .venv/bin/python bench/bench_idle.py --hosts 10000 --seconds 60
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_http import (
    BIN,
    LOOPBACK,
    build_store,
    children,
    free_port,
    mac_of,
    start,
    stop,
    wait_http,
)

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` (0 when gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    found = [pid]
    for child in children(pid):
        found.extend(tree(child))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--settle", type=float, default=10.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="phr-idle-"))
    for sub in ("state", "files", "tftp", "static", "spool"):
        (work / sub).mkdir()
    env = build_store(work, args.hosts)
    port = free_port()
    full = {**os.environ, **env, "PXEHOOK_PORT": str(port), "PXEHOOK_BIND": LOOPBACK,
            "PXEHOOK_SPOOL_DIR": str(work / "spool")}  # fmt: skip
    started = time.monotonic()
    proc = start([str(BIN), "serve"], full, work / "serve.log")
    try:
        wait_http(f"http://{LOOPBACK}:{port}/ipxe/{mac_of(0)}", expect=("200",))
        print(f"start-up to first answer: {time.monotonic() - started:.1f}s", flush=True)
        time.sleep(args.settle)
        pids = tree(proc.pid)
        before = {p: cpu_seconds(p) for p in pids}
        time.sleep(args.seconds)
        after = {p: cpu_seconds(p) for p in pids}
        total = 0.0
        print(f"\n## pxehook serve idle, {args.hosts} hosts, {args.seconds:.0f}s after start-up")
        print("| process | CPU s | % of a core |\n|---|---:|---:|")
        for pid in pids:
            used = after[pid] - before[pid]
            total += used
            role = "supervisor" if pid == proc.pid else "gunicorn"
            print(f"| {role} {pid} | {used:.2f} | {100 * used / args.seconds:.2f} |")
        share = 100 * total / args.seconds
        verdict = "met" if share < 1 else "NOT met"
        print(f"| **all** | {total:.2f} | **{share:.2f}** (goal < 1: {verdict}) |")
    finally:
        stop(proc)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
