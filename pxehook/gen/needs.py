"""Which settings each (daemon, DHCP mode) needs: one line per missing one, before rendering.

A template never sees a layout its mode cannot use (before: ``gen dnsmasq --mode full``
without ``dhcp_range`` was a Jinja2 internal error). Inconsistent values (a range outside
the subnets, overlapping subnets) are refused earlier, by ``layout.build_layout``.
"""

from __future__ import annotations

from collections.abc import Callable

from pxehook.gen.layout import SiteLayout

#: setting -> (is it missing from this layout?, what the mode uses it for)
_SETTINGS: dict[str, tuple[Callable[[SiteLayout], bool], str]] = {
    "dhcp_subnets": (lambda site: not site.subnets, "the subnets it answers on"),
    "dhcp_range": (lambda site: site.range_first is None, "the addresses it leases"),
}

#: (daemon, DHCP mode) -> the settings that mode needs (beyond server_ip, always needed)
NEEDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("dnsmasq", "full"): ("dhcp_subnets", "dhcp_range"),
    ("dnsmasq", "proxy"): ("dhcp_subnets",),
    ("isc", "full"): ("dhcp_subnets", "dhcp_range"),
    ("kea", "full"): ("dhcp_subnets", "dhcp_range"),
}


def problems(daemon: str, dhcp_mode: str, layout: SiteLayout) -> list[str]:
    """One line per setting ``dhcp_mode`` of ``daemon`` needs and ``layout`` lacks."""
    out = []
    for name in NEEDS.get((daemon, dhcp_mode), ()):
        missing, use = _SETTINGS[name]
        if missing(layout):
            out.append(f"setting '{name}' is not set: {daemon} --mode {dhcp_mode} needs {use}")
    return out
