"""The settings a generator's DHCP mode needs (``Generator.needs``): one line per missing
one, before rendering.

A template never sees a layout its mode cannot use (before: ``gen dnsmasq --mode full``
without ``dhcp_range`` was a Jinja2 internal error). Inconsistent values (a range outside
the subnets, overlapping subnets) are refused earlier, by ``layout.build_layout``.
"""

from __future__ import annotations

from collections.abc import Callable

from pxehook.gen.layout import SiteLayout

#: setting -> (is it missing from this layout?, what the mode uses it for)
SETTINGS: dict[str, tuple[Callable[[SiteLayout], bool], str]] = {
    "dhcp_subnets": (lambda site: not site.subnets, "the subnets it answers on"),
    "dhcp_range": (lambda site: site.range_first is None, "the addresses it leases"),
}


def problems(daemon: str, dhcp_mode: str, needed: tuple[str, ...], layout: SiteLayout) -> list[str]:
    """One line per setting in ``needed`` (what ``dhcp_mode`` of ``daemon`` needs, from its
    generator's ``needs``) that ``layout`` lacks."""
    out = []
    for name in needed:
        missing, use = SETTINGS[name]
        if missing(layout):
            out.append(f"setting '{name}' is not set: {daemon} --mode {dhcp_mode} needs {use}")
    return out
