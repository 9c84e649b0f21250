"""End to end over real HTTP: ``pxehook serve`` (gunicorn + the life-cycle sweeper) on a
free loopback port with a temp database, driven by the clients installers really use
(busybox wget, curl). Boot routes belong to the resolver; where a test stands in for a
boot it calls the resolver's seam (pxehook.boot.hooks) on the same database."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from pxehook.config import load_settings
from pxehook.context import Context
from pxehook.lifecycle.hooks import LifecycleBootHooks
from pxehook.models import IpSource, Observation
from tests.conftest import require_tool
from tests.lifecycle_fixtures import *  # noqa: F403
from tests.lifecycle_fixtures import LiveServer, admin_token, start_server

pytestmark = [pytest.mark.daemon]


def _admin(server: LiveServer) -> dict[str, str]:
    return {"Authorization": "Bearer " + admin_token(server)}


def _deploy(server: LiveServer, admin: dict[str, str], mac: str, profile: str) -> dict:
    status, _ = server.call(
        "POST", "/api/v1/hosts", {"mac": mac, "profile": profile}, headers=admin
    )
    assert status == 201
    status, body = server.call("POST", f"/api/v1/hosts/{mac}/actions/deploy", {}, headers=admin)
    assert status == 200 and body["state"] == "deploying", body
    return body


def _state(server: LiveServer, admin: dict[str, str], mac: str) -> dict:
    status, body = server.call("GET", f"/api/v1/hosts/{mac}/state", headers=admin)
    assert status == 200, body
    return body


@contextmanager
def _ctx(server: LiveServer) -> Iterator[Context]:
    """A Context on the server's database (as the DHCP hook or the resolver has)."""
    ctx = Context(load_settings(env=server.env))
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def server(shared_server: LiveServer) -> LiveServer:
    return shared_server


def test_callback_with_the_token_deploys(server: LiveServer) -> None:
    require_tool("busybox")
    admin = _admin(server)
    mac = "52:54:00:e2:00:01"
    body = _deploy(server, admin, mac, "installer")
    assert body["callback_url"] == f"{server.base_url}/api/v1/hosts/{mac}/deployed"
    with _ctx(server) as ctx:  # what the DHCP hook records: the installer's address
        ctx.store().observe(
            Observation(mac=mac, source="dnsmasq", ip="127.0.0.1", ip_source=IpSource.HOOK)
        )
    forged = subprocess.run(
        [
            "busybox",
            "wget",
            "-q",
            "-O",
            "-",
            "--post-data",
            "token=" + "0" * 32,
            body["callback_url"],
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert forged.returncode != 0 and _state(server, admin, mac)["state"] == "deploying"
    # exactly what the Debian preseed late_command runs (busybox wget in the installer)
    done = subprocess.run(
        [
            "busybox",
            "wget",
            "-q",
            "-O",
            "-",
            "--post-data",
            f"token={body['deploy_token']}",
            body["callback_url"],
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"mac": mac, "state": "deployed", "changed": True}
    assert _state(server, admin, mac)["state"] == "deployed"
    status, again = server.call(
        "POST",
        body["callback_url"].replace(server.base_url, ""),
        raw=f"token={body['deploy_token']}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert (status, again["changed"]) == (200, False)
    _, events = server.call("GET", f"/api/v1/hosts/{mac}/events", headers=admin)
    kinds = [(e["kind"], e["source"]) for e in events]
    assert ("callback.refused", "callback:127.0.0.1") in kinds
    assert kinds[0] == ("state.changed", "callback:127.0.0.1")  # newest first


def test_pxe_pilot_curl_from_the_host_itself(server: LiveServer) -> None:
    require_tool("curl")
    admin = _admin(server)
    mac = "23:34:a3:e9:09:cc"
    _deploy(server, admin, mac, "installer")
    with _ctx(server) as ctx:  # what the DHCP hook records
        ctx.store().observe(
            Observation(mac=mac, source="dnsmasq", ip="127.0.0.2", ip_source=IpSource.HOOK)
        )
    seed = [
        "curl",
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-X",
        "PUT",
        f"http://127.0.0.1:{server.port}/configurations/local/deploy",
        "-d",
        '{"hosts":[{"macAddress":"23:34:a3:e9:09:cc"}]}',
    ]
    other = subprocess.run(
        [*seed, "--interface", "127.0.0.3"], capture_output=True, text=True, timeout=30
    )
    assert other.stdout == "401" and _state(server, admin, mac)["state"] == "deploying"
    own = subprocess.run(
        [*seed, "--interface", "127.0.0.2"], capture_output=True, text=True, timeout=30
    )
    assert own.stdout == "200", own.stderr
    assert _state(server, admin, mac)["state"] == "deployed"
    _, hosts = server.call("GET", "/v1/hosts", headers=admin)
    assert {
        "name": mac,
        "macAddresses": [mac],
        "configuration": {"name": "local"},
        "ipmi": None,
    } in hosts


def test_boot_once_goes_local_after_the_install_session(server: LiveServer) -> None:
    admin = _admin(server)
    mac = "52:54:00:e2:00:03"
    _deploy(server, admin, mac, "oneshot")
    with _ctx(server) as ctx:  # the resolver served the install kernel and initrd
        host = ctx.store().host_get(mac)
        host = LifecycleBootHooks(ctx).on_boot_event(
            host, "boot.config", {"action": "profile", "path": "/boot.ipxe"}
        )
        for path in ("/linux", "/initrd.gz"):
            host = LifecycleBootHooks(ctx).on_boot_event(host, "boot.kernel", {"path": path})
    assert host.meta["boot_once"]["sessions"] == 1 and host.state == "deploying"
    server.wait_for(lambda: _state(server, admin, mac)["state"] == "deployed", 20, "boot-once")
    _, events = server.call("GET", f"/api/v1/hosts/{mac}/events", headers=admin)
    assert events[0]["source"] == "boot-once"  # newest first


def test_timeout_moves_a_silent_host_to_failed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with start_server(tmp_path / "srv", deploy_timeout="3") as server:
        admin = _admin(server)
        mac = "52:54:00:e2:00:04"
        _deploy(server, admin, mac, "installer")
        got = server.wait_for(
            lambda: (s := _state(server, admin, mac))["state"] == "failed" and s, 30, "time-out"
        )
        assert got["failure"] == "deployment"
        _, events = server.call("GET", f"/api/v1/hosts/{mac}/events", headers=admin)
        newest = [(e["kind"], e["source"]) for e in events[:4]]
        assert newest[0] == ("state.changed", "timeout"), (newest, server.tail())
        time.sleep(2)  # further sweeps never move it back to installing
        assert _state(server, admin, mac)["state"] == "failed"
