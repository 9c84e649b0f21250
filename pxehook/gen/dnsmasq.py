"""dnsmasq drop-ins (/etc/dnsmasq.d/): full DHCP, ProxyDHCP, or TFTP only; its traps."""

from __future__ import annotations

import os
from collections import Counter

from pxehook import arch as archtable
from pxehook.daemons import DNSMASQ
from pxehook.errors import ConfigError
from pxehook.gen.base import Generator
from pxehook.gen.layout import SiteLayout

_BY_CSA = {a.dnsmasq_csa.lower(): a for a in archtable.TABLE if a.dnsmasq_csa}


def _refuse_empty_tftp_mode(layout: SiteLayout, dhcp_mode: str) -> None:
    if dhcp_mode == "tftp" and layout.tftp_by_pxehook:
        raise ConfigError(
            "dnsmasq --mode tftp would do nothing: setting tftp_serve makes pxehook serve TFTP",
            hint="turn tftp_serve off to let dnsmasq serve TFTP, or do not run this drop-in",
        )


def layout_warnings(layout: SiteLayout, dhcp_mode: str) -> list[str]:
    """Fleet size against dnsmasq's lease and TFTP limits."""
    out: list[str] = []
    if not layout.fleet_size:
        return out
    if dhcp_mode == "full" and layout.fleet_size > layout.lease_max:
        out.append(
            f"fleet_size {layout.fleet_size} is larger than dhcp_lease_max "
            f"{layout.lease_max}: dnsmasq will refuse leases beyond it"
        )
    if layout.fleet_size > layout.tftp_max:
        out.append(
            f"fleet_size {layout.fleet_size} is larger than tftp_max {layout.tftp_max}: "
            "a boot storm will stall TFTP transfers"
        )
    return out


def _pxe_services(text: str) -> list[tuple[str, str | None]]:
    """(CSA, basename) of every pxe-service line."""
    found = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line.startswith("pxe-service="):
            continue
        fields = [f.strip() for f in line[len("pxe-service=") :].split(",")]
        fields = [f for f in fields if not f.startswith("tag:")]
        if len(fields) >= 2:
            basename = fields[2] if len(fields) > 2 and fields[2] else None
            found.append((fields[0], basename))
    return found


def _csa_arch(csa: str) -> archtable.Arch | None:
    if csa.isdigit():
        return archtable.lookup(int(csa))
    return _BY_CSA.get(csa.lower())


def text_warnings(text: str) -> list[str]:
    """Warnings about a dnsmasq config: the proxy-DHCP + UEFI traps."""
    out: list[str] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("pxe-prompt=") and "tag:" not in line:
            out.append(
                "pxe-prompt without a tag also applies to UEFI clients, which cannot show a "
                "PXE menu: tag it for BIOS only, or drop it"
            )
    services = _pxe_services(text)
    counts = Counter(csa.lower() for csa, _ in services)
    for csa, basename in services:
        arch = _csa_arch(csa)
        if arch is None or not arch.is_efi:
            continue
        if counts[csa.lower()] > 1:
            out.append(
                f"{counts[csa.lower()]} pxe-service lines for UEFI arch {csa}: dnsmasq then sends "
                "a menu, which UEFI firmware cannot use (keep exactly one)"
            )
            counts[csa.lower()] = 0
        if basename and "." not in os.path.basename(basename.strip('"')):
            out.append(
                f"pxe-service for UEFI arch {csa}: basename {basename} has no extension, "
                "so dnsmasq appends .0 and the firmware asks for a file that does not exist"
            )
    return out


GENERATOR = Generator(
    daemon=DNSMASQ,
    suffix="conf",
    precheck=_refuse_empty_tftp_mode,
    layout_lint=layout_warnings,
    text_lint=text_warnings,
    # "boot" and "tftp" add to a DHCP server that has its own subnets and range
    needs={"full": ("dhcp_subnets", "dhcp_range"), "proxy": ("dhcp_subnets",)},
)
