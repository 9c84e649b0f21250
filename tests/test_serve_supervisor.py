"""``pxehook serve`` as a supervisor, with real processes: ``kill -9``, restarts, a service
failing for a real reason (its UDP port taken, its directory removed, a broken inventory
edit) and ``/healthz`` saying which part is down (docs/operations.md, failure behaviour)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pxehook import children
from tests.boot_server import LOOPBACK, BootServer, curl
from tests.conftest import SAMPLE_INVENTORY

pytestmark = pytest.mark.daemon


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def health(url: str) -> tuple[int, dict]:
    status, body = curl(url + "/healthz")
    return status, json.loads(body) if body.startswith(b"{") else {}


def problem(url: str, part: str) -> str:
    return str(health(url)[1].get("problems", {}).get(part, ""))


def alive(pid: int) -> bool:
    return "pxehook.web" in children.cmdline(pid)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def inventory(tmp_path: Path) -> Path:
    """A copy of the sample inventory the test may edit."""
    path = tmp_path / "inventory.yaml"
    shutil.copy(SAMPLE_INVENTORY, path)
    return path


@pytest.fixture
def server(tmp_path: Path, pxehook_bin: str) -> Iterator[BootServer]:
    srv = BootServer(tmp_path, inventory(tmp_path), pxehook_bin)
    yield srv
    srv.stop()


def test_kill_9_takes_gunicorn_down_and_a_restart_binds(server: BootServer) -> None:
    server.start(services=True)
    gunicorn = children.read_pid(str(server.workdir / "state" / "gunicorn.pid"))
    tree = [gunicorn, *children.children_of(gunicorn)]
    assert len(tree) >= 2 and all(alive(p) for p in tree)
    assert server.proc is not None
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(timeout=5)
    wait_until(lambda: not any(alive(p) for p in tree), 5, "gunicorn to die with serve")
    assert curl(server.url + "/healthz")[0] == 0, "nothing may answer without the supervisor"
    server.start(services=True)  # same port, at once
    assert health(server.url)[0] == 200
    assert "Connection in use" not in server.log_text()


def test_a_gunicorn_left_running_is_removed_at_start(server: BootServer) -> None:
    """A gunicorn of an earlier supervisor (here: its parent is not ``pxehook serve``)
    holding the port and pid file is stopped by the next start, which then binds."""
    state = server.workdir / "state"
    env = {**os.environ, **server.env}
    orphan = subprocess.Popen(
        [sys.executable, "-m", "pxehook.web.gunicorn_main", "--bind",
         f"{LOOPBACK}:{server.port}", "--pid", str(state / "gunicorn.pid"),
         "--no-control-socket", "pxehook.web:create_app()"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        wait_until(lambda: curl(server.url + "/healthz")[0] == 200, 20, "the orphan")
        server.start(services=True)  # returns at once: the orphan answers /healthz
        assert orphan.wait(timeout=10) == -signal.SIGKILL
        wait_until(lambda: health(server.url)[0] == 200, 20, "the new server")
        assert "left running by an earlier pxehook serve" in server.log_text()
        assert server.proc is not None and server.proc.poll() is None
    finally:
        if orphan.poll() is None:
            os.killpg(orphan.pid, signal.SIGKILL)
            orphan.wait()


def test_a_second_serve_does_not_kill_the_first(server: BootServer, pxehook_bin: str) -> None:
    server.start(services=True)
    env = {**os.environ, **server.env}
    second = subprocess.run(
        [pxehook_bin, "serve"], env=env, capture_output=True, text=True, timeout=30
    )
    assert second.returncode != 0
    assert "another server" in second.stderr and "Traceback" not in second.stderr
    assert health(server.url)[0] == 200


def test_tftp_port_taken_is_reported_and_retried(tmp_path: Path, pxehook_bin: str) -> None:
    port = free_udp_port()
    blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    blocker.bind((LOOPBACK, port))
    srv = BootServer(
        tmp_path, inventory(tmp_path), pxehook_bin, PXEHOOK_TFTP_SERVE="true",
        PXEHOOK_TFTP_BIND=LOOPBACK, PXEHOOK_TFTP_PORT=str(port),
    )  # fmt: skip
    try:
        srv.proc = None
        _start_unhealthy(srv)
        status, body = health(srv.url)
        assert status == 503
        assert "address already in use" in body["problems"]["tftp"]
        assert body["services"]["capture"] == "running"
        assert body["services"]["lifecycle-sweeper"] == "running"
        assert "Traceback" not in srv.log_text()
        assert f"tftp is down (tftp: cannot bind {LOOPBACK}:{port}: address already in use" in (
            srv.log_text()
        )
        blocker.close()
        wait_until(lambda: health(srv.url)[0] == 200, 15, "tftp to start once the port is free")
        assert health(srv.url)[1]["services"]["tftp"] == "running"
    finally:
        blocker.close()
        srv.stop()


def _start_unhealthy(srv: BootServer) -> None:
    """Start serve and wait for it to answer at all (healthz may well be 503)."""
    try:
        srv.start(services=True, timeout=8)
    except RuntimeError:
        wait_until(lambda: curl(srv.url + "/healthz")[0] in (200, 503), 20, "serve")


def test_spool_directory_removed_is_reported_then_recovered(server: BootServer) -> None:
    server.start(services=True)
    spool = Path(server.env["PXEHOOK_SPOOL_DIR"])
    assert spool.is_dir()
    shutil.rmtree(spool)
    wait_until(lambda: health(server.url)[0] == 503, 10, "healthz to notice")
    assert "capture" in health(server.url)[1]["problems"]
    wait_until(lambda: health(server.url)[0] == 200, 15, "capture to be restarted")
    assert spool.is_dir()
    assert "capture is down (stopped unexpectedly)" in server.log_text()


def test_broken_inventory_edit_is_unhealthy_until_fixed(server: BootServer) -> None:
    server.start(services=True)
    inventory = Path(server.env["PXEHOOK_INVENTORY"])
    good = inventory.read_text()
    inventory.write_text(good + "\nhosts: [unclosed\n")
    assert health(server.url)[0] == 503  # at once: the file on disk is not in force
    wait_until(lambda: "not applied" in problem(server.url, "inventory"), 10, "the parse error")
    assert health(server.url)[0] == 503
    inventory.write_text(good + "\n# fixed\n")
    wait_until(lambda: health(server.url)[0] == 200, 10, "the fixed inventory to apply")
