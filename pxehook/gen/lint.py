"""Warnings about the known traps of network-boot DHCP configs (never fatal).

Checks every layout (missing loader files of the ``loader_arches``, UEFI loaders without
extension, a base URL that needs DNS) and adds the generator's own checks (``layout_lint``,
``text_lint``: for dnsmasq, fleet size against its limits and the pxe-service traps, see
gen/dnsmasq.py).
"""

from __future__ import annotations

import ipaddress
import os
from urllib.parse import urlsplit

from pxehook.boot import loaders
from pxehook.gen.base import Generator
from pxehook.gen.layout import SiteLayout


def warnings(generator: Generator, layout: SiteLayout, dhcp_mode: str, text: str) -> list[str]:
    """All warnings for ``text``, rendered by ``generator`` from ``layout`` in ``dhcp_mode``."""
    return (
        generator.layout_lint(layout, dhcp_mode)
        + layout_warnings(layout)
        + generator.text_lint(text)
    )


def layout_warnings(layout: SiteLayout) -> list[str]:
    """Warnings from the settings themselves, whatever the daemon."""
    out: list[str] = []
    for r in layout.tftp_rules:
        if r.arch.is_efi and r.loader and "." not in os.path.basename(r.loader):
            out.append(f"UEFI loader {r.loader} for {r.arch.slug} has no extension")
    # only the architectures the site boots (setting loader_arches): codes it never sees
    # need no file
    wanted = [r for r in layout.tftp_rules if r.loader and r.arch.slug in layout.loader_arches]
    for name in sorted({loaders.tftp_file(r.boot_mode, r.loader) for r in wanted if r.loader}):
        if not os.path.isfile(os.path.join(layout.tftp_root, name)):
            out.append(
                f"loader {name} is missing from tftp_root {layout.tftp_root} "
                "(run 'pxehook loaders install')"
            )
    net = layout.range_subnet
    if net is not None and layout.relayed(net) and not layout.range_router:
        out.append(
            f"dhcp_range is in {net}, a relayed subnet (server_ip {layout.server_ip} is not in "
            f"it) with no dhcp_routers entry: ISC dhcpd and Kea give its clients no gateway to "
            "reach pxehook (dnsmasq sends the relay's address)"
        )
    host = urlsplit(layout.base_url).hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        out.append(
            f"http_base_url host {host!r} is not an IP address: iPXE and UEFI HTTP boot "
            "then depend on DNS"
        )
    return out
