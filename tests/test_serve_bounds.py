"""What the network can make ``pxehook serve`` write, bounded; a full disk fails safe.

Real gunicorn, real curl, a real (small) tmpfs. Unknown MACs from boot requests are enlisted
within ``enlist_per_hour``; refused install-done callbacks reach a host's timeline at most
``callback_refusals_logged`` times an hour; both count what they dropped in /metrics. With
the database's file system full, an unknown machine still gets the local-boot answer.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pxehook.lifecycle.callback import deploy_token
from pxehook.lifecycle.table import deployment_of
from pxehook.models import State
from tests.boot_server import BootServer, curl
from tests.conftest import SAMPLE_INVENTORY
from tests.lifecycle_fixtures import HostMaker

pytestmark = pytest.mark.daemon


def dropped(url: str, what: str) -> int:
    status, body = curl(url + "/metrics")
    assert status == 200
    found = re.search(rf'pxehook_dropped_total{{what="{what}"}} (\d+)', body.decode())
    assert found, body.decode()[-500:]
    return int(found.group(1))


def unknown_mac(i: int) -> str:
    return f"52-54-00-ee-{i >> 8:02x}-{i & 255:02x}"


@pytest.fixture
def server(tmp_path: Path, pxehook_bin: str) -> Iterator[BootServer]:
    srv = BootServer(
        tmp_path, SAMPLE_INVENTORY, pxehook_bin,
        PXEHOOK_WORKERS="1", PXEHOOK_ENLIST_PER_HOUR="5",
    ).start()  # fmt: skip
    yield srv
    srv.stop()


def test_unknown_macs_are_enlisted_within_the_budget(server: BootServer) -> None:
    store = server.ctx.store()
    before = store.host_count(state=State.NEW)
    for i in range(20):
        status, body = curl(f"{server.url}/ipxe/{unknown_mac(i)}")
        assert status == 200 and b"#!ipxe" in body  # answered all the same
    assert store.host_count(state=State.NEW) - before == 5
    assert dropped(server.url, "enlist_refused") == 15


def test_refused_callbacks_reach_the_timeline_a_bounded_number_of_times(
    server: BootServer,
) -> None:
    store = server.ctx.store()
    # the installer calls from the host's trusted IP (the DHCP hook recorded 127.0.0.1)
    host = HostMaker(store)(State.DEPLOYING, ip="127.0.0.1")
    assert host.id is not None
    url = f"{server.url}/api/v1/hosts/{host.mac}/deployed"
    for _ in range(30):
        assert curl(url + "?token=guess", "-X", "POST")[0] == 403
    refused = [e for e in store.events(host.id) if e.kind == "callback.refused"]
    assert len(refused) == 10  # callback_refusals_logged
    assert dropped(server.url, "callback_event_dropped") == 20
    token = deploy_token(store, host.id, deployment_of(host))
    assert curl(f"{url}?token={token}", "-X", "POST")[0] == 200  # the real installer
    assert store.host_get(host.mac).state == State.DEPLOYED


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs (needs root), unmounted afterwards."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a real full file system needs root (mount -t tmpfs)")
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder: Path) -> None:
    """Write until the file system says ENOSPC."""
    try:
        with open(folder / "filler", "wb") as fh:
            while True:
                fh.write(b"\0" * 4096)
                fh.flush()
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    print({p.name: p.stat().st_size for p in folder.iterdir()})


def test_a_full_disk_gives_unknown_machines_the_local_boot_answer(
    tmp_path: Path, small_fs: Path, pxehook_bin: str
) -> None:
    srv = BootServer(
        tmp_path, SAMPLE_INVENTORY, pxehook_bin,
        PXEHOOK_DATABASE=f"sqlite:///{small_fs}/pxehook.db", PXEHOOK_WORKERS="1",
    ).start()  # fmt: skip
    try:
        fill(small_fs)
        for i in range(200):
            status, body = curl(f"{srv.url}/ipxe/{unknown_mac(i)}?buildarch=x86_64&platform=efi")
            assert status == 200, body[:300]
            assert b"boots from its local disk" in body
        assert dropped(srv.url, "boot_write_failed") > 0  # the failure path was taken
        status, body = curl(f"{srv.url}/ipxe/52-54-00-12-34-01")
        assert status == 200
    finally:
        srv.stop()
