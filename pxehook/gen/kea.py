"""Kea DHCPv4 configuration: client classes per arch, iPXE, HTTP boot, run_script hook."""

from __future__ import annotations

import json
import socket

from pxehook.daemons import KEA
from pxehook.errors import PxehookError
from pxehook.gen.base import Generator, registry_reload
from pxehook.gen.layout import SiteLayout


def strip_comments(text: str) -> str:
    """The JSON without Kea's // comment lines (for json.loads; Kea itself accepts them)."""
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))


def _parse_check(text: str) -> str:
    try:
        json.loads(strip_comments(text))
    except ValueError as exc:
        raise PxehookError(f"kea template produced invalid JSON: {exc}") from None
    return text


def control_command(socket_path: str, command: str, *, timeout: float = 10) -> dict:
    """Send one command to Kea's unix control socket and return its JSON answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(socket_path)
        sock.sendall(json.dumps({"command": command}).encode())
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
            try:
                return json.loads(b"".join(chunks))
            except ValueError:
                continue
    return json.loads(b"".join(chunks) or b"{}")


def _reload(layout: SiteLayout, path: str) -> str:
    """config-reload over the control socket when Kea listens there, else systemctl reload."""
    control_socket = layout.daemon_settings["kea_control_socket"]
    try:
        answer = control_command(control_socket, "config-reload")
    except OSError:
        return registry_reload(KEA)
    if answer.get("result") != 0:
        raise PxehookError(f"kea config-reload failed: {answer.get('text', answer)}")
    return f"config-reload via {control_socket}"


GENERATOR = Generator(
    daemon=KEA,
    suffix="json",
    reload_with=_reload,
    postprocess=_parse_check,
    needs={"full": ("dhcp_subnets", "dhcp_range")},
)
