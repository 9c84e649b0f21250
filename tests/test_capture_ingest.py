"""Spool -> store: ordering, idempotence, restarts, rotation, a locked store, hostile text."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pxehook.capture.ingest import Ingester, IngestService
from pxehook.capture.spool import Spool
from pxehook.store.sqlite import SQLiteStore
from tests.harness.capture import build_hooks, run_hook

MAC = "52:54:00:12:34:56"


@pytest.fixture(scope="module")
def hook(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("hook")
    return build_hooks(d, d / "unused.spool")[0]


@pytest.fixture
def spool_dir(settings) -> Path:  # type: ignore[no-untyped-def]
    return Path(settings.spool_dir)


def fire(hook: Path, spool_dir: Path, *args: str | bytes, **env: str | bytes) -> None:
    env = {"PXH_HOOK_SPOOL": str(spool_dir / "hook.spool"), **env}
    assert run_hook(hook, *args, env=env).returncode == 0


def add(hook: Path, spool_dir: Path, mac: str = MAC, ip: str = "10.0.0.5", **env: str) -> None:
    env.setdefault("DNSMASQ_INTERFACE", "eth0")
    fire(hook, spool_dir, "add", mac, ip, "node1", **env)


def test_add_then_replayed_old_changes_nothing(hook, spool_dir, store) -> None:  # type: ignore[no-untyped-def]
    add(
        hook,
        spool_dir,
        DNSMASQ_TAGS="pxh-efi-x64 eth0",
        DNSMASQ_VENDOR_CLASS="PXEClient:Arch:00007:UNDI:003000",
    )
    Ingester(store, str(spool_dir)).drain()
    before = store.host_get(MAC)
    assert (before.arch, before.vendor_class, before.dhcp_hostname, before.ip) == (
        7,
        "PXEClient:Arch:00007:UNDI:003000",
        "node1",
        "10.0.0.5",
    )
    events_before = store.events(before.id)
    fire(
        hook,
        spool_dir,
        "old",
        MAC,
        "10.0.0.5",
        "node1",
        DNSMASQ_DATA_MISSING="1",
        DNSMASQ_LEASE_EXPIRES="1999999999",
    )
    result = Ingester(store, str(spool_dir)).drain()
    assert result.outcomes["unchanged"] == 1
    assert store.host_get(MAC) == before
    assert store.events(before.id) == events_before


def test_old_without_class_data_keeps_arch_and_vendor_class(hook, spool_dir, store) -> None:  # type: ignore[no-untyped-def]
    add(hook, spool_dir, DNSMASQ_VENDOR_CLASS="PXEClient:Arch:00011:UNDI:003000")
    fire(
        hook, spool_dir, "old", MAC, "10.0.0.77", DNSMASQ_DATA_MISSING="1", DNSMASQ_INTERFACE="eth0"
    )
    assert Ingester(store, str(spool_dir)).drain().outcomes == {"event": 1, "observed": 1}
    host = store.host_get(MAC)
    assert (host.arch, host.vendor_class, host.ip) == (
        11,
        "PXEClient:Arch:00011:UNDI:003000",
        "10.0.0.77",
    )
    kinds = [e.kind for e in store.events(host.id)]
    assert kinds == ["host.discovered", "dhcp.add", "ip.changed"]  # the replay's new IP


def test_tftp_and_del_become_timeline_events_of_the_ip_owner(hook, spool_dir, store) -> None:  # type: ignore[no-untyped-def]
    add(hook, spool_dir)
    fire(hook, spool_dir, "tftp", "74213", "10.0.0.5", "/srv/tftp/undionly.kpxe")
    fire(hook, spool_dir, "tftp", "1", "10.9.9.9", "/srv/tftp/nobody")
    fire(hook, spool_dir, "del", MAC, "10.0.0.5", DNSMASQ_INTERFACE="eth0")
    result = Ingester(store, str(spool_dir)).drain()
    assert result.outcomes == {"event": 3, "unmatched": 1}
    host = store.host_get(MAC)
    kinds = [(e.kind, e.data.get("path")) for e in store.events(host.id)]
    assert kinds[1:] == [
        ("dhcp.add", None),
        ("tftp.sent", "/srv/tftp/undionly.kpxe"),
        ("dhcp.del", None),
    ]


def test_restart_after_a_crash_before_commit_applies_nothing_twice(hook, spool_dir, store) -> None:  # type: ignore[no-untyped-def]
    for i in range(5):
        add(hook, spool_dir, ip=f"10.0.0.{i + 1}")
    Ingester(store, str(spool_dir)).drain()
    (spool_dir / "hook.spool.pos").unlink()  # as if killed before the position was saved
    add(hook, spool_dir, ip="10.0.0.99")
    result = Ingester(store, str(spool_dir)).drain()
    assert result.outcomes == {"duplicate": 5, "event": 1}
    host = store.host_get(MAC)
    assert [e.data["ip"] for e in store.events(host.id) if e.kind == "dhcp.add"] == [
        "10.0.0.1",
        "10.0.0.2",
        "10.0.0.3",
        "10.0.0.4",
        "10.0.0.5",
        "10.0.0.99",
    ]
    assert Ingester(store, str(spool_dir)).drain().records == 0  # position now saved


def test_rotation_while_hooks_write_loses_nothing(hook, spool_dir, store) -> None:  # type: ignore[no-untyped-def]
    ingester = Ingester(store, str(spool_dir))
    ingester.spool.rotate_bytes = 2000  # rotate every few records
    env = {
        "PXH_HOOK_SPOOL": str(spool_dir / "hook.spool"),
        "PXH_HOOK_FSYNC": "0",
        "DNSMASQ_INTERFACE": "eth0",
    }
    procs: list[subprocess.Popen[bytes]] = []
    done = threading.Event()

    def writers() -> None:
        for i in range(300):
            procs.append(
                subprocess.Popen(
                    [
                        str(hook),
                        "add",
                        f"52:54:00:00:{i // 256:02x}:{i % 256:02x}",
                        f"10.1.{i // 250}.{i % 250 + 1}",
                    ],
                    env=env,
                )
            )
            if len(procs) % 8 == 0:
                for p in procs[-8:]:
                    p.wait(timeout=30)
        done.set()

    thread = threading.Thread(target=writers)
    thread.start()
    while not done.is_set():
        ingester.run_once()
    thread.join()
    assert all(p.wait(timeout=30) == 0 for p in procs)
    ingester.drain()
    assert ingester.spool.rotations > 0
    assert len(store.host_list()) == 300
    assert all(len(store.events(h.id)) == 2 for h in store.host_list())


def _hold_lock(db: str, seconds: float) -> subprocess.Popen[str]:
    code = (
        "import sqlite3,sys,time\n"
        f"c=sqlite3.connect({db!r}, isolation_level=None)\n"
        "c.execute('BEGIN IMMEDIATE'); print('locked', flush=True)\n"
        f"time.sleep({seconds}); c.execute('COMMIT')\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


@pytest.mark.slow
def test_locked_store_burst_loses_nothing_and_keeps_order(
    hook, spool_dir, settings, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    db = settings.database.removeprefix("sqlite:///")
    store = SQLiteStore(db, busy_timeout_ms=300)
    service = IngestService(store, str(spool_dir), poll=0.5)
    service.start()
    macs = [f"52:54:00:00:01:{i:02x}" for i in range(50)]
    locker = None
    try:
        for n in range(1000):
            if n == 300:
                locker = _hold_lock(db, 5.0)
            mac = macs[n % 50]
            fire(
                hook,
                spool_dir,
                "add" if n < 50 else "old",
                mac,
                f"10.1.{n // 256}.{n % 256}",
                DNSMASQ_INTERFACE="eth0",
            )
        locker.wait(timeout=30)
        deadline = time.monotonic() + 60
        while Spool(str(spool_dir)).pending_bytes() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        service.stop()
    assert Spool(str(spool_dir)).pending_bytes() == 0
    assert service.ingester.totals["blocked"] > 0  # the lock really stopped the ingester
    total = 0
    for i, mac in enumerate(macs):
        host = store.host_get(mac)
        seq = [
            int(e.data["ip"].split(".")[2]) * 256 + int(e.data["ip"].split(".")[3])
            for e in store.events(host.id)
            if e.kind.startswith("dhcp.")
        ]
        assert seq == list(range(i, 1000, 50))  # every event, in the order the hook ran
        total += len(seq)
    assert total == 1000


def test_hostile_fields_are_stored_clean_and_shown_escaped(hook, spool_dir, store, cli) -> None:  # type: ignore[no-untyped-def]
    name = b"evil\nname\r$(reboot);`id`|'\"\x1b[31m\xff\xfe"
    vendor = b"PXEClient:Arch:00007:UNDI:003000:" + b"\xff" * 222
    fire(
        hook,
        spool_dir,
        "add",
        MAC,
        "10.0.0.5",
        name,
        DNSMASQ_VENDOR_CLASS=vendor,
        DNSMASQ_INTERFACE="eth0",
    )
    Ingester(store, str(spool_dir)).drain()
    host = store.host_get(MAC)
    hostname = host.dhcp_hostname  # what the client calls itself: never its name
    assert host.name == "" and "\x00" not in hostname
    assert hostname.startswith("evil\nname\r$(reboot)")
    assert hostname.encode("utf-8")  # valid UTF-8 (invalid bytes escaped)
    assert host.arch == 7 and len(host.vendor_class) <= 255
    shown = cli("host", "show", MAC)
    assert shown.code == 0
    name_line = next(line for line in shown.out.splitlines() if line.startswith("dhcp hostname"))
    assert "evil\\nname\\r$(reboot)" in name_line and "\x1b" not in shown.out
    assert len(shown.out.splitlines()) == 19  # no field broke out onto its own line
    as_json = json.loads(cli("host", "show", MAC, "--json").out)
    assert as_json["dhcp_hostname"] == host.dhcp_hostname


def test_serve_capture_service_ingests_in_the_background(hook, ctx) -> None:  # type: ignore[no-untyped-def]
    from pxehook.capture.service import factory
    from tests.harness.capture import wait_for

    service = factory(ctx)
    assert [p.name for p in service.parts] == ["spool-ingester"]  # no listener/leases set
    service.start()
    try:
        add(hook, Path(ctx.settings.spool_dir), DNSMASQ_TAGS="pxh-efi-arm64")
        wait_for(lambda: ctx.store().host_get(MAC) is not None, what="the background ingester")
    finally:
        service.stop()
    assert ctx.store().host_get(MAC).arch == 11


def test_two_ingesters_take_turns_without_applying_twice(hook, spool_dir, store) -> None:  # type: ignore[no-untyped-def]
    first, second = Ingester(store, str(spool_dir), batch=2), Ingester(store, str(spool_dir))
    for i in range(6):
        add(hook, spool_dir, ip=f"10.0.0.{i + 1}")
    first.run_once()  # applies two
    with first.spool.exclusive():  # e.g. 'pxehook serve' is in the middle of a pass
        assert second.run_once().blocked
    assert second.drain().outcomes == {"event": 4}  # resumed at the saved position
    assert first.drain().records == 0
    host = store.host_get(MAC)
    assert [e.data["ip"] for e in store.events(host.id) if e.kind == "dhcp.add"] == [
        f"10.0.0.{i + 1}" for i in range(6)
    ]


def _settle(count, quiet: float = 1.0, limit: float = 20.0) -> int:  # type: ignore[no-untyped-def]
    """Wait until ``count()`` has not moved for ``quiet`` seconds; return its value."""
    deadline = time.monotonic() + limit
    value = count()
    while time.monotonic() < deadline:
        time.sleep(quiet)
        if count() == value:
            return value
        value = count()
    return value


def test_idle_ingester_does_not_wake_itself(hook, spool_dir, store) -> None:  # type: ignore[no-untyped-def]
    """Regression: the ingester's own reads of the spool woke it again, forever (an idle
    `pxehook serve` burned 25-120 % of a core). With the periodic poll out of the way,
    one hook event costs a handful of passes, and then nothing happens at all."""
    service = IngestService(store, str(spool_dir), poll=3600)
    service.start()
    try:
        add(hook, spool_dir)
        deadline = time.monotonic() + 20
        while store.host_get(MAC) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.host_get(MAC) is not None
        settled = _settle(lambda: service.passes)
        time.sleep(2.0)
        idle_passes = service.passes - settled
    finally:
        service.stop()
    assert settled <= 10, f"{settled} passes for one event"
    assert idle_passes == 0, f"{idle_passes} passes in 2 s with nothing to do"


def test_idle_lease_watcher_does_not_wake_itself(store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The lease watcher reads its files on every pass; those reads must not wake it."""
    from pxehook.capture.leases import LeaseWatchService

    leases = tmp_path / "dnsmasq.leases"
    leases.write_text(f"2000000000 {MAC} 10.0.0.9 node9 *\n")
    service = LeaseWatchService(store, [("dnsmasq", str(leases))], poll=3600)
    service.start()
    try:
        deadline = time.monotonic() + 20
        while store.host_get(MAC) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.host_get(MAC) is not None
        settled = _settle(lambda: service.passes)
        time.sleep(2.0)
        idle_passes = service.passes - settled
    finally:
        service.stop()
    assert idle_passes == 0, f"{idle_passes} scans in 2 s with nothing to do"
