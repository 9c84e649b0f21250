#!/usr/bin/env python3
"""The timeline's prune on a big SQLite store, and what a writer waits meanwhile.

    .venv/bin/python bench/bench_prune.py [--hosts 1000] [--events 1500] [--database PATH]

Builds ``--hosts`` hosts with ``--events`` events each (config fetches over 200 days, an
install now and then), then runs one prune pass (``store/retention.py``, the defaults:
90 days, 1000 per host, the last 3 deployments' state changes) while another process
appends a batch of events every 10 ms, as the boot recorder does. Prints the pass's time,
events removed, and the writer's batch latency (median, p99, max): the prune must never
hold the database long (goal: writer p99 < 50 ms, max < 250 ms), and a second pass with
nothing to do must be quick (goal: < 2 s for 1.5 M events).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pxehook.models import Host  # noqa: E402
from pxehook.store import open_store  # noqa: E402
from pxehook.store.retention import DAY, Retention, prune  # noqa: E402

WRITER = textwrap.dedent(
    """
    import sys, time
    from pxehook.store import open_store
    store = open_store(sys.argv[1])
    host_id, stop_file = int(sys.argv[2]), sys.argv[3]
    waits = []
    import os
    while not os.path.exists(stop_file):
        started = time.perf_counter()
        store.event_add_many([(host_id, "boot.config", "bench", "", None, time.time())] * 5)
        waits.append(time.perf_counter() - started)
        time.sleep(0.01)
    print(" ".join(f"{w:.6f}" for w in waits))
    """
)


def build(url: str, hosts: int, events: int) -> int:
    store = open_store(url)
    now = time.time()
    first = 0
    for n in range(hosts):
        mac = f"52:54:{n >> 24 & 255:02x}:{n >> 16 & 255:02x}:{n >> 8 & 255:02x}:{n & 255:02x}"
        host = store.host_put(Host(id=None, macs=(mac,), name=f"h{n}"), source="bench")
        first = first or int(host.id or 0)
        rows = []
        for i in range(events):
            at = now - 200 * DAY + i * (200 * DAY / events)
            if i % 300 == 0:
                data = {"from": "ready", "to": "deploying"}
                rows.append((host.id, "state.changed", "bench", "", data, at))
            else:
                rows.append((host.id, "boot.config", "bench", "", None, at))
        store.event_add_many(rows)
    store.close()
    return first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--events", type=int, default=1500)
    parser.add_argument("--database", help="SQLite file (default: a temp file)")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="bench-prune-")
    path = args.database or os.path.join(work, "prune.db")
    url = f"sqlite:///{path}"
    started = time.monotonic()
    host_id = build(url, args.hosts, args.events)
    print(f"built {args.hosts} hosts x {args.events} events in {time.monotonic() - started:.1f}s")

    stop_file = os.path.join(work, "stop")
    writer = subprocess.Popen([sys.executable, "-c", WRITER, url, str(host_id), stop_file],
                              stdout=subprocess.PIPE, text=True, cwd=ROOT)  # fmt: skip
    time.sleep(1.0)
    store = open_store(url)
    done = prune(store, Retention(), pause=0.02)
    again = prune(store, Retention(), pause=0.02)
    Path(stop_file).touch()
    waits = sorted(float(w) for w in writer.communicate(timeout=60)[0].split())
    left = store.event_stats()["events"]
    store.close()
    p99 = waits[int(len(waits) * 0.99) - 1] if waits else 0.0
    print(f"pass 1: {done.total} removed ({done.by_age} by age, {done.by_count} by count) "
          f"in {done.seconds:.1f}s; {left} events left")  # fmt: skip
    print(f"pass 2: {again.total} removed in {again.seconds:.2f}s")
    if waits:
        print(f"writer batches: {len(waits)}, median {statistics.median(waits) * 1000:.1f} ms, "
              f"p99 {p99 * 1000:.1f} ms, max {waits[-1] * 1000:.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
