"""A real ``pxehook serve``: every line of its log (supervisor, gunicorn, workers, access
log) in one format; one line per state change; the access log keeps query strings (a
deploy token) out and cannot be made to forge a line; gunicorn's control socket lives in
the state directory, owner only, and answers ``gunicornc``."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pxehook import tokens
from tests.boot_server import BootServer, curl
from tests.test_serve_supervisor import inventory

LINE = re.compile(
    r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} (DEBUG|INFO|WARNING|ERROR|CRITICAL) "
    r"\[\d+\] [A-Za-z0-9_.]+: "
)
SECRET = "s3cr3tDeployToken0123456789abcdef"


@pytest.fixture
def server(tmp_path: Path, pxehook_bin: str) -> Iterator[BootServer]:
    srv = BootServer(tmp_path, inventory(tmp_path), pxehook_bin,
                     PXEHOOK_HTTP_ACCESS_LOG="-", PXEHOOK_LOG_LEVEL="info")  # fmt: skip
    yield srv
    srv.stop()


def test_one_format_state_lines_and_a_safe_access_log(server: BootServer) -> None:
    server.start(services=True)
    admin = tokens.create(server.ctx.store(), "ops", "admin")
    assert curl(server.url + "/ipxe/52:54:00:12:34:02")[0] == 200
    status, _ = curl(f"{server.url}/api/v1/hosts/node02/actions/release", "-X", "POST",
                     "-H", f"Authorization: Bearer {admin}")  # fmt: skip
    assert status == 200
    curl(f"{server.url}/api/v1/hosts/node01/deployed?token={SECRET}", "-X", "POST")
    forged = "2020-01-01T00:00:00+0000 INFO [1] pxehook.state: host forged"
    forged_path = "/ipxe/x%0a" + forged.replace(" ", "%20")
    assert curl(server.url + forged_path, "--globoff")[0] == 400  # not a MAC
    time.sleep(1.0)  # each line is flushed as written
    text = (server.workdir / "serve.log").read_text()
    lines = [line for line in text.splitlines() if line.strip()]

    assert lines and [line for line in lines if not LINE.match(line)] == []
    names = {line.split("]", 1)[1].split(":", 1)[0].strip() for line in lines}
    assert {"gunicorn.error", "gunicorn.access", "pxehook.serve", "pxehook.state"} <= names
    state = [line for line in lines if " pxehook.state: " in line]
    assert len(state) == 1 and "node02" in state[0] and "deployed -> ready by api:ops" in state[0]
    access = [line for line in lines if " gunicorn.access: " in line]
    assert any('"GET /ipxe/52:54:00:12:34:02" 200' in line for line in access), access
    assert any('"POST /api/v1/hosts/node01/deployed" 4' in line for line in access), access
    assert SECRET not in text
    assert not any(line.startswith("2020-01-01") for line in lines)
    assert any(f'"GET {forged_path}" 400' in line for line in access)  # as sent, one line


def test_control_socket_in_the_state_directory(server: BootServer) -> None:
    server.start()
    ctl = server.workdir / "state" / "gunicorn.ctl"
    deadline = time.monotonic() + 10
    while not ctl.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    mode = os.stat(ctl).st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
    client = Path(sys.executable).parent / "gunicornc"
    done = subprocess.run([str(client), "-s", str(ctl), "-c", "show workers", "-j"],
                          capture_output=True, text=True, timeout=30)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["workers"]) == server.ctx.settings.workers
