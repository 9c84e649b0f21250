"""A PostgreSQL outage under three racks (docs/racks.md, failure behaviour): DHCP events keep
arriving through each rack's real hook while the database restarts; /healthz says
degraded (not dead), the events wait in the spools and every one of them reaches the store
when the database is back, recorded by the rack that saw it; a leader is chosen again."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pxehook.store import open_store
from tests.boot_server import curl
from tests.conftest import SAMPLE_INVENTORY
from tests.harness.capture import build_hooks, run_hook
from tests.harness.pgserver import PgServer, pg_bindir
from tests.harness.racks import Rack, wait_until

pytestmark = pytest.mark.daemon

EVENTS = 240  # DHCP events in the storm, spread over the three racks
KNOWN = "52:54:00:12:34:01"  # a host of the sample inventory


@pytest.fixture
def pg() -> Iterator[PgServer]:
    """A PostgreSQL of this test's own: it is stopped and started again mid-test."""
    import os

    if pg_bindir() is None or os.geteuid() != 0:
        pytest.skip("PostgreSQL tests need the postgresql package and root (runuser)")
    server = PgServer().start()
    yield server
    server.stop()


@pytest.fixture
def racks(tmp_path: Path, pg: PgServer, pxehook_bin: str) -> Iterator[list[Rack]]:
    database = pg.new_database()
    started = [
        Rack(f"rack-{c}", f"127.0.0.{21 + i}", database, SAMPLE_INVENTORY, tmp_path / c,
             pxehook_bin, PXEHOOK_DB_BUSY_TIMEOUT_MS="1000")
        for i, c in enumerate("abc")
    ]  # fmt: skip
    try:
        for rack in started:
            rack.start()
        yield started
    finally:
        for rack in started:
            rack.stop()


def mac_of(i: int) -> str:
    return f"52:54:01:00:{i // 256:02x}:{i % 256:02x}"


def dhcp_storm(hook: Path, racks: list[Rack], fired: list[int]) -> None:
    """The DHCP servers' hooks at each rack, as dnsmasq runs them, one event each 25 ms."""
    for i in range(EVENTS):
        rack = racks[i % len(racks)]
        env = {
            "PXH_HOOK_SPOOL": str(rack.workdir / "spool" / "hook.spool"),
            "DNSMASQ_INTERFACE": "eth0",
            "DNSMASQ_TAGS": "pxh-efi-x64 eth0",
        }
        done = run_hook(hook, "add", mac_of(i), f"10.1.{i // 200}.{i % 200 + 10}", "", env=env)
        assert done.returncode == 0, done.stderr
        fired.append(i)
        time.sleep(0.025)


def test_a_postgresql_restart_mid_storm_loses_no_dhcp_event(
    racks: list[Rack], pg: PgServer, tmp_path: Path
) -> None:
    hook = build_hooks(tmp_path / "hook", tmp_path / "unused.spool")[0]
    database = racks[0].env["PXEHOOK_DATABASE"]
    fired: list[int] = []
    storm = threading.Thread(target=dhcp_storm, args=(hook, racks, fired))
    storm.start()
    try:
        wait_until(lambda: len(fired) >= EVENTS // 4, 30, "the storm to be under way")
        pg.halt()
        down_at = len(fired)
        for rack in racks:  # degraded, not dead
            wait_until(lambda r=rack: r.health()[1].get("status") == "degraded", 15,
                       f"{rack.name} to say degraded")  # fmt: skip
            assert rack.health()[0] == 200
        time.sleep(2)
        assert len(fired) > down_at, "the hooks must go on while the database is away"
        pg.resume()
    finally:
        storm.join()
    store = open_store(database, rack="test")
    try:

        def all_in() -> bool:
            return len(store.hosts_by_mac([mac_of(i) for i in range(EVENTS)])) == EVENTS

        took = wait_until(all_in, 60, "every DHCP event to reach the store")
        print(f"all {EVENTS} events stored {took:.1f}s after the storm ended")
        hosts = store.hosts_by_mac([mac_of(i) for i in range(EVENTS)])
        for i in range(EVENTS):
            host = hosts[mac_of(i)]
            assert host.ip == f"10.1.{i // 200}.{i % 200 + 10}"
            seen = [e.rack for e in store.events(host.id) if e.kind == "host.discovered"]
            assert seen == [racks[i % len(racks)].name], (mac_of(i), seen)
    finally:
        store.close()
    wait_until(lambda: [r.role() for r in racks].count("leader") == 1, 15, "a leader again")
    for rack in racks:
        wait_until(lambda r=rack: r.health()[1].get("status") == "ok", 15, f"{rack.name} ok")


def test_known_machines_are_answered_while_the_database_is_away(
    racks: list[Rack], pg: PgServer
) -> None:
    rack = racks[0]
    before = curl(f"{rack.url}/ipxe/{KNOWN}")
    assert before[0] == 200
    pg.halt()
    try:
        wait_until(lambda: rack.health()[1].get("status") == "degraded", 15, "degraded")
        assert curl(f"{rack.url}/ipxe/{KNOWN}") == before, "the last state seen, unchanged"
        status, body = curl(f"{rack.url}/ipxe/52:54:00:ff:ff:01")
        assert status == 200 and b"chain" not in body  # an unknown machine: local boot
    finally:
        pg.resume()
