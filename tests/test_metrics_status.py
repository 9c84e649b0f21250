"""``/metrics`` of a real ``pxehook serve``: hosts by state, the inventory's status (last
good apply, since when an edit is refused; /healthz agrees), build info, and route labels
a query can use (no ``…``)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pxehook import __version__
from tests.boot_server import BootServer, curl
from tests.test_serve_supervisor import health, inventory, wait_until


@pytest.fixture
def server(tmp_path: Path, pxehook_bin: str) -> Iterator[BootServer]:
    srv = BootServer(tmp_path, inventory(tmp_path), pxehook_bin)
    yield srv
    srv.stop()


def _metrics(url: str) -> dict[str, float]:
    status, body = curl(url + "/metrics")
    assert status == 200
    found = {}
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            found[name] = float(value)
    return found


def _one(values: dict[str, float], prefix: str) -> float:
    (value,) = [v for k, v in values.items() if k.startswith(prefix)]
    return value


def test_hosts_by_state_inventory_status_and_build_info(server: BootServer) -> None:
    server.start(services=True)
    wait_until(lambda: health(server.url)[0] == 200, 15, "the server to answer")
    # the inventory watcher starts once this server holds the fleet's leader lock
    wait_until(lambda: "pxehook_inventory_ok" in "".join(_metrics(server.url)), 15,
               "the inventory to apply")  # fmt: skip
    m = _metrics(server.url)
    assert m['pxehook_hosts{state="deploying"}'] == 1 and m['pxehook_hosts{state="ready"}'] == 0
    assert m['pxehook_hosts{state="deployed"}'] == 1 and m['pxehook_hosts{state="rescue"}'] == 1
    build = [k for k in m if k.startswith("pxehook_build_info")]
    assert len(build) == 1 and f'version="{__version__}"' in build[0]
    assert _one(m, "pxehook_inventory_ok") == 1
    applied = _one(m, "pxehook_inventory_last_apply_timestamp_seconds")
    assert time.time() - 120 < applied <= time.time()
    assert _one(m, "pxehook_inventory_last_error_timestamp_seconds") == 0

    path = Path(server.env["PXEHOOK_INVENTORY"])
    good = path.read_text()
    path.write_text(good + "\nhosts: [unclosed\n")
    wait_until(lambda: _one(_metrics(server.url), "pxehook_inventory_ok") == 0, 10, "refused")
    wait_until(
        lambda: _one(_metrics(server.url), "pxehook_inventory_last_error_timestamp_seconds") > 0,
        10, "the error's time",
    )  # fmt: skip
    m = _metrics(server.url)
    assert _one(m, "pxehook_inventory_last_apply_timestamp_seconds") == applied
    assert health(server.url)[0] == 503
    path.write_text(good + "\n# fixed\n")
    wait_until(lambda: _one(_metrics(server.url), "pxehook_inventory_ok") == 1, 10, "fixed")
    m = _metrics(server.url)
    assert _one(m, "pxehook_inventory_last_error_timestamp_seconds") == 0
    assert _one(m, "pxehook_inventory_last_apply_timestamp_seconds") > applied


def test_route_labels_are_route_templates(server: BootServer) -> None:
    (server.workdir / "files" / "kernel").write_bytes(b"k")
    server.start()
    wanted = {"/grub/<path>", "/files/<path>", "/<dir>/pxelinux.cfg/<name>", "/<dir>/grub.cfg"}
    routes: set[str] = set()

    def counted() -> bool:  # each worker publishes its counts at most once a second
        for path in ("/grub/grub.cfg-01-52-54-00-12-34-02", "/files/kernel",
                     "/pxelinux.cfg/01-52-54-00-12-34-02",
                     "/boot/grub.cfg-01-52-54-00-12-34-02"):  # fmt: skip
            curl(server.url + path)
        time.sleep(0.5)
        found = re.findall(r'route="([^"]*)"', curl(server.url + "/metrics")[1].decode())
        routes.update(found)
        return wanted <= routes

    wait_until(counted, 15, f"every route counted: {routes}")
    assert not any("…" in route for route in routes)
