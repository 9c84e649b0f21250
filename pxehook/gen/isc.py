"""ISC dhcpd include: option 93 classes, iPXE and HTTP-boot branches, lease hooks."""

from __future__ import annotations

from pxehook.gen.base import Generator, run_reload
from pxehook.gen.plan import Plan

#: Debian's unit; dhcpd has no reload, so --reload restarts it (the unit runs dhcpd -t first).
UNIT = "isc-dhcp-server.service"
DEFAULT_OUT = "/etc/dhcp/pxehook.conf"


def _check_args(binary: str, path: str) -> list[str]:
    return [binary, "-4", "-t", "-q", "-cf", path]


def _reload(plan: Plan, path: str) -> str:
    return run_reload(["systemctl", "restart", UNIT])


GENERATOR = Generator(
    name="isc",
    binary="dhcpd",
    modes=("full",),
    suffix="conf",
    check_args=_check_args,
    reload=_reload,
)
