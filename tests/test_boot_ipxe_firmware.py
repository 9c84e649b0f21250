"""Real iPXE (Debian's ipxe.lkrn under QEMU/SeaBIOS) runs the scripts pxehook renders.

No network card: every fetch fails, so the scripts must walk their retry path with
back-off and end in local boot (SAN 0x80, then back to the BIOS boot order) — never a halt,
never a syntax error. The serial console (SeaBIOS sercon) is the witness.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from pxehook.boot.decide import Facts, Policy, decide
from pxehook.boot.render import render_bootstrap, render_plan
from pxehook.config import load_settings
from pxehook.models import ArchSource, Host, Profile, State
from tests.conftest import require_tool

pytestmark = [pytest.mark.qemu, pytest.mark.slow]
LKRN = "/usr/lib/ipxe/ipxe.lkrn"
SETTINGS = load_settings(
    env={"PXEHOOK_HTTP_BASE_URL": "http://192.0.2.10:8070", "PXEHOOK_BOOT_RETRIES": "2"}
)


def boot_script() -> bytes:
    profile = Profile(
        name="inst",
        kernel={"x86": "{{ files_url }}/vmlinuz"},
        initrd={"x86": ["{{ files_url }}/initrd.img"]},
        cmdline="quiet",
    )
    host = Host(
        id=1,
        macs=("52:54:00:00:00:01",),
        name="vm1",
        arch=0,
        arch_source=ArchSource.DHCP,
        profile="inst",
        state=State.DEPLOYING,
    )
    plan = decide(host, Facts(loader="ipxe", mac=host.mac), {"inst": profile}, Policy())
    return render_plan(SETTINGS, host, plan, {"callback_url": "http://192.0.2.10/cb"}).body


def run_ipxe(tmp_path: Path, script: bytes, until: str, timeout: float = 90) -> str:
    """Boot ipxe.lkrn with ``script`` as its initrd; the serial text once ``until`` shows."""
    require_tool("qemu-system-x86_64", LKRN)
    (tmp_path / "script.ipxe").write_bytes(script)
    serial = tmp_path / "serial.log"
    proc = subprocess.Popen(
        [
            "qemu-system-x86_64",
            "-accel",
            "tcg",
            "-m",
            "256",
            "-nographic",
            "-monitor",
            "none",
            "-serial",
            f"file:{serial}",
            "-no-reboot",
            "-nic",
            "none",
            "-kernel",
            LKRN,
            "-initrd",
            str(tmp_path / "script.ipxe"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout
    text = ""
    try:
        while time.monotonic() < deadline:
            text = serial.read_text(errors="replace") if serial.exists() else ""
            if until in text or proc.poll() is not None:
                break
            time.sleep(0.5)
    finally:
        proc.kill()
        proc.wait(timeout=10)
    return text.replace("\r", "")


def in_order(text: str, *milestones: str) -> None:
    position = 0
    for milestone in milestones:
        found = text.find(milestone, position)
        assert found >= 0, f"{milestone!r} missing after position {position}:\n{text[-2000:]}"
        position = found + len(milestone)


def test_per_machine_script_retries_then_boots_locally(tmp_path: Path) -> None:
    text = run_ipxe(tmp_path, boot_script(), "Booting from Hard Disk")
    in_order(
        text,
        "http://192.0.2.10:8070/files/vmlinuz...",
        "pxehook: attempt 1 failed, retrying in",
        "http://192.0.2.10:8070/files/vmlinuz...",
        "pxehook: boot failed 2 times, booting locally",
        "Booting from SAN device 0x80",
        "Booting from Hard Disk",  # iPXE exited: the BIOS goes on with its boot order
    )
    assert "Exec format error" not in text and "not found" not in text.lower()


def test_bootstrap_retries_then_boots_locally(tmp_path: Path) -> None:
    script = render_bootstrap(SETTINGS, "ipxe/bootstrap.ipxe.j2").body
    text = run_ipxe(tmp_path, script, "Booting from Hard Disk")
    in_order(
        text,
        "http://192.0.2.10:8070/ipxe/",
        "pxehook: no script yet, retrying in 1 s",
        "pxehook: no script yet, retrying in 7 s",
        "pxehook: resolver unreachable, booting locally",
        "Booting from SAN device 0x80",
        "Booting from Hard Disk",
    )
