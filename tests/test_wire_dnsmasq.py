"""The real dnsmasq, running the generated drop-in, answers every option-93 code right.

Full mode: dnsmasq is the DHCP server. Proxy mode: a second, plain dnsmasq hands out
addresses and the generated ProxyDHCP answers boot requests (port 4011 included).
"""

from __future__ import annotations

import subprocess
import time

import pytest

from tests.conftest import require_tool
from tests.harness import wire

pytestmark = [pytest.mark.netns, pytest.mark.daemon]


def _dnsmasq(lab, host: str, name: str, conf: str, port: int = 67):  # type: ignore[no-untyped-def]
    proc = lab.spawn(host, name, *wire.dnsmasq_argv(lab.workdir, name, conf))
    lab.wait_udp(host, port)
    assert proc.alive(), proc.log_text()
    return proc


def _generate(cli, env: dict[str, str], dhcp_mode: str, out) -> None:  # type: ignore[no-untyped-def]
    result = cli("gen", "dnsmasq", "--mode", dhcp_mode, "--out", str(out), extra_env=env)
    assert result.code == 0, result
    assert "checked by dnsmasq" in result.out


def test_full_mode_every_code(netlab, cli, tmp_path):  # type: ignore[no-untyped-def]
    require_tool("dnsmasq")
    netlab.add_host("srv", 1)
    netlab.add_host("cli", 250)
    hook_log = tmp_path / "hook.log"
    hook = wire.write_hook(tmp_path / "hook.sh", hook_log)
    env = wire.gen_env(netlab, tmp_path, hook)
    conf = tmp_path / "pxehook.conf"
    _generate(cli, env, "full", conf)
    _dnsmasq(netlab, "srv", "full", str(conf))
    site = wire.site_of(netlab)

    cases = [wire.case(c, v, request=True) for c in wire.CODES for v in wire.VARIANTS]
    results = wire.run_probe(netlab, cases, tmp_path)
    errors = []
    for res, (code, variant) in zip(
        results, [(c, v) for c in wire.CODES for v in wire.VARIANTS], strict=True
    ):
        want = wire.expected(code, variant, site)
        stages = [r["stage"] for r in res["replies"]]
        if stages != ["offer", "ack"]:
            errors.append(f"{code}/{variant}: replies {stages}")
        for reply in res["replies"]:
            errors += [
                f"{code}/{variant} {reply['type']}: {e}"
                for e in wire.check_reply(reply, want, variant, site)
            ]
    assert not errors, "\n".join(errors)

    # The hook ran for every ACKed firmware client, and DNSMASQ_TAGS names its arch.
    def tagged() -> bool:
        text = hook_log.read_text() if hook_log.exists() else ""
        return all(res["mac"] in text for res in results if res["case"].get("vendor_class") is None)

    assert wire.wait_for(tagged, 10), hook_log.read_text()
    lines = hook_log.read_text().splitlines()
    for res in results:
        code = res["case"]["arch"]
        line = next(ln for ln in lines if f" {res['mac']} " in ln)
        tags = line.split("tags=", 1)[1].split()
        row = wire.arch.BY_CODE.get(code)
        assert (
            (row.dnsmasq_tag in tags)
            if row
            else not any(
                t.startswith("pxh-") and t not in (wire.arch.IPXE_TAG, wire.arch.HTTPCLIENT_TAG)
                for t in tags
            )
        ), line


def _rule_errors(results: list[dict], site: wire.Site, *, full: bool) -> list[str]:
    errors = []
    for res, (code, variant, mac) in zip(results, wire.RULE_PAIRS, strict=True):
        oracle = wire.expected if full else wire.expected_proxy
        want = oracle(code, variant, site, mac)
        files = [r["boot_file"] for r in res["replies"] if r["boot_file"]]
        if full:
            for reply in res["replies"]:
                errors += [
                    f"{mac} {code}/{variant} {reply['type']}: {e}"
                    for e in wire.check_reply(reply, want, variant, site)
                ]
        elif any(f != want for f in files) or (want and not files):
            errors.append(f"{mac} {code}/{variant}: boot files {files} != {want!r}")
    return errors


def test_full_mode_raspberry_pi_gets_the_arm_loader_not_undionly(netlab, cli, tmp_path):  # type: ignore[no-untyped-def]
    """A Pi announces option 93 = 0: its MAC prefix (arch.MAC_RULES) must win, so it never
    gets the x86 BIOS loader; a Pi whose firmware tells the truth keeps its own code."""
    require_tool("dnsmasq")
    netlab.add_host("srv", 1)
    netlab.add_host("cli", 250)
    hook_log = tmp_path / "hook.log"
    env = wire.gen_env(netlab, tmp_path, wire.write_hook(tmp_path / "hook.sh", hook_log))
    conf = tmp_path / "pxehook.conf"
    _generate(cli, env, "full", conf)
    _dnsmasq(netlab, "srv", "full", str(conf))
    site = wire.site_of(netlab)
    cases = [wire.case(c, v, request=True, mac=m) for c, v, m in wire.RULE_PAIRS]
    results = wire.run_probe(netlab, cases, tmp_path)
    errors = _rule_errors(results, site, full=True)
    assert not errors, "\n".join(errors)
    pi = [res for res, (c, v, _m) in zip(results, wire.RULE_PAIRS, strict=True) if v == "pxe"]
    assert all(r["replies"][-1]["boot_file"] != "undionly.kpxe" for r in pi)
    # The hook still records what the Pi sent (option 93 = 0): the rule is applied on read.
    assert wire.wait_for(
        lambda: hook_log.exists() and all(r["mac"] in hook_log.read_text() for r in results)
    )
    for line in hook_log.read_text().splitlines():
        tags = line.split("tags=", 1)[1].split()
        mac = line.split()[1]
        code = next(c for c, _v, m in wire.RULE_PAIRS if m == mac)
        assert wire.arch.from_tags(tags) == wire.arch.BY_CODE[code], line


def test_proxy_mode_beside_plain_dhcp(netlab, cli, tmp_path):  # type: ignore[no-untyped-def]
    require_tool("dnsmasq")
    netlab.add_host("srv", 1)
    netlab.add_host("dhcp", 2)
    netlab.add_host("cli", 250)
    hook = wire.write_hook(tmp_path / "hook.sh", tmp_path / "hook.log")
    env = wire.gen_env(netlab, tmp_path, hook)
    conf = tmp_path / "proxy.conf"
    _generate(cli, env, "proxy", conf)
    plain = tmp_path / "plain.conf"
    plain.write_text(f"dhcp-range={netlab.net}.10,{netlab.net}.249,255.255.255.0,1h\n")
    _dnsmasq(netlab, "dhcp", "plain", str(plain))
    _dnsmasq(netlab, "srv", "proxy", str(conf))
    site = wire.site_of(netlab)

    pairs = [(c, v) for c in wire.CODES for v in wire.VARIANTS]
    cases = [
        wire.case(
            c, v, request=True, offers=2, **({"pxe_server": site.server_ip} if v == "pxe" else {})
        )
        for c, v in pairs
    ]
    results = wire.run_probe(netlab, cases, tmp_path)
    errors = []
    for res, (code, variant) in zip(results, pairs, strict=True):
        want = wire.expected_proxy(code, variant, site)
        replies = res["replies"]
        plain_addr = [r for r in replies if r["stage"] == "offer" and r["yiaddr"] != "0.0.0.0"]
        if not plain_addr:
            errors.append(f"{code}/{variant}: no address from the plain server")
        files = [r["boot_file"] for r in replies if r["boot_file"]]
        if any(f != want for f in files) or (want and not files):
            errors.append(f"{code}/{variant}: boot files {files} != {want!r}")
        for r in replies:
            if r["boot_file"] and r["siaddr"] != site.server_ip:
                errors.append(f"{code}/{variant} {r['stage']}: siaddr {r['siaddr']}")
            if r["src"] == f"{netlab.net}.2" and r["boot_file"]:
                errors.append(f"{code}/{variant}: the plain server sent a boot file")
    assert not errors, "\n".join(errors)


def test_proxy_mode_raspberry_pi_gets_the_arm_loader_not_undionly(netlab, cli, tmp_path):  # type: ignore[no-untyped-def]
    require_tool("dnsmasq")
    netlab.add_host("srv", 1)
    netlab.add_host("dhcp", 2)
    netlab.add_host("cli", 250)
    env = wire.gen_env(netlab, tmp_path, wire.write_hook(tmp_path / "hook.sh", tmp_path / "h.log"))
    conf = tmp_path / "proxy.conf"
    _generate(cli, env, "proxy", conf)
    plain = tmp_path / "plain.conf"
    plain.write_text(f"dhcp-range={netlab.net}.10,{netlab.net}.249,255.255.255.0,1h\n")
    _dnsmasq(netlab, "dhcp", "plain", str(plain))
    _dnsmasq(netlab, "srv", "proxy", str(conf))
    site = wire.site_of(netlab)
    cases = [
        wire.case(
            c,
            v,
            request=True,
            offers=2,
            mac=m,
            **({"pxe_server": site.server_ip} if v == "pxe" else {}),
        )
        for c, v, m in wire.RULE_PAIRS
    ]
    results = wire.run_probe(netlab, cases, tmp_path)
    errors = _rule_errors(results, site, full=False)
    assert not errors, "\n".join(errors)


def test_tftp_mode_serves_loaders_and_no_dhcp(netlab, cli, tmp_path):  # type: ignore[no-untyped-def]
    require_tool("dnsmasq", "tftp")
    netlab.add_host("srv", 1)
    netlab.add_host("cli", 250)
    env = wire.gen_env(netlab, tmp_path, wire.write_hook(tmp_path / "hook.sh", tmp_path / "h.log"))
    payload = bytes(range(256)) * 300  # 76,800 bytes: many blocks, no netascii surprises
    (tmp_path / "tftp" / "undionly.kpxe").write_bytes(payload)
    conf = tmp_path / "tftp.conf"
    _generate(cli, env, "tftp", conf)
    _dnsmasq(netlab, "srv", "tftp", str(conf), port=69)
    got = tmp_path / "got.kpxe"
    netlab.exec(
        netlab.ns("cli"),
        "tftp",
        "-m",
        "binary",
        f"{netlab.net}.1",
        "-c",
        "get",
        "undionly.kpxe",
        str(got),
    )
    assert got.read_bytes() == payload
    res = wire.run_probe(netlab, [wire.case(7, "pxe")], tmp_path, timeout=1.0)[0]
    assert res["replies"] == []  # TFTP only: no DHCP answer at all


def test_boot_mode_beside_the_sites_own_range(netlab, cli, tmp_path):  # type: ignore[no-untyped-def]
    """``--mode boot`` adds only boot lines to a dnsmasq that serves the range already: the
    site's ``dhcp-range`` (and its lease time) stays the only one, every code boots right.
    Before: the only choice was the full drop-in, whose own interface=/dhcp-range= doubled
    the site's (dnsmasq logged the range twice; which lease time won was unsaid)."""
    require_tool("dnsmasq")
    netlab.add_host("srv", 1)
    netlab.add_host("cli", 250)
    hook = wire.write_hook(tmp_path / "hook.sh", tmp_path / "hook.log")
    env = wire.gen_env(netlab, tmp_path, hook)
    dropins = tmp_path / "dnsmasq.d"
    dropins.mkdir()
    _generate(cli, env, "boot", dropins / "pxehook.conf")
    text = (dropins / "pxehook.conf").read_text()
    assert not [ln for ln in text.splitlines() if ln.startswith(("interface=", "dhcp-range="))]
    site_conf = tmp_path / "dnsmasq.conf"  # the site's own lines, as they were
    site_conf.write_text(
        f"interface=eth0\ndhcp-range={netlab.net}.10,{netlab.net}.249,255.255.255.0,2h\n"
        f"dhcp-lease-max=300\nconf-dir={dropins}\n"
    )
    checked = subprocess.run(
        ["dnsmasq", "--test", f"--conf-file={site_conf}"], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr
    proc = _dnsmasq(netlab, "srv", "site", str(site_conf))
    site = wire.site_of(netlab)

    pairs = [(c, v) for c in wire.CODES for v in wire.VARIANTS]
    results = wire.run_probe(netlab, [wire.case(c, v, request=True) for c, v in pairs], tmp_path)
    errors = []
    for res, (code, variant) in zip(results, pairs, strict=True):
        want = wire.expected(code, variant, site)
        for reply in res["replies"]:
            errors += [
                f"{code}/{variant} {reply['type']}: {e}"
                for e in wire.check_reply(reply, want, variant, site)
            ]
    assert not errors, "\n".join(errors)
    log = (netlab.workdir / "site.dnsmasq.log").read_text()
    assert log.count("DHCP, IP range") == 1, proc.log_text()
    leases = (netlab.workdir / "site.leases").read_text().split()
    expiry = int(leases[0])
    assert 7000 < expiry - time.time() <= 7200  # the site's 2h, not the drop-in's


def test_boot_mode_refused_beside_a_second_dhcp_script(cli, tmp_path):  # type: ignore[no-untyped-def]
    """dnsmasq allows one dhcp-script: the site's own one and the drop-in's are refused by
    dnsmasq's own check, before anything starts (docs/dhcp/dnsmasq.md says what to do)."""
    require_tool("dnsmasq")
    dropins = tmp_path / "dnsmasq.d"
    dropins.mkdir()
    env = {"PXEHOOK_SERVER_IP": "192.0.2.10", "PXEHOOK_TFTP_ROOT": str(tmp_path)}
    _generate(cli, env, "boot", dropins / "pxehook.conf")
    site_conf = tmp_path / "dnsmasq.conf"
    site_conf.write_text(f"dhcp-script=/bin/true\nconf-dir={dropins}\n")
    checked = subprocess.run(
        ["dnsmasq", "--test", f"--conf-file={site_conf}"], capture_output=True, text=True
    )
    assert checked.returncode != 0 and "illegal repeated keyword" in checked.stderr
