"""The real ISC dhcpd and Kea, running the generated configs, answer every option-93 code."""

from __future__ import annotations

import json

import pytest

from pxehook.gen.kea import strip_comments
from tests.conftest import require_tool
from tests.harness import wire

pytestmark = [pytest.mark.netns, pytest.mark.daemon]

PAIRS = [(c, v) for c in wire.CODES for v in wire.VARIANTS]


def _probe_all(lab, tmp_path, pairs=None) -> list[dict]:  # type: ignore[no-untyped-def]
    """Probe (code, variant[, mac]) cases; every reply must be what the arch table says."""
    site = wire.site_of(lab)
    triples = [(*p, "")[:3] for p in (pairs or PAIRS)]
    cases = [wire.case(c, v, request=True, **({"mac": m} if m else {})) for c, v, m in triples]
    results = wire.run_probe(lab, cases, tmp_path)
    errors = []
    for res, (code, variant, mac) in zip(results, triples, strict=True):
        want = wire.expected(code, variant, site, mac)
        stages = [r["stage"] for r in res["replies"]]
        if stages != ["offer", "ack"] or res["replies"][-1]["type"] != "DHCPACK":
            errors.append(f"{code}/{variant}: replies {stages}")
        for reply in res["replies"]:
            errors += [
                f"{code}/{variant} {reply['type']}: {e}"
                for e in wire.check_reply(reply, want, variant, site)
            ]
    assert not errors, "\n".join(errors)
    return results


def _generate(cli, env, daemon: str, out) -> None:  # type: ignore[no-untyped-def]
    result = cli("gen", daemon, "--out", str(out), extra_env=env)
    assert result.code == 0, result
    assert "checked by" in result.out, result


def _isc(netlab, cli, tmp_path, hook_log):  # type: ignore[no-untyped-def]
    require_tool("dhcpd")
    netlab.add_host("srv", 1)
    netlab.add_host("cli", 250)
    env = wire.gen_env(netlab, tmp_path, wire.write_hook(tmp_path / "hook.sh", hook_log))
    conf = tmp_path / "dhcpd.conf"
    _generate(cli, env, "isc", conf)
    return netlab.spawn("srv", "dhcpd", *wire.dhcpd_argv(tmp_path, conf))


def test_isc_dhcpd_every_code(netlab, cli, tmp_path):  # type: ignore[no-untyped-def]
    hook_log = tmp_path / "hook.log"
    proc = _isc(netlab, cli, tmp_path, hook_log)
    netlab.wait_udp("srv", 67)
    results = _probe_all(netlab, tmp_path)
    assert proc.alive(), proc.log_text()
    # execute() ran the hook on every commit with IP, zero-padded MAC and the option-93 code.
    lines = hook_log.read_text().splitlines()
    for res in results:
        code = res["case"]["arch"]
        assert any(
            ln.startswith("isc commit ") and f" {res['mac']} " in ln and f" {code} " in ln
            for ln in lines
        ), (res["mac"], code)


def test_isc_dhcpd_raspberry_pi_gets_the_arm_loader_not_undionly(netlab, cli, tmp_path):  # type: ignore[no-untyped-def]
    """A Pi announces option 93 = 0: the class on its hardware-address prefix wins."""
    proc = _isc(netlab, cli, tmp_path, tmp_path / "hook.log")
    netlab.wait_udp("srv", 67)
    results = _probe_all(netlab, tmp_path, wire.RULE_PAIRS)
    assert proc.alive(), proc.log_text()
    assert not [r for r in results if r["replies"][-1]["boot_file"] == "undionly.kpxe"]


def _kea(netlab, cli, tmp_path, hook_log):  # type: ignore[no-untyped-def]
    require_tool("kea-dhcp4")
    netlab.add_host("srv", 1)
    netlab.add_host("cli", 250)
    env = wire.gen_env(netlab, tmp_path, wire.write_hook(tmp_path / "hook.sh", hook_log))
    conf = tmp_path / "kea-dhcp4.conf"
    _generate(cli, env, "kea", conf)
    proc = netlab.spawn("srv", "kea", "kea-dhcp4", "-c", str(conf), env=wire.kea_env(tmp_path))
    netlab.wait_udp("srv", 67)
    return proc, env, conf


def test_kea_raspberry_pi_gets_the_arm_loader_not_undionly(netlab, cli, tmp_path):  # type: ignore[no-untyped-def]
    """A Pi announces option 93 = 0: the class on its hardware-address prefix wins."""
    proc, _env, _conf = _kea(netlab, cli, tmp_path, tmp_path / "hook.log")
    results = _probe_all(netlab, tmp_path, wire.RULE_PAIRS)
    assert proc.alive(), proc.log_text()
    assert not [r for r in results if r["replies"][-1]["boot_file"] == "undionly.kpxe"]


def test_kea_every_code_and_reload(netlab, cli, tmp_path):  # type: ignore[no-untyped-def]
    hook_log = tmp_path / "hook.log"
    proc, env, conf = _kea(netlab, cli, tmp_path, hook_log)
    _probe_all(netlab, tmp_path)
    assert proc.alive(), proc.log_text()
    # run_script fired for the committed leases (it is asynchronous: poll).
    assert wire.wait_for(lambda: hook_log.exists() and "leases4_committed" in hook_log.read_text())

    # --reload: a changed setting reaches the running Kea through its control socket.
    env["PXEHOOK_HTTP_BASE_URL"] = f"http://{netlab.net}.1:9090"
    result = cli("gen", "kea", "--out", str(conf), "--reload", extra_env=env)
    assert result.code == 0 and "config-reload" in result.out, result
    res = wire.run_probe(netlab, [wire.case(7, "ipxe-uc")], tmp_path)[0]
    assert res["replies"][0]["boot_file"] == f"http://{netlab.net}.1:9090/boot.ipxe"
    assert json.loads(strip_comments(conf.read_text()))["Dhcp4"]["valid-lifetime"] == 3600
