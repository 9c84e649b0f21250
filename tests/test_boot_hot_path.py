"""The boot hot path writes nothing but the timeline for a host whose state does not change,
and its caches follow every change at once (real ``pxehook serve``, real curl)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from pxehook.models import State
from tests.boot_server import BootServer, curl, events_when
from tests.conftest import SAMPLE_INVENTORY
from tests.lifecycle_fixtures import HostMaker

pytestmark = pytest.mark.daemon


def host_rows(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        hosts = conn.execute("SELECT * FROM hosts ORDER BY id").fetchall()
        return hosts + conn.execute("SELECT * FROM host_macs ORDER BY mac").fetchall()


def test_repeated_boots_write_only_the_timeline(tmp_path: Path, pxehook_bin: str) -> None:
    srv = BootServer(tmp_path, SAMPLE_INVENTORY, pxehook_bin)
    store = srv.ctx.store()
    make = HostMaker(store)
    hosts = [make(State.DEPLOYED, arch=7), make(State.DEPLOYING, arch=7), make(State.READY)]
    srv.start()
    try:
        for host in hosts:  # the first answers may settle what a first request settles
            assert curl(f"{srv.url}/ipxe/{host.mac}?buildarch=x86_64&platform=efi")[0] == 200
        for host in hosts:
            events_when(store, host.id, lambda ev: any(e.kind == "boot.config" for e in ev))
        before_rows, before_gen = host_rows(tmp_path / "pxehook.db"), store.generation()
        before_events = {h.id: len(store.events(h.id)) for h in hosts}
        for _ in range(10):
            for host in hosts:
                url = f"{srv.url}/ipxe/{host.mac}?buildarch=x86_64&platform=efi"
                assert curl(url)[0] == 200
        for host in hosts:
            done = events_when(
                store, host.id, lambda ev, h=host: len(ev) >= before_events[h.id] + 10
            )
            new = done[before_events[host.id] :]
            assert [e.kind for e in new] == ["boot.config"] * 10, (host.state, new)
        assert store.generation() == before_gen, "a boot request changed the generation"
        assert host_rows(tmp_path / "pxehook.db") == before_rows, "a boot request wrote a host"
    finally:
        srv.stop()


def test_an_operator_change_reaches_the_next_boot_answer(tmp_path: Path, pxehook_bin: str) -> None:
    """The per-worker caches (answers, plans, hosts) follow a change made by another
    process at once: the next request after it returns gets the new answer."""
    srv = BootServer(tmp_path, SAMPLE_INVENTORY, pxehook_bin)
    store = srv.ctx.store()
    host = HostMaker(store)(State.DEPLOYED, arch=7)
    srv.start()
    try:
        url = f"{srv.url}/ipxe/{host.mac}?buildarch=x86_64&platform=efi"
        for _ in range(4):  # every worker has it cached
            assert b"local disk" in curl(url)[1]
        store.set_state(host.id, State.RESCUE, source="test")
        started = time.monotonic()
        for _ in range(4):
            assert b"local disk" not in curl(url)[1], "a cached answer outlived the change"
        assert time.monotonic() - started < 10
    finally:
        srv.stop()
