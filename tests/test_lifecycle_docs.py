"""The commands in docs/api.md and the installer snippets in docs/lifecycle.md really run:
against a real ``pxehook serve``, with a fake /proc/cmdline carrying the callback."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import jinja2
import pytest
import yaml

from pxehook.config import load_settings
from pxehook.context import Context
from pxehook.models import IpSource, Observation
from tests.conftest import require_tool
from tests.lifecycle_fixtures import *  # noqa: F403
from tests.lifecycle_fixtures import LiveServer, admin_token

DOCS = Path(__file__).resolve().parent.parent / "docs"
pytestmark = [pytest.mark.daemon]


def block(doc: str, marker: str) -> str:
    """The fenced code block that follows ``<!-- marker -->`` in docs/<doc>."""
    text = (DOCS / doc).read_text()
    found = re.search(rf"<!-- {re.escape(marker)} -->\n```[a-z]*\n(.*?)```", text, re.S)
    assert found, f"docs/{doc} has no block after <!-- {marker} -->"
    return found.group(1)


@pytest.fixture
def server(shared_server: LiveServer) -> LiveServer:
    return shared_server


def record_lease(env: dict[str, str], mac: str, ip: str = "127.0.0.1") -> None:
    """What the DHCP server's hook records when the machine gets its lease: its trusted IP
    (the tests' callers all come from 127.0.0.1). ``env``: the server's settings."""
    ctx = Context(load_settings(env=env))
    try:
        ctx.store().observe(Observation(mac=mac, source="dnsmasq", ip=ip, ip_source=IpSource.HOOK))
    finally:
        ctx.close()


_RECORD = "import os, tests.test_lifecycle_docs as d; d.record_lease(dict(os.environ), {mac!r})"


def test_api_examples_run(server: LiveServer) -> None:
    require_tool("curl", "jq")
    env = {**server.env, "PXEHOOK": server.base_url}
    env.update(TOKEN=admin_token(server), RO=admin_token(server, "read"))
    lease = shlex.join([sys.executable, "-c", _RECORD.format(mac="52:54:00:12:34:99")])
    script = "\n".join([
        "set -euo pipefail", f"cd {shlex.quote(str(Path(__file__).parent.parent))}",
        block("api.md", "run: api-examples"), lease,
        block("api.md", "run: api-callback"), block("api.md", "run: api-more"),
    ])  # fmt: skip
    done = subprocess.run(
        ["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "state.changed" in done.stdout and "deploying" in done.stdout
    status, host = server.call(
        "GET", "/api/v1/hosts/52:54:00:12:34:98", headers={"Authorization": "Bearer " + env["RO"]}
    )
    assert (
        status == 200 and host["labels"] == {"rack": "r1"} and host["profile"] == "debian-installer"
    )


def _deploying(server: LiveServer, admin: str, mac: str) -> tuple[dict, str]:
    headers = {"Authorization": "Bearer " + admin}
    assert (
        server.call("POST", "/api/v1/hosts", {"mac": mac, "profile": "installer"}, headers=headers)[
            0
        ]
        == 201
    )
    status, body = server.call("POST", f"/api/v1/hosts/{mac}/actions/deploy", {}, headers=headers)
    assert status == 200
    record_lease(server.env, mac)  # the snippets run on "the machine": 127.0.0.1
    cmdline = (
        f"BOOT_IMAGE=/linux auto=true priority=critical pxehook.callback={body['callback_url']} "
        f"pxehook.token={body['deploy_token']} quiet\n"
    )
    return body, cmdline


def _state(server: LiveServer, admin: str, mac: str) -> str:
    return server.call(
        "GET", f"/api/v1/hosts/{mac}/state", headers={"Authorization": "Bearer " + admin}
    )[1]["state"]


def _busybox_path(tmp_path: Path) -> str:
    """A PATH holding only busybox applets, like the debian-installer environment."""
    bindir = tmp_path / "d-i-bin"
    bindir.mkdir()
    busybox = subprocess.run(
        ["sh", "-c", "command -v busybox"], capture_output=True, text=True
    ).stdout.strip()
    for applet in ("sh", "tr", "sed", "wget"):
        os.symlink(busybox, bindir / applet)
    return str(bindir)


def _run_snippet(kind: str, server: LiveServer, tmp_path: Path, admin: str, mac: str) -> None:
    body, cmdline = _deploying(server, admin, mac)
    fake = tmp_path / f"cmdline-{kind}"
    fake.write_text(cmdline)
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    if kind == "preseed":
        text = block("lifecycle.md", "snippet: preseed").replace("\\\n", " ")
        script = text.split("late_command string", 1)[1]
        env["PATH"] = _busybox_path(tmp_path)
        commands = [["sh", "-c", script]]
    elif kind == "kickstart":
        lines = block("lifecycle.md", "snippet: kickstart").splitlines()
        commands = [
            [
                "sh",
                "-c",
                "\n".join(lines[lines.index("%post --nochroot") + 1 : lines.index("%end")]),
            ]
        ]
    elif kind == "autoinstall":
        data = yaml.safe_load(block("lifecycle.md", "snippet: autoinstall"))
        commands = [["sh", "-c", c] for c in data["autoinstall"]["late-commands"]]
    else:
        text = jinja2.Template(block("lifecycle.md", "snippet: cloud-init")).render(
            callback_url=body["callback_url"], deploy_token=body["deploy_token"]
        )
        commands = yaml.safe_load(text)["runcmd"]
    for argv in commands:
        argv = [a.replace("/proc/cmdline", str(fake)) for a in argv]
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"{kind}: {done.stdout}{done.stderr}"


@pytest.mark.parametrize("kind", ["preseed", "kickstart", "autoinstall", "cloud-init"])
def test_installer_snippets_call_back(server: LiveServer, tmp_path: Path, kind: str) -> None:
    require_tool("busybox", "curl")
    admin = admin_token(server)
    mac = {
        "preseed": "52:54:00:d0:00:01",
        "kickstart": "52:54:00:d0:00:02",
        "autoinstall": "52:54:00:d0:00:03",
        "cloud-init": "52:54:00:d0:00:04",
    }[kind]
    _run_snippet(kind, server, tmp_path, admin, mac)
    assert _state(server, admin, mac) == "deployed"
