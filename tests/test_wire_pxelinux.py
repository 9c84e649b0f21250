"""``boot_modes: [bios=pxelinux]`` on the wire: a BIOS machine whose NIC ROM is iPXE (user
class iPXE or option 175, QEMU's ROM and many real ones) gets ``lpxelinux.0``, not the iPXE
script; iPXE on x64 UEFI (still in ipxe mode) keeps the script, and so does a MAC-rule
machine announcing 0 (a Raspberry Pi). Without the setting the BIOS iPXE client gets
``/boot.ipxe`` as before. The real dnsmasq (full and ProxyDHCP), ISC dhcpd and Kea run the
configs ``pxehook gen`` writes; the expectation comes from the arch table (``wire.expected``).
"""

from __future__ import annotations

import pytest

from tests.conftest import require_tool
from tests.harness import wire

pytestmark = [pytest.mark.netns, pytest.mark.daemon]

PI_MAC = f"{wire.arch.MAC_RULES[0].prefix}:30:00:01"
#: (code, variant, mac): BIOS and x64 UEFI as firmware PXE and as iPXE, a Pi as iPXE.
CASES = [(c, v, "") for c in (0, 7) for v in ("pxe", "ipxe-uc", "ipxe-175")] + [
    (0, "ipxe-uc", PI_MAC)
]
LPXELINUX = wire.arch.BY_CODE[0].loaders["pxelinux"]


def _dnsmasq(lab, host: str, name: str, conf: str) -> None:  # type: ignore[no-untyped-def]
    proc = lab.spawn(host, name, *wire.dnsmasq_argv(lab.workdir, name, conf))
    lab.wait_udp(host, 67)
    assert proc.alive(), proc.log_text()


def _start(server: str, lab, cli, tmp_path, boot_modes: str) -> None:  # type: ignore[no-untyped-def]
    """Generate ``server``'s config with ``boot_modes`` and run it in the lab."""
    daemon = server.split("-")[0]
    require_tool({"dnsmasq": "dnsmasq", "isc": "dhcpd", "kea": "kea-dhcp4"}[daemon])
    lab.add_host("srv", 1)
    lab.add_host("cli", 250)
    more = {"PXEHOOK_BOOT_MODES": boot_modes} if boot_modes else {}
    hook = wire.write_hook(tmp_path / "hook.sh", tmp_path / "hook.log")
    env = wire.gen_env(lab, tmp_path, hook, **more)
    conf = tmp_path / f"{server}.conf"
    argv = ["gen", daemon, "--out", str(conf)]
    if daemon == "dnsmasq":
        argv += ["--mode", server.split("-")[1]]
    result = cli(*argv, extra_env=env)
    assert result.code == 0 and "checked by" in result.out, result
    if server == "dnsmasq-full":
        _dnsmasq(lab, "srv", "full", str(conf))
    elif server == "dnsmasq-proxy":
        lab.add_host("dhcp", 2)
        plain = tmp_path / "plain.conf"
        plain.write_text(f"dhcp-range={lab.net}.10,{lab.net}.249,255.255.255.0,1h\n")
        _dnsmasq(lab, "dhcp", "plain", str(plain))
        _dnsmasq(lab, "srv", "proxy", str(conf))
    elif daemon == "isc":
        lab.spawn("srv", "dhcpd", *wire.dhcpd_argv(tmp_path, conf))
        lab.wait_udp("srv", 67)
    else:
        lab.spawn("srv", "kea", "kea-dhcp4", "-c", str(conf), env=wire.kea_env(tmp_path))
        lab.wait_udp("srv", 67)


def _boot_files(server: str, lab, tmp_path, site: wire.Site) -> dict:  # type: ignore[no-untyped-def]
    """Probe CASES; check every reply against the oracle; (code, variant, mac) -> boot file."""
    proxied = server == "dnsmasq-proxy"
    extra = {"offers": 2} if proxied else {}
    cases = [
        wire.case(
            c,
            v,
            request=True,
            **extra,
            **({"mac": m} if m else {}),
            **({"pxe_server": site.server_ip} if proxied and v == "pxe" else {}),
        )
        for c, v, m in CASES
    ]
    results = wire.run_probe(lab, cases, tmp_path)
    errors, got = [], {}
    for res, (code, variant, mac) in zip(results, CASES, strict=True):
        oracle = wire.expected_proxy if proxied else wire.expected
        want = oracle(code, variant, site, mac)
        files = [r["boot_file"] for r in res["replies"] if r["boot_file"]]
        got[(code, variant, mac)] = files[-1] if files else None
        if proxied:
            if any(f != want for f in files) or (want and not files):
                errors.append(f"{code}/{variant}/{mac}: boot files {files} != {want!r}")
            continue
        for reply in res["replies"]:
            errors += [
                f"{code}/{variant}/{mac} {reply['type']}: {e}"
                for e in wire.check_reply(reply, want, variant, site)
            ]
    assert not errors, "\n".join(errors)
    return got


@pytest.mark.parametrize("server", ["dnsmasq-full", "dnsmasq-proxy", "isc", "kea"])
@pytest.mark.parametrize("boot_modes", ["bios=pxelinux", ""])
def test_ipxe_bios_client_gets_lpxelinux_when_bios_boots_pxelinux(  # type: ignore[no-untyped-def]
    server, boot_modes, netlab, cli, tmp_path
):
    _start(server, netlab, cli, tmp_path, boot_modes)
    site = wire.site_of(netlab, boot_modes)
    got = _boot_files(server, netlab, tmp_path, site)
    script = site.ipxe_url
    for variant in ("ipxe-uc", "ipxe-175"):
        bios = got[(0, variant, "")]
        assert bios == (LPXELINUX if boot_modes else script), (variant, got)
        assert got[(7, variant, "")] == script, (variant, got)  # x64 UEFI: ipxe mode
    assert got[(0, "ipxe-uc", PI_MAC)] == script, got  # a Pi is no x86 BIOS
