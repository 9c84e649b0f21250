"""Real iPXE runs pxehook's bootstrap against a machine told to boot its disk: the per-MAC
answer is fetched once and its own result (``exit`` / ``exit 1``) ends the network boot.

Before the fix the bootstrap ran the per-MAC script inside its fetch-retry loop, so a
script ending in ``exit 1`` (UEFI local boot) looked like a failed fetch: three fetches,
three events, "no script yet" and "resolver unreachable" on the console, ~11 s lost.

Debian's ``ipxe.lkrn`` under QEMU/SeaBIOS with QEMU's user-mode network stack
(``restrict=on``: no route anywhere, no host interface): its DHCP gives 10.0.2.15 and the
HTTP server is a ``guestfwd`` command (``ipxe_fwd.py``) that answers inside QEMU's own
stack and logs each request. Nothing leaves the QEMU process.
"""

from __future__ import annotations

import re
import subprocess
import sys
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
FWD = Path(__file__).with_name("ipxe_fwd.py")
SERVER = "10.0.2.100:8070"  # inside QEMU's user-mode network only (guestfwd)
SETTINGS = load_settings(env={"PXEHOOK_HTTP_BASE_URL": f"http://{SERVER}"})
#: What the "firmware" runs first: DHCP, then pxehook's bootstrap, as a DHCP boot file would.
INIT = f"""#!ipxe
dhcp
chain http://{SERVER}/boot.ipxe || echo pxehook-test: bootstrap failed
echo pxehook-test: bootstrap returned
"""


def local_answer(arch: int) -> bytes:
    """pxehook's per-MAC script for a deployed machine of ``arch`` (boots its disk)."""
    host = Host(
        id=1,
        macs=("52:54:00:12:34:56",),
        name="vm1",
        arch=arch,
        arch_source=ArchSource.DHCP,
        profile="local",
        state=State.DEPLOYED,
    )
    plan = decide(
        host, Facts(loader="ipxe", mac=host.mac), {"local": Profile(name="local")}, Policy()
    )
    return render_plan(SETTINGS, host, plan, {}).body


def run(tmp_path: Path, answer: bytes, timeout: float = 90) -> tuple[str, list[str]]:
    """Boot ipxe.lkrn until the BIOS moves on from it; (serial text, request lines)."""
    require_tool("qemu-system-x86_64", LKRN)
    (tmp_path / "bootstrap.ipxe").write_bytes(
        render_bootstrap(SETTINGS, "ipxe/bootstrap.ipxe.j2").body
    )
    (tmp_path / "machine.ipxe").write_bytes(answer)
    (tmp_path / "init.ipxe").write_text(INIT)
    serial = tmp_path / "serial.log"
    serial.write_bytes(b"")
    fwd = f"guestfwd=tcp:{SERVER}-cmd:{sys.executable} {FWD} {tmp_path}"
    argv = ["qemu-system-x86_64", "-accel", "tcg", "-m", "256", "-nographic", "-monitor", "none"]
    argv += ["-serial", f"file:{serial}", "-no-reboot", "-boot", "order=n"]
    argv += ["-nic", f"user,model=e1000,restrict=on,{fwd}"]
    argv += ["-kernel", LKRN, "-initrd", str(tmp_path / "init.ipxe")]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    text = ""
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            text = serial.read_text(errors="replace").replace("\r", "")
            if re.search(r"pxehook-test: bootstrap \S+\n", text):  # the whole line
                break
            time.sleep(0.3)
    finally:
        proc.kill()
        proc.wait(timeout=10)
    text = serial.read_text(errors="replace").replace("\r", "")
    log = tmp_path / "requests.log"
    return text, log.read_text().splitlines() if log.exists() else []


@pytest.mark.parametrize("arch", [0, 7], ids=["bios-exit", "uefi-exit1"])
def test_local_boot_answer_is_fetched_once(tmp_path: Path, arch: int) -> None:
    answer = local_answer(arch)
    text, requests = run(tmp_path, answer)
    scripts = [r for r in requests if r.startswith("GET /ipxe/52-54-00-12-34-56?")]
    assert len(scripts) == 1, f"per-MAC script fetched {len(scripts)} times:\n{requests}\n{text}"
    assert "pxehook: no script yet" not in text, text
    assert "resolver unreachable" not in text, text
    # the script's own result came back: exit 0 → "returned", exit 1 → "failed" (the
    # firmware's next boot option), never a retry of the fetch
    expected = "returned" if b"exit 1" not in answer else "failed"
    assert f"pxehook-test: bootstrap {expected}" in text, text
