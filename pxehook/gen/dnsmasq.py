"""dnsmasq drop-ins (/etc/dnsmasq.d/): full DHCP, ProxyDHCP, or TFTP only."""

from __future__ import annotations

from pxehook.errors import ConfigError
from pxehook.gen.base import Generator, run_reload
from pxehook.gen.plan import Plan

#: systemd unit restarted by --reload: dnsmasq re-reads its config files only at start.
UNIT = "dnsmasq.service"
DEFAULT_OUT = "/etc/dnsmasq.d/pxehook.conf"


def _check_args(binary: str, path: str) -> list[str]:
    return [binary, "--test", f"--conf-file={path}"]


def _reload(plan: Plan, path: str) -> str:
    return run_reload(["systemctl", "restart", UNIT])


def _refuse_empty_tftp_mode(plan: Plan, mode: str) -> None:
    if mode == "tftp" and plan.tftp_by_pxehook:
        raise ConfigError(
            "dnsmasq --mode tftp would do nothing: setting tftp_serve makes pxehook serve TFTP",
            hint="turn tftp_serve off to let dnsmasq serve TFTP, or do not run this drop-in",
        )


GENERATOR = Generator(
    name="dnsmasq",
    binary="dnsmasq",
    modes=("full", "proxy", "tftp"),
    suffix="conf",
    check_args=_check_args,
    reload=_reload,
    precheck=_refuse_empty_tftp_mode,
)
