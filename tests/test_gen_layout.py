"""The site layout and the rendered configs, checked against the arch table (pure, no daemon)."""

from __future__ import annotations

import json
import re

import pytest

from pxehook import arch
from pxehook.config import load_settings
from pxehook.errors import ConfigError
from pxehook.gen import generator
from pxehook.gen.kea import strip_comments
from pxehook.gen.layout import build_layout

BASE = {
    "PXEHOOK_SERVER_IP": "192.0.2.10",
    "PXEHOOK_DHCP_SUBNETS": "192.0.2.0/24",
    "PXEHOOK_DHCP_RANGE": "192.0.2.100,192.0.2.199",
}


def layout_of(**env: str):  # type: ignore[no-untyped-def]
    return build_layout(load_settings(env={**BASE, **env}))


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PXEHOOK_SERVER_IP": ""}, "'server_ip' is not set"),
        ({"PXEHOOK_DHCP_SUBNETS": "192.0.2.0/24,192.0.2.128/25"}, "overlaps"),
        ({"PXEHOOK_DHCP_SUBNETS": "192.0.2.1/24"}, "is not a subnet"),
        ({"PXEHOOK_DHCP_RANGE": "198.51.100.1,198.51.100.9"}, "not inside any"),
        ({"PXEHOOK_DHCP_RANGE": "192.0.2.9,192.0.2.1"}, "comes after"),
        ({"PXEHOOK_BOOT_MODES": "efi-arm64=pxelinux"}, "has no pxelinux loader"),
        ({"PXEHOOK_BOOT_MODES": "nosuch=ipxe"}, "is not SLUG=MODE"),
        ({"PXEHOOK_TFTP_ROOT": "/srv/tftp root"}, "tftp_root"),
        ({"PXEHOOK_HOOK_PATH": "/x;reboot"}, "hook_path"),
        ({"PXEHOOK_HTTP_BOOT_URL": "https://x"}, "must start with http://"),
        ({"PXEHOOK_DHCP_ROUTERS": "192.0.2.1"}, "is not SUBNET=ROUTER"),
        ({"PXEHOOK_DHCP_ROUTERS": "198.51.100.0/24=198.51.100.1"}, "is not one of dhcp_subnets"),
        ({"PXEHOOK_DHCP_ROUTERS": "192.0.2.0/24=198.51.100.1"}, "is not inside 192.0.2.0/24"),
    ],
)
def test_bad_settings_are_clear_errors(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        layout_of(**env)


def test_non_ip_server_address_is_refused() -> None:
    with pytest.raises(ConfigError, match="expected an IPv4 address"):
        layout_of(PXEHOOK_SERVER_IP="pxe.example.org")


@pytest.mark.parametrize("code", [a.code for a in arch.TABLE] + [0x0FFF])
def test_answer_follows_the_table(code: int) -> None:
    layout = layout_of()
    row = arch.BY_CODE.get(code)
    loader = row.loader() if row else None
    # iPXE: the script, or the arch's own TFTP loader when it boots another (not iPXE)
    handoff = row and row.ipxe_buildarch and not row.is_http and row.default_boot_mode != "ipxe"
    want_ipxe = loader if handoff else layout.ipxe_url
    assert layout.answer(code, ipxe=True, httpclient=False) == (want_ipxe, False)
    plain, echo = layout.answer(code, ipxe=False, httpclient=False)
    assert not echo
    if not loader:
        assert plain is None
    elif row.is_http:
        assert plain == f"http://192.0.2.10:8070/uefi/{loader}"
    else:
        assert plain == loader


def test_default_http_boot_url_is_pxehooks_own_uefi_route() -> None:
    """UEFI HTTP boot works out of the box: the URL names pxehook's port and its /uefi/
    route (which serves the loader), never port 80 where pxehook serves nothing."""
    assert layout_of().http_boot_url == "http://192.0.2.10:8070/uefi"
    url, echo = layout_of(PXEHOOK_HTTP_BASE_URL="http://pxe.example:9000").answer(
        7, ipxe=False, httpclient=True
    )
    assert (url, echo) == ("http://pxe.example:9000/uefi/snponly.efi", True)
    own = layout_of(PXEHOOK_HTTP_BOOT_URL="http://192.0.2.10/boot/")
    assert own.answer(16, ipxe=False, httpclient=True) == (
        "http://192.0.2.10/boot/snponly.efi",
        True,
    )


def test_boot_mode_override_changes_only_that_arch() -> None:
    layout = layout_of(PXEHOOK_BOOT_MODES="bios=pxelinux")
    assert layout.answer(0, ipxe=False, httpclient=False)[0] == arch.BY_CODE[0].loaders["pxelinux"]
    assert layout.answer(7, ipxe=False, httpclient=False)[0] == arch.BY_CODE[7].loader()


def test_ipxe_client_of_a_pxelinux_arch_gets_lpxelinux_not_the_script() -> None:
    """``bios=pxelinux``: a BIOS machine whose NIC ROM is iPXE gets ``lpxelinux.0``; iPXE on
    x64 UEFI (still in ipxe mode) keeps the script, and so does a MAC-rule machine (a Pi
    announcing 0 is not an x86 BIOS)."""
    layout = layout_of(PXEHOOK_BOOT_MODES="bios=pxelinux")
    lpxelinux = arch.BY_CODE[0].loaders["pxelinux"]
    assert layout.answer(0, ipxe=True, httpclient=False) == (lpxelinux, False)
    assert layout.answer(7, ipxe=True, httpclient=False) == (layout.ipxe_url, False)
    pi = f"{arch.MAC_RULES[0].prefix}:01:02:03"
    assert layout.answer(0, ipxe=True, httpclient=False, mac=pi)[0] == layout.ipxe_url
    assert layout_of().answer(0, ipxe=True, httpclient=False)[0] == layout_of().ipxe_url
    # an HTTP-boot code never hands a loader to iPXE (iPXE never announces one)
    grub = layout_of(PXEHOOK_BOOT_MODES="http-x64=grub")
    assert grub.answer(16, ipxe=True, httpclient=False)[0] == grub.ipxe_url


def _dnsmasq(dhcp_mode: str, **env: str) -> list[str]:
    text = generator("dnsmasq").render(layout_of(**env), dhcp_mode)
    return [ln for ln in text.splitlines() if ln and not ln.startswith("#")]


@pytest.mark.parametrize("dhcp_mode", ["full", "proxy"])
def test_every_code_is_tagged(dhcp_mode: str) -> None:
    lines = _dnsmasq(dhcp_mode)
    for row in arch.TABLE:
        assert f"dhcp-match=set:{row.dnsmasq_tag},option:client-arch,{row.code}" in lines
    assert f"dhcp-userclass=set:{arch.IPXE_TAG},iPXE" in lines
    assert f"dhcp-match=set:{arch.IPXE_TAG},175" in lines


def _tags(line: str) -> tuple[set[str], set[str]]:
    fields = line.split("=", 1)[1].split(",")
    tags = [f[4:] for f in fields if f.startswith("tag:")]
    return {t for t in tags if not t.startswith("!")}, {t[1:] for t in tags if t.startswith("!")}


def _exclusive(a: str, b: str) -> bool:
    (pos_a, neg_a), (pos_b, neg_b) = _tags(a), _tags(b)
    arch_tags = {r.dnsmasq_tag for r in arch.TABLE}
    two_archs = len((pos_a | pos_b) & arch_tags) > 1
    return bool(pos_a & neg_b or pos_b & neg_a or two_archs)


@pytest.mark.parametrize("boot_modes", ["", "bios=pxelinux"])
def test_full_mode_boot_lines_are_mutually_exclusive(boot_modes: str) -> None:
    env = {"PXEHOOK_BOOT_MODES": boot_modes} if boot_modes else {}
    boots = [ln for ln in _dnsmasq("full", **env) if ln.startswith("dhcp-boot=")]
    for i, a in enumerate(boots):
        for b in boots[i + 1 :]:
            assert _exclusive(a, b), (a, b)
    tagged = {t for ln in boots for t in _tags(ln)[0]}
    for row in arch.TABLE:  # codes without a loader have no boot line at all
        assert (row.dnsmasq_tag in tagged) == bool(row.loader())


def _ipxe_script_line(lines: list[str], value: str) -> bool:
    """The one line sending iPXE to the script: every arch that hands iPXE its own loader
    (``Rule.ipxe_file``) excluded, no other tag."""
    handoffs = {r.tag for r in layout_of().ipxe_handoffs}
    found = [
        ln
        for ln in lines
        if ln.startswith("dhcp-boot=")
        and ln.endswith("," + value)
        and _tags(ln)[0] == {arch.IPXE_TAG}
    ]
    return len(found) == 1 and _tags(found[0])[1] == handoffs


def test_full_mode_ipxe_and_http_boot_lines() -> None:
    lines = _dnsmasq("full")
    assert _ipxe_script_line(lines, "http://192.0.2.10:8070/boot.ipxe")
    assert f"dhcp-option=tag:{arch.IPXE_TAG},encap:175,176,1b" in lines
    assert f"dhcp-option-force=tag:{arch.HTTPCLIENT_TAG},option:vendor-class,HTTPClient" in lines
    assert "dhcp-script=/usr/local/libexec/pxehook/pxehook-hook" in lines
    assert "dhcp-range=192.0.2.100,192.0.2.199,255.255.255.0,3600" in lines
    assert "tftp-max=1024" in lines


def test_proxy_mode_one_service_per_arch_all_excluding_ipxe() -> None:
    lines = _dnsmasq("proxy")
    services = [ln for ln in lines if ln.startswith("pxe-service=")]
    assert all(ln.startswith(f"pxe-service=tag:!{arch.IPXE_TAG},") for ln in services)
    fields = [
        [f for f in ln.split("=", 1)[1].split(",") if not f.startswith("tag:")] for ln in services
    ]
    csas = [f[0] for f in fields]
    for i, a in enumerate(services):  # one service per arch for any one client: no menu
        for j in range(i + 1, len(services)):
            if csas[i] == csas[j]:
                assert _exclusive(a, services[j]), (a, services[j])
    want = {
        a.dnsmasq_csa or str(a.code)
        for a in arch.TABLE
        if a.loader() and not a.is_http and a.firmware in (arch.BIOS, arch.UEFI)
    }
    assert set(csas) == want
    for ln in services:
        assert "." in ln.rsplit(",", 1)[1]  # basenames keep their extension
    # A MAC rule's machines get the loader of what they are, under the code they announce.
    for rule in arch.MAC_RULES:
        announced = arch.BY_CODE[rule.announces].dnsmasq_csa
        actual = arch.BY_CODE[rule.arch].loader()
        line = f"pxe-service=tag:!{arch.IPXE_TAG},tag:{rule.dnsmasq_tag},{announced},"
        assert f'{line}"{rule.pxe_menu}",{actual}' in services
    assert "dhcp-range=192.0.2.0,proxy,255.255.255.0" in lines
    assert _ipxe_script_line(lines, "http://192.0.2.10:8070/boot.ipxe,,192.0.2.10")


def test_tftp_mode_has_no_dhcp() -> None:
    lines = _dnsmasq("tftp")
    assert not [ln for ln in lines if ln.startswith(("dhcp-range", "dhcp-boot", "pxe-service"))]
    assert "enable-tftp" in lines


def test_isc_has_a_branch_per_loader_and_a_subnet_per_network() -> None:
    layout = layout_of(PXEHOOK_DHCP_SUBNETS="192.0.2.0/24,198.51.100.0/24")
    text = generator("isc").render(layout, "full")
    for rule in layout.bootable:
        code = f"{rule.arch.code >> 8:02x}:{rule.arch.code & 0xFF:02x}"
        assert (
            f'option pxehook-arch = {code} {{  # {rule.arch.slug}\n    filename "{rule.boot_file}";'
            in text
        )
    assert "subnet 192.0.2.0 netmask 255.255.255.0 {" in text
    assert "subnet 198.51.100.0 netmask 255.255.255.0 {" in text
    assert text.count("range ") == 1
    assert "ignore-client-uids true;" in text
    assert text.count('execute("/usr/local/libexec/pxehook/pxehook-hook", "isc", "commit"') == 2


def test_kea_classes_follow_the_table() -> None:
    layout = layout_of()
    doc = json.loads(strip_comments(generator("kea").render(layout, "full")))["Dhcp4"]
    classes = {c["name"]: c for c in doc["client-classes"]}
    assert len(classes) == len(doc["client-classes"])
    for rule in layout.bootable:
        c = classes[rule.tag]
        assert c["boot-file-name"] == rule.boot_file
        assert c["next-server"] == "192.0.2.10"
        assert f"option[93].hex == 0x{rule.arch.code:04x}" in c["test"]
    for row in arch.TABLE:
        if not row.loader():
            assert row.dnsmasq_tag not in classes
    hook = doc["hooks-libraries"][0]
    assert hook["library"].endswith("/libdhcp_run_script.so")
    assert hook["parameters"]["name"] == "/usr/local/libexec/pxehook/pxehook-hook"


def test_dnsmasq_leaves_tftp_to_pxehook_when_it_serves_tftp(cli):  # type: ignore[no-untyped-def]
    env = {
        "PXEHOOK_SERVER_IP": "192.0.2.10",
        "PXEHOOK_DHCP_SUBNETS": "192.0.2.0/24",
        "PXEHOOK_DHCP_RANGE": "192.0.2.100,192.0.2.199",
        "PXEHOOK_TFTP_SERVE": "true",
    }
    full = cli("gen", "dnsmasq", "--mode", "full", extra_env=env)
    assert full.code == 0, full
    assert "enable-tftp" not in full.out and "served by pxehook itself" in full.out
    empty = cli("gen", "dnsmasq", "--mode", "tftp", extra_env=env)
    assert empty.code == 5 and "would do nothing" in empty.err


@pytest.mark.parametrize("rule", arch.MAC_RULES, ids=lambda r: r.prefix)
def test_mac_rule_answers_what_the_machine_is_not_what_it_announces(rule) -> None:  # type: ignore[no-untyped-def]
    layout = layout_of()
    mac = f"{rule.prefix}:01:02:03"
    actual = arch.BY_CODE[rule.arch].loader()
    assert actual and layout.answer(rule.announces, ipxe=False, httpclient=False, mac=mac) == (
        actual,
        False,
    )
    announced = arch.BY_CODE[rule.announces].loader()
    assert layout.answer(rule.announces, ipxe=False, httpclient=False)[0] == announced
    assert layout.answer(rule.announces, ipxe=True, httpclient=False, mac=mac)[0] == (
        layout.ipxe_url
    )
    # the same make with firmware that tells the truth keeps its own code's loader
    assert layout.answer(11, ipxe=False, httpclient=False, mac=mac)[0] == arch.BY_CODE[11].loader()


def test_isc_and_kea_put_the_mac_rule_before_the_code_it_corrects() -> None:
    layout = layout_of()
    (override,) = layout.overrides  # one group today: Raspberry Pi, announces 0, is 41
    isc = generator("isc").render(layout, "full")
    by_mac = isc.index("option pxehook-arch = 00:00 and (substring(hardware, 1, 3) = ")
    assert by_mac < isc.index("option pxehook-arch = 00:00 {  # bios")
    for prefix in override.prefixes:
        assert f"substring(hardware, 1, 3) = {prefix}" in isc
    doc = json.loads(strip_comments(generator("kea").render(layout, "full")))["Dhcp4"]
    names = [c["name"] for c in doc["client-classes"]]
    classes = {c["name"]: c for c in doc["client-classes"]}
    assert names.index(override.tag) < names.index(override.announced.tag)
    assert f"not member('{override.tag}')" in classes[override.announced.tag]["test"]
    boot = classes[f"{override.tag}-pxe"]
    assert boot["boot-file-name"] == override.actual.boot_file == "bootcode.bin"
    for prefix in override.prefixes:
        assert (
            f"substring(pkt4.mac, 0, 3) == 0x{prefix.replace(':', '')}"
            in classes[override.tag]["test"]
        )


RELAYED = {
    "PXEHOOK_DHCP_SUBNETS": "192.0.2.0/24,198.51.100.0/24",
    "PXEHOOK_DHCP_RANGE": "198.51.100.100,198.51.100.199",
}


def test_relayed_subnet_gets_its_router_from_every_generator() -> None:
    """Clients behind a DHCP relay reach pxehook through a router: ISC and Kea must send
    it (dnsmasq defaults to the relay's address and sends the configured one when given)."""
    layout = layout_of(**RELAYED, PXEHOOK_DHCP_ROUTERS="198.51.100.0/24=198.51.100.1")
    net = layout.range_subnet
    assert layout.relayed(net) and layout.range_router == "198.51.100.1"
    isc = generator("isc").render(layout, "full")
    relayed_block = isc.split("subnet 198.51.100.0 netmask 255.255.255.0 {", 1)[1]
    assert "option routers 198.51.100.1;" in relayed_block.split("\n}\n", 1)[0]
    assert "option routers" not in isc.split("subnet 198.51.100.0", 1)[0]
    kea = json.loads(strip_comments(generator("kea").render(layout, "full")))
    subnets = {s["subnet"]: s for s in kea["Dhcp4"]["subnet4"]}
    assert subnets["198.51.100.0/24"]["option-data"] == [
        {"name": "routers", "data": "198.51.100.1"}
    ]
    assert "option-data" not in subnets["192.0.2.0/24"]
    dnsmasq = generator("dnsmasq").render(layout, "full")
    assert "dhcp-option=tag:pxh-range,option:router,198.51.100.1" in dnsmasq
    assert "dhcp-range=set:pxh-range,198.51.100.100,198.51.100.199," in dnsmasq


def test_relayed_range_without_router_is_a_lint_warning() -> None:
    from pxehook.gen.lint import layout_warnings

    found = [w for w in layout_warnings(layout_of(**RELAYED)) if "relayed subnet" in w]
    assert found and "dhcp_routers" in found[0]
    local = layout_warnings(layout_of())
    assert not [w for w in local if "relayed subnet" in w]
