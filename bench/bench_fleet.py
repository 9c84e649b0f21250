"""The fleet page's reads at scale: a page, a sorted deep page, filters, and "what changed".

    .venv/bin/python bench/bench_fleet.py --hosts 10000
    .venv/bin/python bench/bench_fleet.py --hosts 100000 --database postgresql://…

Seeds ``--hosts`` hosts (as the DHCP hook would) into a fresh SQLite file (or the given
database, which must be empty), then prints the median and worst milliseconds of each read
over ``--rounds`` rounds, through the store (``host_search``, ``host_changes``) and through
the API (``GET /api/v1/fleet`` with the Flask test client: JSON included).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pxehook import tokens
from pxehook.config import load_settings
from pxehook.models import IpSource, Observation, State
from pxehook.store import open_store
from pxehook.store.listing import HostQuery
from pxehook.store.writes import StateChange
from pxehook.web import create_app


def _mac(i: int) -> str:
    return f"52:54:{(i >> 24) & 255:02x}:{(i >> 16) & 255:02x}:{(i >> 8) & 255:02x}:{i & 255:02x}"


def seed(store, n: int) -> None:  # type: ignore[no-untyped-def]
    now = time.time()
    for start in range(0, n, 2000):
        store.observe_many([
            Observation(mac=_mac(i), source="hook", ip=f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}",
                        ip_source=IpSource.HOOK, hostname=f"node-{i:06d}", arch=(7, 0, 11)[i % 3],
                        at=now - i)
            for i in range(start, min(n, start + 2000))
        ])  # fmt: skip
    hosts = store.host_page(0, n)
    states = (State.DEPLOYED,) * 7 + (State.READY, State.FAILED, State.NEW)
    store.set_states(
        [StateChange(h.id, states[i % 10], source="bench") for i, h in enumerate(hosts)]
    )


def timed(rounds: int, fn: Callable[[], object]) -> tuple[float, float]:
    fn()  # warm the caches once
    runs = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - started) * 1000)
    return statistics.median(runs), max(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--database", default="")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="bench-fleet-")
    database = args.database or f"sqlite:///{work}/fleet.db"
    store = open_store(database)
    started = time.perf_counter()
    seed(store, args.hosts)
    took = time.perf_counter() - started
    print(f"seeded {args.hosts} hosts in {took:.1f} s ({database.split(':')[0]})")
    quiet = store.host_search(HostQuery(limit=0)).cursor  # nothing written after this
    app = create_app(load_settings(env={"PXEHOOK_DATABASE": database, "PXEHOOK_STATE_DIR": work}))
    client = app.test_client()
    auth = {"Authorization": "Bearer " + tokens.create(store, "bench", "read")}
    reads: list[tuple[str, Callable[[], object]]] = [
        ("page 1 (100 rows + counts)", lambda: store.host_search(HostQuery())),
        ("deep page, by name desc", lambda: store.host_search(
            HostQuery(sort="name", descending=True, offset=args.hosts // 2))),
        ("state=failed", lambda: store.host_search(HostQuery(state="failed"))),
        ("text 'node-00042'", lambda: store.host_search(HostQuery(words=("node-00042",)))),
        ("arch=11 by last seen", lambda: store.host_search(HostQuery(arch=11, sort="last_seen"))),
        ("changes: none", lambda: store.host_changes(quiet, HostQuery())),
        ("changes: all (500 + resync)", lambda: store.host_changes(0, HostQuery())),
        ("GET /api/v1/fleet", lambda: client.get("/api/v1/fleet", headers=auth)),
    ]  # fmt: skip
    for name, fn in reads:
        median, worst = timed(args.rounds, fn)
        print(f"{name:32s} median {median:8.1f} ms   worst {worst:8.1f} ms")
    store.close()


if __name__ == "__main__":
    main()
