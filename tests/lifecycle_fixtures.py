"""Fixtures for life-cycle and API tests: an app, tokens, hosts in any state, and a real
``pxehook serve`` on a free loopback port (``live_server``), which the end-to-end tests of
other areas can reuse (import the fixtures: ``from tests.lifecycle_fixtures import *``)."""

from __future__ import annotations

import http.client
import ipaddress
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from pxehook import tokens
from pxehook.mac import normalize_mac
from pxehook.models import Host, IpSource, Profile, State
from pxehook.store import Store
from pxehook.templating import packaged_templates_dir

__all__ = [
    "HostMaker",
    "LiveServer",
    "admin_headers",
    "admin_token",
    "api_client",
    "free_port",
    "live_server",
    "make_host",
    "read_headers",
    "shared_server",
    "start_server",
]

PROFILES = [
    Profile(name="installer", kind="installer", kernel={"x86": "http://files/linux"}),
    Profile(name="oneshot", kind="installer", one_shot=True, kernel={"x86": "http://f/linux"}),
    Profile(name="rescue", kind="live", kernel={"x86": "http://files/rescue"}),
    Profile(name="local", kind="local"),
]


class HostMaker:
    """Creates hosts directly in a given state (test set-up, not a life-cycle path)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.n = 0
        store.profiles_replace(PROFILES)

    def __call__(
        self,
        state: State = State.NEW,
        *,
        mac: str | None = None,
        profile: str = "installer",
        ip: str = "",
        ip_source: str | None = None,
        name: str = "",
        **meta: Any,
    ) -> Host:
        """``ip`` counts as the DHCP server's hook recorded it unless ``ip_source`` says."""
        self.n += 1
        mac = normalize_mac(mac or f"52:54:00:aa:00:{self.n:02x}")
        source = (IpSource.HOOK if ip else IpSource.NONE) if ip_source is None else ip_source
        host = Host(
            id=None, macs=(mac,), name=name, profile=profile, ip=ip, ip_source=source,
            state=state, state_changed=time.time(), meta=dict(meta),
        )  # fmt: skip
        return self.store.host_put(host, source="test")


@pytest.fixture
def make_host(store: Store) -> HostMaker:
    return HostMaker(store)


@pytest.fixture
def api_client(settings, store):  # type: ignore[no-untyped-def]
    """Flask test client over the same database as ``store``."""
    from pxehook.web import create_app

    app = create_app(settings)
    with app.test_client() as client:
        yield client


@pytest.fixture
def admin_headers(store: Store) -> dict[str, str]:
    return {"Authorization": "Bearer " + tokens.create(store, "test-admin", "admin")}


@pytest.fixture
def read_headers(store: Store) -> dict[str, str]:
    return {"Authorization": "Bearer " + tokens.create(store, "test-read", "read")}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _loopback(address: str) -> str:
    if not ipaddress.ip_address(address).is_loopback:
        raise ValueError(f"refusing non-loopback address {address}")
    return address


@dataclass
class LiveServer:
    """A running ``pxehook serve``; ``call`` speaks real HTTP, from any loopback source."""

    host: str
    port: int
    env: dict[str, str]
    proc: subprocess.Popen[bytes]
    log: Path
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        source_ip: str = "127.0.0.1",
        raw: str | None = None,
    ) -> tuple[int, Any]:
        """One request; returns (status, parsed JSON or text). Loopback only."""
        _loopback(self.host)
        conn = http.client.HTTPConnection(
            self.host, self.port, timeout=10, source_address=(_loopback(source_ip), 0)
        )
        data = raw if raw is not None else (None if body is None else json.dumps(body))
        hdrs = dict(headers or {})
        if body is not None and raw is None:
            hdrs.setdefault("Content-Type", "application/json")
        try:
            conn.request(method, path, body=data, headers=hdrs)
            response = conn.getresponse()
            text = response.read().decode()
        finally:
            conn.close()
        try:
            return response.status, json.loads(text) if text else None
        except ValueError:
            return response.status, text

    def wait_for(self, predicate, timeout: float = 20.0, what: str = "condition") -> Any:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}; log:\n{self.tail()}")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


@contextmanager
def start_server(workdir: Path, **settings: str) -> Iterator[LiveServer]:
    """``pxehook serve`` on a free 127.0.0.1 port over a fresh database in ``workdir``
    (the sample inventory plus PROFILES), 1 worker, and short life-cycle timers: sweep
    1 s, boot-once window 2 s; ``settings`` override (``deploy_timeout="3"``). Stopped (by
    PID) on exit."""
    pxehook_bin = str(Path(sys.executable).parent / "pxehook")
    workdir.mkdir(parents=True, exist_ok=True)
    inventory = workdir / "inventory.yaml"
    shutil.copy(Path(packaged_templates_dir()) / "samples" / "inventory.yaml", inventory)
    _add_test_profiles(inventory)
    port = free_port()
    full_env = {
        **os.environ,
        "PXEHOOK_DATABASE": f"sqlite:///{workdir}/pxehook.db",
        "PXEHOOK_INVENTORY": str(inventory),
        "PXEHOOK_STATE_DIR": str(workdir / "state"),
        "PXEHOOK_SPOOL_DIR": str(workdir / "spool"),
        "PXEHOOK_TFTP_ROOT": str(workdir / "tftp"),
        "PXEHOOK_BIND": "127.0.0.1",
        "PXEHOOK_PORT": str(port),
        "PXEHOOK_WORKERS": "1",
        "PXEHOOK_HTTP_BASE_URL": f"http://127.0.0.1:{port}",
        "PXEHOOK_LIFECYCLE_SWEEP_INTERVAL": "1",
        "PXEHOOK_BOOT_ONCE_WINDOW": "2",
        **{f"PXEHOOK_{k.upper()}": str(v) for k, v in settings.items()},
    }
    full_env.pop("PXEHOOK_CONFIG", None)
    subprocess.run([pxehook_bin, "db", "init"], env=full_env, check=True, capture_output=True)
    log = workdir / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([pxehook_bin, "serve"], env=full_env, stdout=out, stderr=out)
    server = LiveServer("127.0.0.1", port, full_env, proc, log, {"bin": pxehook_bin})
    try:
        server.wait_for(lambda: _healthy(server), timeout=30, what="pxehook serve to answer")
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A server of this test's own (see ``start_server``)."""
    with start_server(tmp_path / "live") as server:
        yield server


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for a whole test module: tests must use their own MACs and token names."""
    with start_server(tmp_path_factory.mktemp("shared")) as server:
        yield server


def admin_token(server: LiveServer, scope: str = "admin") -> str:
    """A new token (unique name) made with the real CLI against ``server``'s database."""
    name = f"t-{uuid.uuid4().hex[:12]}"
    out = subprocess.run(
        [server.extra["bin"], "token", "create", name, "--scope", scope],
        env=server.env, capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    return out.stdout.strip()


def _add_test_profiles(inventory: Path) -> None:
    """Add PROFILES (e.g. the one-shot ``oneshot``) to the test's inventory copy."""
    data = yaml.safe_load(inventory.read_text()) or {}
    profiles = data.setdefault("profiles", {})
    for p in PROFILES:
        body = {k: v for k, v in p.as_dict().items() if k != "name" and v not in ({}, "", [])}
        profiles.setdefault(p.name, body)
    inventory.write_text(yaml.safe_dump(data, sort_keys=False))


def _healthy(server: LiveServer) -> bool:
    if server.proc.poll() is not None:
        raise AssertionError(f"pxehook serve exited {server.proc.returncode}:\n{server.tail()}")
    try:
        return server.call("GET", "/healthz")[0] == 200
    except OSError:
        return False
