"""``pxehook systemd install``: the shipped units, written for the settings, passed by the
real ``systemd-analyze verify``; values that would inject unit lines are refused."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import require_tool

UNITS = ("pxehook.service", "pxehook-listen@.service", "pxehook-tftp.service")


def _unit_dir(prefix: Path) -> Path:
    return prefix / "etc/systemd/system"


def _fake_bin(tmp_path: Path) -> str:
    exe = tmp_path / "bin" / "pxehook"
    exe.parent.mkdir()
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(0o755)
    return str(exe)


def test_install_writes_verified_units(cli, env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    require_tool("systemd-analyze")
    exe, prefix = _fake_bin(tmp_path), tmp_path / "root"
    config = tmp_path / "pxehook.yaml"
    config.write_text("port: 8070\n")
    out = cli("--config", str(config), "systemd", "install", "--prefix", str(prefix),
              "--bin", exe, "--user", "pxe")  # fmt: skip
    assert out.code == 0, out
    folder = _unit_dir(prefix)
    assert sorted(p.name for p in folder.iterdir()) == sorted(UNITS)
    serve = (folder / "pxehook.service").read_text()
    assert f"ExecStart={exe} serve\n" in serve and "User=pxe\n" in serve
    assert f"Environment=PXEHOOK_CONFIG={config}\n" in serve
    assert f"ReadWritePaths={env['PXEHOOK_STATE_DIR']} {env['PXEHOOK_SPOOL_DIR']}\n" in serve
    assert "CAP_NET_BIND_SERVICE" not in serve  # port 8070 needs no capability
    listen = (folder / "pxehook-listen@.service").read_text()
    assert f"ExecStart={exe} listen --interface %i\n" in listen
    assert "CAP_NET_RAW" in listen
    for unit in UNITS:  # what systemd itself says of the files as installed
        name = str(folder / unit.replace("@.", "@eth1."))
        done = subprocess.run(["systemd-analyze", "verify", name], capture_output=True,
                              text=True, timeout=60)  # fmt: skip
        assert done.returncode == 0, done.stderr

    low = cli("systemd", "show", "pxehook.service", "--bin", exe,
              extra_env={"PXEHOOK_PORT": "80"})  # fmt: skip
    assert low.code == 0 and "AmbientCapabilities=CAP_NET_BIND_SERVICE" in low.out


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PXEHOOK_STATE_DIR", "/var/lib/pxe\nExecStartPre=/bin/sh -c 'touch /tmp/owned'"),
        ("PXEHOOK_STATE_DIR", "/var/lib/%h"),
        ("PXEHOOK_PRERENDER_DIR", "/srv/pre render"),
    ],
)
def test_values_that_would_inject_unit_lines_are_refused(cli, tmp_path, variable, value) -> None:  # type: ignore[no-untyped-def]
    prefix = tmp_path / "root"
    out = cli("systemd", "install", "--prefix", str(prefix), "--bin", _fake_bin(tmp_path),
              extra_env={variable: value})  # fmt: skip
    assert out.code != 0 and "plain path" in out.err, out
    assert not _unit_dir(prefix).exists() or not any(_unit_dir(prefix).iterdir())


def test_bad_account_and_unverifiable_units_write_nothing(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    require_tool("systemd-analyze")
    prefix = tmp_path / "root"
    bad_user = cli("systemd", "install", "--prefix", str(prefix), "--bin", _fake_bin(tmp_path),
                   "--user", "root\nExecStartPre=/bin/true")  # fmt: skip
    assert bad_user.code != 0 and "not a valid account name" in bad_user.err
    missing = cli("systemd", "install", "--prefix", str(prefix), "--bin", "/nonexistent/pxehook")
    assert missing.code != 0 and "systemd-analyze verify refused" in missing.err
    assert "not executable" in missing.err
    assert not _unit_dir(prefix).exists()


def test_foreign_unit_kept_unless_forced(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    exe, prefix = _fake_bin(tmp_path), tmp_path / "root"
    folder = _unit_dir(prefix)
    folder.mkdir(parents=True)
    (folder / "pxehook.service").write_text("[Service]\nExecStart=/usr/local/bin/mine\n")
    out = cli("systemd", "install", "--prefix", str(prefix), "--bin", exe)
    assert out.code != 0 and "was not written by pxehook" in out.err
    assert "mine" in (folder / "pxehook.service").read_text()
    assert cli("systemd", "install", "--prefix", str(prefix), "--bin", exe, "--force").code == 0
    assert cli("systemd", "install", "--prefix", str(prefix), "--bin", exe).code == 0  # ours now
    assert "serve" in (folder / "pxehook.service").read_text()


def test_show_json(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = cli("systemd", "show", "--json", "--bin", _fake_bin(tmp_path))
    assert out.code == 0 and sorted(json.loads(out.out)) == sorted(UNITS)
