"""The life-cycle sweep over a large fleet (issue 13): CPU per sweep and write transactions.

Builds a SQLite store of N hosts (default 100,000), of which D are deploying, then times
(CPU seconds of this process, median of rounds) a sweep with nothing due and a sweep where
all D deployments time out, and counts the write transactions each opens. Goal: a sweep
over 100,000 hosts costs < 1 s of CPU and writes only the hosts whose state changes, in
batches (10,000 due hosts must not be 10,000 transactions). Baseline in the same run: one
``host_list`` of the deploying hosts (what any sweep must at least read).

    .venv/bin/python bench/bench_sweep.py [--hosts 100000] [--deploying 10000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

from pxehook.config import load_settings
from pxehook.lifecycle import auto
from pxehook.models import Host, Instant, Profile, State, instant
from pxehook.store import open_store
from pxehook.store.sqlite import SQLiteDialect
from pxehook.store.writes import HostWrite

WRITES: list[int] = []


def _count_write_transactions() -> None:
    original = SQLiteDialect.transaction

    def counting(self: SQLiteDialect, conn: Any, *, write: bool) -> Any:
        if write:
            WRITES.append(1)
        return original(self, conn, write=write)

    SQLiteDialect.transaction = counting  # type: ignore[method-assign]


def build(path: str, n: int, deploying: int) -> Any:
    store = open_store(f"sqlite:///{path}")
    store.profiles_replace([Profile(name="inst", kind="installer", kernel={"x86": "/linux"})])
    now = instant()
    batch: list[HostWrite] = []
    for i in range(n):
        mac = ":".join(
            f"{b:02x}" for b in (2, 1, i >> 24 & 255, i >> 16 & 255, i >> 8 & 255, i & 255)
        )
        state = State.DEPLOYING if i < deploying else State.DEPLOYED
        host = Host(id=None, macs=(mac,), profile="inst", state=state, state_changed=now.wall,
                    state_clock=now.clock, state_boot=now.boot)  # fmt: skip
        batch.append(HostWrite(source="bench", new=host))
        if len(batch) == 500:
            store.host_writes(batch)
            batch = []
    store.host_writes(batch)
    return store


def cpu(fn: Callable[[], Any]) -> tuple[float, int, Any]:
    """(CPU seconds, write transactions, result) of ``fn()``."""
    WRITES.clear()
    start = time.process_time()
    result = fn()
    return time.process_time() - start, len(WRITES), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=100_000)
    parser.add_argument("--deploying", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    _count_write_transactions()
    settings = load_settings(env={})
    idle, due, listed = [], [], []
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="pxehook-bench-sweep-") as tmp:
            store = build(f"{tmp}/sweep.db", args.hosts, args.deploying)
            listed.append(cpu(lambda: store.host_list(state=State.DEPLOYING)))  # noqa: B023
            idle.append(cpu(lambda: auto.sweep(settings, store)))  # noqa: B023
            now = instant()
            late = Instant(wall=now.wall, clock=(now.clock or 0) + settings.deploy_timeout + 1,
                           boot=now.boot)  # fmt: skip
            due.append(cpu(lambda: auto.sweep(settings, store, late)))  # noqa: B023
            store.close()
    print(f"{args.hosts} hosts, {args.deploying} deploying; median of {args.rounds} round(s)")
    print(f"{'step':44} {'CPU s':>7} {'write tx':>9} {'hosts changed':>14}")
    for label, samples in (
        ("baseline: host_list(state=deploying)", listed),
        ("sweep, nothing due", idle),
        ("sweep, every deployment timed out", due),
    ):
        seconds = statistics.median(s[0] for s in samples)
        writes = statistics.median(s[1] for s in samples)
        changed = (
            samples[0][2] if isinstance(samples[0][2], list) and label.startswith("sweep") else []
        )
        print(f"{label:44} {seconds:7.3f} {writes:9.0f} {len(changed):14}")
    print("goal: a sweep over 100,000 hosts < 1 s CPU; writes only changed hosts, batched")


if __name__ == "__main__":
    main()
