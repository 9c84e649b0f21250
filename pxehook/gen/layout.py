"""What a generated DHCP config says about the site, as data: settings + the arch table →
a validated ``SiteLayout`` (server address, URLs, subnets, one ``Rule`` per option-93 code).

Pure: no Jinja, no files. Every check that can fail on bad settings runs here, so a bad
setting is a clear ``ConfigError`` before anything is rendered or written.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from pxehook import arch as archtable
from pxehook.boot import loaders
from pxehook.daemons import DAEMONS
from pxehook.errors import ConfigError

#: Characters that would break a dnsmasq/ISC/Kea value or smuggle in a second statement.
_UNSAFE = re.compile(r"[\s,\"'\\;{}#<>`$]|[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Rule:
    """What one option-93 code gets from a firmware (non-iPXE) client."""

    arch: archtable.Arch
    boot_mode: str | None  # the loader kind it hands out (a key of ``arch.loaders``)
    loader: str | None  # file name under the TFTP root (or URL path for HTTP codes)
    url: str | None  # full HTTP URL of the loader (HTTP codes and HTTPClient clients)

    @property
    def tag(self) -> str:
        return self.arch.dnsmasq_tag

    @property
    def boot_file(self) -> str | None:
        """Boot file for a plain PXE client of this arch: a URL for HTTP codes."""
        if self.loader is None:
            return None
        return self.url if self.arch.is_http else self.loader

    @property
    def ipxe_file(self) -> str | None:
        """What an iPXE client announcing this code gets instead of the iPXE script: the
        arch's own loader when its boot mode is not iPXE (``lpxelinux.0`` for
        ``bios=pxelinux``), else None (the script). Only codes iPXE itself can announce (an
        arch with an iPXE build, not an HTTP-boot code) and TFTP loaders. Those loaders use
        the PXE stack iPXE exposes and never send DHCP themselves, so the hand-off cannot
        loop."""
        announced_by_ipxe = bool(self.arch.ipxe_buildarch) and not self.arch.is_http
        if not announced_by_ipxe or self.boot_mode in (None, loaders.IPXE.name):
            return None
        return self.boot_file

    @property
    def httpclient_url(self) -> str | None:
        """URL for a client with vendor class HTTPClient: UEFI and HTTP codes only."""
        if self.loader is None or not (self.arch.is_efi or self.arch.is_http):
            return None
        return self.url

    @property
    def csa(self) -> str:
        """dnsmasq client-system-architecture name (or the bare code, which dnsmasq accepts)."""
        return self.arch.dnsmasq_csa or str(self.arch.code)


@dataclass(frozen=True)
class MacOverride:
    """Machines whose MAC prefix says their option 93 lies (``arch.MAC_RULES``, grouped by
    what they announce and what they are): they get ``actual``'s answer, never ``announced``'s.
    """

    prefixes: tuple[str, ...]  # whole octets, lower-case, colon-separated
    announced: Rule  # the code their firmware sends
    actual: Rule  # what they are: its loader is theirs
    tag: str  # dnsmasq tag (``MacRule.dnsmasq_tag``)
    note: str
    pxe_menu: str  # PXE menu text for a ProxyDHCP answer ('' = pxehook's own)

    @property
    def dnsmasq_macs(self) -> tuple[str, ...]:
        """Each prefix as a dnsmasq ``dhcp-mac`` pattern (``b8:27:eb:*:*:*``)."""
        return tuple(p + ":*" * (6 - len(p.split(":"))) for p in self.prefixes)

    @property
    def octets(self) -> tuple[tuple[int, str], ...]:
        """(length, hex) of each prefix: ``(3, "b827eb")`` for ISC's and Kea's substrings."""
        return tuple((len(p.split(":")), p.replace(":", "")) for p in self.prefixes)

    @property
    def menu(self) -> str:
        return self.pxe_menu or f"pxehook {self.actual.arch.name}"


@dataclass(frozen=True)
class SiteLayout:
    """Everything a DHCP template needs (its variable ``site``); built and checked by
    ``build_layout``."""

    server_ip: str
    base_url: str
    ipxe_url: str
    http_boot_url: str
    tftp_root: str
    interface: str
    subnets: tuple[ipaddress.IPv4Network, ...]
    range_first: str | None
    range_last: str | None
    range_subnet: ipaddress.IPv4Network | None
    routers: dict[ipaddress.IPv4Network, str]  # subnet -> default gateway (dhcp_routers)
    lease_time: int
    lease_max: int
    tftp_max: int
    fleet_size: int
    hook: str
    tftp_by_pxehook: bool
    daemon_settings: dict[str, str]  # the settings only one daemon uses (Daemon.settings)
    rules: tuple[Rule, ...]
    overrides: tuple[MacOverride, ...] = ()
    loader_arches: tuple[str, ...] = ()  # the architectures the site boots (setting)
    ipxe_tag: str = archtable.IPXE_TAG
    httpclient_tag: str = archtable.HTTPCLIENT_TAG

    @property
    def range_router(self) -> str | None:
        """The gateway configured for the range's subnet (``dhcp_routers``), if any."""
        return self.routers.get(self.range_subnet) if self.range_subnet else None

    def relayed(self, net: ipaddress.IPv4Network) -> bool:
        """A subnet pxehook's server is not on: its clients come through a DHCP relay and
        reach ``server_ip`` through a router."""
        return ipaddress.IPv4Address(self.server_ip) not in net

    @property
    def bootable(self) -> tuple[Rule, ...]:
        """Rules with a loader: the codes pxehook answers with a boot file."""
        return tuple(r for r in self.rules if r.loader)

    @property
    def tftp_rules(self) -> tuple[Rule, ...]:
        """Bootable rules served over TFTP (a file name, not a URL)."""
        return tuple(r for r in self.bootable if not r.arch.is_http)

    @property
    def proxy_rules(self) -> tuple[Rule, ...]:
        """TFTP rules for PXE firmware (BIOS, UEFI): one pxe-service each in proxy mode."""
        return tuple(
            r for r in self.tftp_rules if r.arch.is_efi or r.arch.firmware == archtable.BIOS
        )

    @property
    def ipxe_handoffs(self) -> tuple[Rule, ...]:
        """Rules whose iPXE clients get the arch's own loader, not the script (``ipxe_file``)."""
        return tuple(r for r in self.rules if r.ipxe_file)

    @property
    def ipxe_script_overrides(self) -> tuple[MacOverride, ...]:
        """MAC-rule machines announcing a hand-off code: as iPXE they keep the script (their
        announced code's loader is not theirs, and iPXE already runs)."""
        codes = {r.arch.code for r in self.ipxe_handoffs}
        return tuple(o for o in self.overrides if o.announced.arch.code in codes)

    def excluded(self, rule: Rule) -> tuple[str, ...]:
        """Tags of the overrides whose machines announce ``rule``'s code: its lines skip them."""
        return tuple(o.tag for o in self.overrides if o.announced.arch.code == rule.arch.code)

    @property
    def proxy_overrides(self) -> tuple[MacOverride, ...]:
        """Overrides a ProxyDHCP answers: PXE firmware announcing, a TFTP loader to give."""
        proxy = {r.arch.code for r in self.proxy_rules}
        return tuple(
            o
            for o in self.overrides
            if o.announced.arch.code in proxy and o.actual.loader and not o.actual.arch.is_http
        )

    def answer(
        self, code: int, *, ipxe: bool, httpclient: bool, mac: str = ""
    ) -> tuple[str | None, bool]:
        """(boot file, echo option 60 HTTPClient) for a client; the generators encode this.

        iPXE gets the resolver's script, unless its code's boot mode is another loader
        (``Rule.ipxe_file``) and no MAC rule covers it."""
        rule = next((r for r in self.rules if r.arch.code == code), None)
        override = next(
            (
                o
                for o in self.overrides
                if o.announced.arch.code == code and mac.startswith(o.prefixes)
            ),
            None,
        )
        if ipxe:
            handoff = rule.ipxe_file if rule and override is None else None
            return (handoff or self.ipxe_url), False
        if override is not None:
            rule = override.actual
        if httpclient:
            return (rule.httpclient_url if rule else None), True
        return (rule.boot_file if rule else None), False


def _safe(value: str, what: str) -> str:
    if not value or _UNSAFE.search(value):
        raise ConfigError(
            f"{what} {value!r} is empty or contains a character a DHCP config cannot carry",
            hint="use a plain path or URL without spaces, commas, quotes or ;{}#",
        )
    return value


def boot_mode_overrides(entries: list[str]) -> dict[str, str]:
    """Setting ``boot_modes`` (``SLUG=MODE`` entries) as arch slug -> boot mode."""
    out: dict[str, str] = {}
    for entry in entries:
        slug, sep, boot_mode = entry.partition("=")
        slug, boot_mode = slug.strip(), boot_mode.strip()
        if not sep or slug not in archtable.BY_SLUG or boot_mode not in loaders.BOOT_MODES:
            raise ConfigError(
                f"setting 'boot_modes': {entry!r} is not SLUG=MODE",
                hint="slugs from 'pxehook arch list', boot modes: " + ", ".join(loaders.BOOT_MODES),
            )
        out[slug] = boot_mode
    return out


def check_slugs(slugs: list[str], what: str) -> tuple[str, ...]:
    """``slugs`` when each is an architecture pxehook boots; else a ConfigError naming it."""
    for slug in slugs:
        row = archtable.BY_SLUG.get(slug)
        if row is None or not row.loaders:
            raise ConfigError(
                f"{what}: {slug!r} is not an architecture pxehook boots",
                hint="see 'pxehook arch list --supported'",
            )
    return tuple(slugs)


def _rules(overrides: dict[str, str], http_boot_url: str) -> tuple[Rule, ...]:
    rules = []
    for a in archtable.TABLE:
        boot_mode = overrides.get(a.slug, a.default_boot_mode)
        loader = a.loader(boot_mode) if boot_mode else None
        if a.slug in overrides and loader is None:
            raise ConfigError(
                f"setting 'boot_modes': arch {a.slug} ({a.hex}) has no {boot_mode} loader",
                hint="its loaders: " + (", ".join(a.loaders) or "none"),
            )
        url = f"{http_boot_url}/{loader}" if loader else None
        if loader:
            _safe(loader, f"loader for {a.slug}")
        rules.append(Rule(arch=a, boot_mode=boot_mode if loader else None, loader=loader, url=url))
    return tuple(rules)


def _overrides(rules: tuple[Rule, ...]) -> tuple[MacOverride, ...]:
    """``arch.MAC_RULES`` grouped into one override per (announced, actual) pair."""
    by_code = {r.arch.code: r for r in rules}
    groups: dict[str, list[archtable.MacRule]] = {}
    for mac_rule in archtable.MAC_RULES:
        octets = mac_rule.prefix.split(":")
        if not 1 <= len(octets) <= 6 or any(not re.fullmatch(r"[0-9a-f]{2}", o) for o in octets):
            raise ConfigError(f"MAC rule prefix {mac_rule.prefix!r} is not whole octets")
        groups.setdefault(mac_rule.dnsmasq_tag, []).append(mac_rule)
    out = []
    for tag, members in groups.items():
        first = members[0]
        out.append(
            MacOverride(
                prefixes=tuple(m.prefix for m in members),
                announced=by_code[first.announces],
                actual=by_code[first.arch],
                tag=tag,
                note=first.note,
                pxe_menu=first.pxe_menu,
            )
        )
    return tuple(out)


def _subnets(raw: list[str]) -> tuple[ipaddress.IPv4Network, ...]:
    nets = []
    for text in raw:
        try:
            nets.append(ipaddress.IPv4Network(text.strip(), strict=True))
        except ValueError as exc:
            raise ConfigError(f"setting 'dhcp_subnets': {text!r} is not a subnet: {exc}") from None
    for i, a in enumerate(nets):
        for b in nets[i + 1 :]:
            if a.overlaps(b):
                raise ConfigError(f"setting 'dhcp_subnets': {a} overlaps {b}")
    return tuple(nets)


def _range(
    raw: str, subnets: tuple[ipaddress.IPv4Network, ...]
) -> tuple[str, str, ipaddress.IPv4Network] | None:
    if not raw.strip():
        return None
    parts = [p.strip() for p in raw.replace("-", ",").split(",")]
    try:
        first, last = (ipaddress.IPv4Address(p) for p in parts)
    except ValueError:
        raise ConfigError(
            f"setting 'dhcp_range': {raw!r} is not FIRST,LAST (two IPv4 addresses)"
        ) from None
    if first > last:
        raise ConfigError(f"setting 'dhcp_range': {first} comes after {last}")
    net = next((n for n in subnets if first in n and last in n), None)
    if net is None:
        raise ConfigError(f"setting 'dhcp_range': {raw!r} is not inside any of dhcp_subnets")
    return str(first), str(last), net


def _routers(
    raw: list[str], subnets: tuple[ipaddress.IPv4Network, ...]
) -> dict[ipaddress.IPv4Network, str]:
    """Setting ``dhcp_routers`` (``SUBNET=ROUTER``): each subnet one of ``dhcp_subnets``,
    each router inside its subnet."""
    out: dict[ipaddress.IPv4Network, str] = {}
    for entry in raw:
        net_text, sep, router_text = entry.partition("=")
        try:
            net = ipaddress.IPv4Network(net_text.strip(), strict=True)
            router = ipaddress.IPv4Address(router_text.strip())
        except ValueError:
            net = router = None  # type: ignore[assignment]
        if not sep or net is None or router is None:
            raise ConfigError(
                f"setting 'dhcp_routers': {entry!r} is not SUBNET=ROUTER",
                hint="e.g. 198.51.100.0/24=198.51.100.1",
            )
        if net not in subnets:
            raise ConfigError(f"setting 'dhcp_routers': {net} is not one of dhcp_subnets")
        if router not in net:
            raise ConfigError(f"setting 'dhcp_routers': {router} is not inside {net}")
        out[net] = str(router)
    return out


def build_layout(settings: Any) -> SiteLayout:
    """Validate the settings the generators use and derive the layout."""
    if not settings.server_ip:
        raise ConfigError("setting 'server_ip' is not set", hint="the address clients reach")
    server_ip = str(ipaddress.IPv4Address(settings.server_ip))
    base_url = _safe(settings.base_url, "http_base_url")
    # Default: pxehook's own /uefi/ route on its own port, which serves the loader to hosts
    # that boot from the network and a fast 404 (next boot option) to the others.
    http_boot = (settings.http_boot_url or f"{base_url}/uefi").rstrip("/")
    if not http_boot.startswith("http://"):
        raise ConfigError(f"setting 'http_boot_url': {http_boot!r} must start with http://")
    _safe(http_boot, "http_boot_url")
    subnets = _subnets(settings.dhcp_subnets)
    rng = _range(settings.dhcp_range, subnets)
    iface = settings.dhcp_interface.strip()
    if iface:
        _safe(iface, "dhcp_interface")
    rules = _rules(boot_mode_overrides(settings.boot_modes), http_boot)
    return SiteLayout(
        server_ip=server_ip,
        base_url=base_url,
        ipxe_url=f"{base_url}/boot.ipxe",
        http_boot_url=http_boot,
        tftp_root=_safe(settings.tftp_root, "tftp_root"),
        interface=iface,
        subnets=subnets,
        range_first=rng[0] if rng else None,
        range_last=rng[1] if rng else None,
        range_subnet=rng[2] if rng else None,
        routers=_routers(settings.dhcp_routers, subnets),
        lease_time=settings.dhcp_lease_time,
        lease_max=settings.dhcp_lease_max,
        tftp_max=settings.tftp_max,
        fleet_size=settings.fleet_size,
        hook=_safe(settings.hook_path, "hook_path"),
        tftp_by_pxehook=bool(settings.tftp_serve),
        daemon_settings={
            name: _safe(getattr(settings, name), name) for d in DAEMONS for name in d.settings
        },
        rules=rules,
        overrides=_overrides(rules),
        loader_arches=check_slugs(settings.loader_arches, "setting 'loader_arches'"),
    )
