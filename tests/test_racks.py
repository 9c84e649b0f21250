"""Three racks (``pxehook serve`` each, on its own loopback address) on one real PostgreSQL:
fleet-wide work runs on one rack at a time, the lead moves when its holder is killed with
SIGKILL, and every event names the rack that recorded it (docs/racks.md). A machine moving
between racks: ``tests/test_racks_netns.py``."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pxehook.models import Observation, State
from pxehook.store import open_store
from tests.boot_server import curl
from tests.conftest import SAMPLE_INVENTORY
from tests.harness.racks import Rack, wait_until

pytestmark = pytest.mark.daemon

NAMES = ("rack-a", "rack-b", "rack-c")


def start_fleet(workdir: Path, database: str, pxehook_bin: str, **extra: str) -> list[Rack]:
    """Three racks on ``database``, started (the caller stops them)."""
    racks = [
        Rack(name, f"127.0.0.{11 + i}", database, SAMPLE_INVENTORY, workdir / name,
             pxehook_bin, **extra)
        for i, name in enumerate(NAMES)
    ]  # fmt: skip
    for rack in racks:
        rack.start()
    return racks


@pytest.fixture
def fleet(tmp_path: Path, pg_server, pxehook_bin: str) -> Iterator[tuple[list[Rack], object]]:  # type: ignore[no-untyped-def]
    """Three racks whose deployments time out after one second, and a store of their own."""
    database = pg_server.new_database()
    store = open_store(database, rack="test")
    racks: list[Rack] = []
    try:
        racks = start_fleet(tmp_path, database, pxehook_bin, PXEHOOK_DEPLOY_TIMEOUT="1")
        yield racks, store
    finally:
        for rack in racks:
            rack.stop()
        store.close()


def leaders(racks: list[Rack]) -> list[str]:
    return [r.name for r in racks if r.proc and r.proc.poll() is None and r.role() == "leader"]


def deploying(store, mac: str):  # type: ignore[no-untyped-def]
    """A host put into ``deploying`` now: the leader's sweep fails it after deploy_timeout."""
    host, _ = store.observe(Observation(mac=mac, source="test"))
    return store.set_state(host.id, State.DEPLOYING, source="test")


def timed_out_by(store, host_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    """The racks that recorded the host's deploy time-out."""
    return [e.rack for e in store.events(host_id) if e.kind == "state.changed"
            and (e.data or {}).get("to") == "failed"]  # fmt: skip


def test_fleet_wide_work_runs_on_one_rack_and_events_name_it(fleet) -> None:  # type: ignore[no-untyped-def]
    racks, store = fleet
    wait_until(lambda: len(leaders(racks)) == 1, 10, "one leader")
    time.sleep(3)  # three leader checks: still exactly one
    (leader,) = leaders(racks)
    for rack in racks:
        status, body = rack.health()
        assert status == 200, body
        assert body["rack"] == rack.name
        expected = "running" if rack.name == leader else "standby"
        assert body["services"]["inventory-watcher"] == expected, (rack.name, body)
        assert body["services"]["lifecycle-sweeper"] == expected, (rack.name, body)
        assert body["services"]["capture"] == "running"  # per-rack work runs everywhere
    applied = [r.name for r in racks if re.search(r"inventory \S+ applied:", r.log_text())]
    assert applied == [leader], "only the leader applies the inventory"
    host = deploying(store, "52:54:00:aa:00:01")
    wait_until(lambda: timed_out_by(store, host.id), 15, "the deploy time-out")
    time.sleep(2.5)  # further sweeps on every rack would have had time to run
    assert timed_out_by(store, host.id) == [leader]
    for rack in racks:
        text = curl(rack.url + "/metrics")[1].decode()
        leads = "1" if rack.name == leader else "0"
        assert f'pxehook_fleet_leader{{rack="{rack.name}"}} {leads}' in text


def test_the_lead_moves_within_seconds_when_the_leader_is_killed(fleet) -> None:  # type: ignore[no-untyped-def]
    racks, store = fleet
    wait_until(lambda: len(leaders(racks)) == 1, 10, "one leader")
    (first,) = leaders(racks)
    holder = next(r for r in racks if r.name == first)
    holder.kill9()
    took = wait_until(lambda: len(leaders(racks)) == 1, 10, "another rack to lead")
    (second,) = leaders(racks)
    assert second != first
    print(f"lead moved from {first} to {second} {took:.1f}s after SIGKILL")
    # the fleet-wide work goes on, on the new leader only
    host = deploying(store, "52:54:00:aa:00:02")
    wait_until(lambda: timed_out_by(store, host.id), 15, "the deploy time-out")
    time.sleep(2.5)
    assert timed_out_by(store, host.id) == [second]
    survivors = [r for r in racks if r is not holder]
    for rack in survivors:
        assert rack.health()[0] == 200
