"""README promise 1: the quick-start command sets up and serves on loopback."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_quickstart_check_serves_the_sample_inventory():
    port = free_port()
    r = subprocess.run(
        ["bash", str(ROOT / "scripts" / "quickstart.sh"), "--check"],
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "PXEHOOK_PORT": str(port), "HOME": "/root"},
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"server answered on 127.0.0.1:{port}" in r.stdout
    assert "4 profiles, hosts" in r.stdout
    assert "node01 (52:54:00:12:34:01) boots profile debian-installer" in r.stdout


def _quick_start_blocks() -> list[list[str]]:
    """The ```sh blocks of the README's quick start, as lines (comments stripped)."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = [b.split("```", 1)[0] for b in section.split("```sh\n")[1:]]
    return [[ln.split(" #", 1)[0].strip() for ln in b.splitlines() if ln.strip()] for b in blocks]


@pytest.mark.slow
@pytest.mark.netns
def test_readme_quick_start_works_verbatim_in_a_second_shell(netlab):  # type: ignore[no-untyped-def]
    """Before: the second shell's commands used /etc's settings and the default database
    (the quick start passed its settings only through its own environment).

    The README's own lines run unchanged, in a network namespace of their own (so its fixed
    port 8070 is free there), from the checkout, with an environment as clean as a new shell.
    """
    setup, second = _quick_start_blocks()
    serve = setup[0]
    assert serve == "bash scripts/quickstart.sh", setup
    netlab.add_host("demo", 2)
    shell_env = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "HOME": "/root"}
    proc = netlab.spawn("demo", "quickstart", "bash", "-c", f"cd {ROOT} && {serve}", env=shell_env)
    try:
        netlab.wait_tcp("demo", 8070, timeout=240)
        printed = proc.log_text()
        outputs = {}
        for line in second:
            assert line in printed or line.startswith("curl "), f"not printed: {line}"
            done = netlab.exec(
                netlab.ns("demo"),
                "bash",
                "-c",
                f"cd {ROOT} && {line}",
                env=shell_env,
                timeout=60,
                check=False,
            )
            assert done.returncode == 0, (line, done.stdout, done.stderr, proc.log_text())
            outputs[line] = done.stdout
        by_command = {
            line.split()[3] if "--config" in line else line.split()[0]: out
            for line, out in outputs.items()
        }
        assert "node01" in by_command["host"] and "debian-installer" in by_command["host"]
        assert "debian-installer" in by_command["explain"]
        assert by_command["inventory"].rstrip().endswith("OK (4 profiles, 3 hosts)")
    finally:
        netlab.stop(proc, timeout=20)
