"""Three racks (``pxehook serve`` each, on its own loopback address) on one real PostgreSQL:
fleet-wide work runs on one rack at a time, the lead moves when its holder is killed with
SIGKILL, and every event names the rack that recorded it (docs/racks.md)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pxehook import tokens
from pxehook.lifecycle.table import transition
from pxehook.models import Observation, State
from pxehook.store import open_store
from tests.boot_server import curl
from tests.conftest import SAMPLE_INVENTORY
from tests.harness.capture import build_hooks, run_hook
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


# --- a machine that moves between racks -------------------------------------------------------
MOVER = "52:54:00:12:34:01"  # node01 of the sample inventory (profile debian-installer)
MOVER_IP = "127.0.0.41"  # its DHCP lease: loopback, so the test can call back from it


def boot(rack: Rack) -> bytes:
    status, body = curl(f"{rack.url}/ipxe/{MOVER}?buildarch=x86_64&platform=efi")
    assert status == 200, body
    return body


def test_a_machine_moves_between_racks_and_the_timeline_says_where(
    tmp_path: Path,
    pg_server,
    pxehook_bin: str,  # type: ignore[no-untyped-def]
) -> None:
    database = pg_server.new_database()
    store = open_store(database, rack="operator")
    racks: list[Rack] = []
    try:
        racks = start_fleet(tmp_path, database, pxehook_bin)
        a, b, c = racks
        wait_until(lambda: store.host_get(MOVER) is not None, 15, "the leader's inventory apply")
        host = store.set_state(store.host_get(MOVER).id, State.READY, source="cli")
        transition(store, host, "deploy", source="cli")  # pxehook host deploy node01
        # DHCP at rack A: its DHCP server's hook, run as dnsmasq runs it
        hook = build_hooks(tmp_path / "hook", tmp_path / "unused.spool")[0]
        env = {"PXH_HOOK_SPOOL": str(a.workdir / "spool" / "hook.spool"),
               "DNSMASQ_INTERFACE": "eth0", "DNSMASQ_TAGS": "pxh-efi-x64 eth0"}  # fmt: skip
        assert run_hook(hook, "add", MOVER, MOVER_IP, "node01", env=env).returncode == 0
        wait_until(lambda: store.host_get(MOVER).ip == MOVER_IP, 10, "rack A's ingest")
        # the installer's config at rack A, its callback through rack B
        installer = boot(a)
        token = re.search(rb"pxehook\.token=(\S+)", installer)
        assert token is not None, installer
        url = f"{b.url}/api/v1/hosts/{MOVER}/deployed?token={token.group(1).decode()}"
        status, body = curl(url, "-X", "POST", source=MOVER_IP)
        assert status == 200 and b'"deployed"' in body, body
        # the next boot is local at either rack (and at the third)
        for rack in (b, a, c):
            wait_until(lambda r=rack: b"pxehook.token" not in boot(r), 5, f"local at {rack.name}")
            assert b"kernel" not in boot(rack)
        # the timeline, as the API shows it, says which rack saw what
        secret = tokens.create(store, "reader", "read")
        status, body = curl(f"{c.url}/api/v1/hosts/{MOVER}/events", "-H",
                            f"Authorization: Bearer {secret}")  # fmt: skip
        assert status == 200, body
        seen = [(e["kind"], e["rack"]) for e in json.loads(body)]
        assert ("ip.changed", "rack-a") in seen, seen
        boots = [rack for kind, rack in seen if kind == "boot.config"]
        assert boots[0] == "rack-a" and {"rack-a", "rack-b", "rack-c"} <= set(boots), seen
        assert ("state.changed", "rack-b") in seen, seen  # deployed: the callback at rack B
    finally:
        for rack in racks:
            rack.stop()
        store.close()
