"""The capture commands as a user runs them: hook build, spool status/replay, watch-leases."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path


def test_hook_build_then_spool_status_and_replay(cli, env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "bin" / "pxehook-hook"
    built = cli("hook", "build", "--out", str(out))
    assert built.code == 0 and out.exists(), built
    spool = Path(env["PXEHOOK_SPOOL_DIR"]) / "hook.spool"
    for i in range(3):  # the compiled-in spool path comes from the settings: no env needed
        subprocess.run([str(out), "add", f"52:54:00:00:00:0{i}", f"10.0.0.{i}"], env={}, check=True)
    assert spool.exists()
    status = json.loads(cli("spool", "status", "--json").out)
    assert (status["pending_records"], status["applied_offset"]) == (3, 0)
    replay = cli("spool", "replay", "--json")
    assert replay.code == 0 and json.loads(replay.out)["records"] == 3
    status = json.loads(cli("spool", "status", "--json").out)
    assert status["pending_records"] == 0 and status["applied_offset"] == status["size"]
    assert "52:54:00:00:00:02" in cli("host", "list").out


def test_python_hook_install_writes_an_executable_with_absolute_interpreter(
    cli, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "hook.py"
    assert cli("hook", "install", "--python", "--out", str(out)).code == 0
    first = out.read_text().splitlines()[0]
    assert first == "#!/usr/bin/python3 -IS" and out.stat().st_mode & 0o111


def test_bad_spool_path_is_a_clear_error(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("hook", "build", "--spool", 'relative/"x', "--out", "/dev/null/x")
    assert result.code != 0 and "must be absolute" in result.err and "Traceback" not in result.err


def test_watch_leases_once(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    leases = tmp_path / "dnsmasq.leases"
    leases.write_text("1800000000 52:54:00:0d:00:01 10.0.0.9 pc1 *\n")
    result = cli("watch-leases", "--dnsmasq", str(leases), "--once", "--json")
    assert result.code == 0 and json.loads(result.out) == {"observed": 1}
    shown = json.loads(cli("host", "show", "52:54:00:0d:00:01", "--json").out)
    assert (shown["ip"], shown["dhcp_hostname"]) == ("10.0.0.9", "pc1")
    assert json.loads(cli("watch-leases", "--dnsmasq", str(leases), "--once", "--json").out) == {
        "unchanged": 1
    }


def test_listen_on_a_missing_interface_is_one_line(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("listen", "--interface", "phc-nope0", "--duration", "1")
    assert result.code != 0 and "phc-nope0" in result.err and "Traceback" not in result.err
