"""Life-cycle costs, in-process over a temp SQLite store (no network).

Prints, for N hosts: a full sweep (nothing due / everything due), install-done callbacks
per second, and plain host reads per second as the baseline from the same run.

    .venv/bin/python bench/lifecycle_bench.py [--hosts 2000]
"""

from __future__ import annotations

import argparse
import tempfile
import time

from pxehook.config import load_settings
from pxehook.context import Context
from pxehook.lifecycle import auto, callback, table
from pxehook.models import Host, Profile, State


def _setup(n: int) -> tuple[Context, list[Host]]:
    tmp = tempfile.mkdtemp(prefix="pxehook-bench-")
    ctx = Context(load_settings(env={"PXEHOOK_DATABASE": f"{tmp}/b.db"}))
    store = ctx.store()
    store.profiles_replace([Profile(name="inst", kind="installer", kernel={"x86": "/k"})])
    hosts = []
    for i in range(n):
        mac = f"52:54:{i >> 24 & 255:02x}:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}"
        host = store.host_put(Host(id=None, macs=(mac,), profile="inst", state=State.READY))
        hosts.append(table.transition(store, host, "deploy", source="bench"))
    return ctx, hosts


def _rate(label: str, count: int, seconds: float) -> None:
    print(f"{label:42} {count / seconds:10.0f} /s   ({seconds * 1000 / count:.3f} ms each)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=2000)
    n = parser.parse_args().hosts
    ctx, hosts = _setup(n)
    store, settings = ctx.store(), ctx.settings
    t = time.perf_counter()
    for h in hosts:
        store.host_get(h.mac)
    _rate("baseline: host_get", n, time.perf_counter() - t)
    t = time.perf_counter()
    assert auto.sweep(settings, store) == []
    print(
        f"{'sweep, nothing due':42} {(time.perf_counter() - t) * 1000:10.1f} ms for {n} deploying"
    )
    tokens = [callback.callback_vars(settings, store, h)["deploy_token"] for h in hosts]
    half = n // 2
    t = time.perf_counter()
    for h, tok in zip(hosts[:half], tokens[:half], strict=True):
        callback.install_done(store, h.mac, tok, source="bench")
    _rate("install-done callbacks (verify + CAS)", half, time.perf_counter() - t)
    t = time.perf_counter()
    changes = auto.sweep(settings, store, time.time() + settings.deploy_timeout + 1)
    elapsed = time.perf_counter() - t
    print(
        f"{'sweep, all remaining time out':42} {elapsed * 1000:10.1f} ms for {len(changes)} hosts"
    )


if __name__ == "__main__":
    main()
