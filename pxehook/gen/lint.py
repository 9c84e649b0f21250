"""Warnings about the known traps of network-boot DHCP configs (never fatal).

Checks a plan (fleet size against the limits, missing loader files) and dnsmasq config
text (pxe-service count per UEFI arch, UEFI basenames without extension).
"""

from __future__ import annotations

import ipaddress
import os
from collections import Counter
from urllib.parse import urlsplit

from pxehook import arch as archtable
from pxehook.gen.plan import Plan

_BY_CSA = {a.dnsmasq_csa.lower(): a for a in archtable.TABLE if a.dnsmasq_csa}


def plan_warnings(plan: Plan, *, daemon: str, mode: str) -> list[str]:
    """Warnings from the settings themselves."""
    out: list[str] = []
    if plan.fleet_size and daemon == "dnsmasq":
        if mode == "full" and plan.fleet_size > plan.lease_max:
            out.append(
                f"fleet_size {plan.fleet_size} is larger than dhcp_lease_max "
                f"{plan.lease_max}: dnsmasq will refuse leases beyond it"
            )
        if plan.fleet_size > plan.tftp_max:
            out.append(
                f"fleet_size {plan.fleet_size} is larger than tftp_max {plan.tftp_max}: "
                "a boot storm will stall TFTP transfers"
            )
    for r in plan.tftp_rules:
        if r.arch.is_efi and r.loader and "." not in os.path.basename(r.loader):
            out.append(f"UEFI loader {r.loader} for {r.arch.slug} has no extension")
    for name in sorted({r.loader for r in plan.tftp_rules if r.loader}):
        if not os.path.isfile(os.path.join(plan.tftp_root, name)):
            out.append(f"loader {name} is missing from tftp_root {plan.tftp_root}")
    host = urlsplit(plan.base_url).hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        out.append(
            f"http_base_url host {host!r} is not an IP address: iPXE and UEFI HTTP boot "
            "then depend on DNS"
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


def dnsmasq_text_warnings(text: str) -> list[str]:
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
