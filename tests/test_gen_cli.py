"""``pxehook gen`` / ``pxehook lint``: safe writes, drift checks, daemon rejection, lint."""

from __future__ import annotations

import os

import pytest

from pxehook import arch
from tests.conftest import require_tool

SITE = {
    "PXEHOOK_SERVER_IP": "192.0.2.10",
    "PXEHOOK_DHCP_SUBNETS": "192.0.2.0/24",
    "PXEHOOK_DHCP_RANGE": "192.0.2.100,192.0.2.199",
}


def test_stdout_without_out(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("gen", "dnsmasq", "--mode", "proxy", extra_env=SITE)
    assert result.code == 0
    assert "dhcp-range=192.0.2.0,proxy,255.255.255.0" in result.out


@pytest.mark.daemon
def test_write_then_unchanged_then_drift(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    require_tool("dnsmasq")
    (tmp_path / "etc").mkdir()
    out = tmp_path / "etc" / "pxehook.conf"
    first = cli("gen", "dnsmasq", "--out", str(out), extra_env=SITE)
    assert first.code == 0 and "written (checked by dnsmasq)" in first.out, first
    assert oct(out.stat().st_mode & 0o777) == "0o644"
    again = cli("gen", "dnsmasq", "--out", str(out), extra_env=SITE)
    assert again.code == 0 and "unchanged" in again.out
    assert cli("gen", "dnsmasq", "--out", str(out), "--check", extra_env=SITE).code == 0

    out.write_text(out.read_text().replace("tftp-max=1024", "tftp-max=50"))
    drift = cli("gen", "dnsmasq", "--out", str(out), "--check", extra_env=SITE)
    assert drift.code == 9
    assert "-tftp-max=50" in drift.out and "+tftp-max=1024" in drift.out
    assert "tftp-max=50" in out.read_text()  # --check never writes
    assert os.listdir(tmp_path / "etc") == ["pxehook.conf"]


def test_check_of_a_missing_file_is_drift(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = cli("gen", "isc", "--out", str(tmp_path / "x.conf"), "--check", extra_env=SITE)
    assert result.code == 9 and "+++" in result.out


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PXEHOOK_DHCP_SUBNETS": "192.0.2.0/24,192.0.2.0/25"}, "overlaps"),
        ({"PXEHOOK_SERVER_IP": "not-an-ip"}, "IPv4 address"),
        ({"PXEHOOK_BOOT_MODES": "ppc-ofw=grub"}, "has no grub loader"),
    ],
)
def test_bad_settings_write_nothing(cli, tmp_path, env, message) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "etc").mkdir()
    out = tmp_path / "etc" / "live.conf"
    out.write_text("live\n")
    result = cli("gen", "kea", "--out", str(out), extra_env={**SITE, **env})
    assert result.code == 5, result
    assert message in result.err and "Traceback" not in result.err
    assert out.read_text() == "live\n"
    assert os.listdir(tmp_path / "etc") == ["live.conf"]


@pytest.mark.daemon
@pytest.mark.parametrize(
    ("daemon", "binary", "broken"),
    [("dnsmasq", "dnsmasq", "this-is-not-an-option=1\n"), ("isc", "dhcpd", "foo bar;\n")],
)
def test_daemon_rejection_keeps_the_live_file(cli, tmp_path, daemon, binary, broken) -> None:  # type: ignore[no-untyped-def]
    require_tool(binary)
    site = tmp_path / "site"
    (site / daemon).mkdir(parents=True)
    (site / daemon / "full.conf.j2").write_text(broken)
    out = tmp_path / "etc" / "pxehook.conf"
    out.parent.mkdir()
    out.write_text("# live\n")
    env = {**SITE, "PXEHOOK_SITE_TEMPLATES": str(site)}
    result = cli("gen", daemon, "--out", str(out), extra_env=env)
    assert result.code == 8, result
    assert f"{binary} rejected the generated file" in result.err
    assert out.read_text() == "# live\n"
    assert os.listdir(out.parent) == ["pxehook.conf"]  # no temp file left behind


def test_lint_warns_about_the_traps(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    conf = tmp_path / "old.conf"
    conf.write_text(
        'pxe-service=tag:!ipxe,x86-64_EFI,"one",snponly.efi\n'
        'pxe-service=tag:!ipxe,x86-64_EFI,"two",ipxe\n'
        'pxe-service=x86PC,"bios",undionly\n'
        'pxe-prompt="Boot",5\n'
    )
    env = {**SITE, "PXEHOOK_FLEET_SIZE": "5000", "PXEHOOK_HTTP_BASE_URL": "http://pxe.example:80"}
    result = cli("lint", "dnsmasq", "--file", str(conf), extra_env=env)
    assert result.code == 9
    err = result.err
    assert "2 pxe-service lines for UEFI arch x86-64_EFI" in err
    assert "basename ipxe has no extension" in err
    assert "undionly" not in err.split("basename", 1)[-1].split("\n")[0]  # BIOS: .0 is fine
    assert "larger than dhcp_lease_max 1000" in err
    assert "larger than tftp_max 1024" in err
    assert "loader undionly.kpxe is missing from tftp_root" in err
    assert "not an IP address" in err
    assert "pxe-prompt without a tag" in err


def test_lint_clean_site(cli, tmp_path, env) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "tftp"
    for row in arch.TABLE:
        loader = row.loader()
        if loader and not row.is_http:
            (root / loader).parent.mkdir(parents=True, exist_ok=True)
            (root / loader).write_bytes(b"x")
    site = {**SITE, "PXEHOOK_TFTP_ROOT": str(root), "PXEHOOK_FLEET_SIZE": "200"}
    site["PXEHOOK_LEASE_FILES"] = "isc:/var/lib/dhcp/dhcpd.leases"  # the trusted IPs' source
    result = cli("lint", "dnsmasq", "--mode", "proxy", extra_env=site)
    assert result.code == 0, result
    assert "no warnings" in result.out


def test_check_needs_out(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("gen", "dnsmasq", "--check", extra_env=SITE).code == 2
