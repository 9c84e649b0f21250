"""The boot-stage watch: stamps, marks, and the "where did it stop" message (no VM)."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from tests.harness.qemu import BootStalled, BootWatch, Milestone, VmSpec, clean_serial


def fake_vm(alive: bool = True) -> SimpleNamespace:
    spec = VmSpec("vm1", "uefi", "52:54:00:00:00:01")
    return SimpleNamespace(
        spec=spec, started_at=time.monotonic(), alive=lambda: alive, exit_code=lambda: 0
    )


def watch(texts: dict[str, str], vm=None) -> BootWatch:  # type: ignore[no-untyped-def]
    milestones = [
        Milestone("dhcp", "log", r"DHCPOFFER", "", "DHCP offer"),
        Milestone("loader", "log", r"sent \S*snponly\.efi", "", "loader fetched"),
        Milestone("reboot", "serial", r"REBOOT", "", "rebooted"),
        Milestone("dhcp2", "log", r"DHCPOFFER", "reboot", "DHCP offer (after reboot)"),
        Milestone("disk", "serial", r"DISK-OK", "reboot", "local disk"),
    ]
    sources = {k: (lambda k=k: texts[k]) for k in texts}
    return BootWatch(vm or fake_vm(), sources, milestones, log=lambda _line: None)


def test_milestones_after_a_mark_only_count_new_text() -> None:
    texts = {"log": "DHCPOFFER x\nsent /t/snponly.efi to y\n", "serial": "booting\n"}
    w = watch(texts)
    w.poll()
    assert set(w.seen) == {"dhcp", "loader"}
    texts["serial"] += "REBOOT\n"
    w.poll()
    assert "reboot" in w.seen and "dhcp2" not in w.seen  # the old offer does not count
    texts["log"] += "DHCPOFFER again\n"
    texts["serial"] += "DISK-OK\n"
    assert w.wait("disk", 1) >= 0
    assert "dhcp2" in w.seen


def test_time_out_names_the_last_stage_reached_and_the_first_missing() -> None:
    w = watch({"log": "DHCPOFFER x\n", "serial": ""})
    with pytest.raises(BootStalled) as err:
        w.wait("disk", 0.3)
    msg = str(err.value)
    assert "boot stopped after 'DHCP offer'" in msg
    assert "never saw 'loader fetched'" in msg
    assert "time-out" in msg


def test_a_stage_skipped_before_the_last_one_is_named() -> None:
    """A refused callback: the machine reboots into the installer again; the message must
    name the stage that never came, not only the one after the last reached."""
    w = watch({"log": "DHCPOFFER x\n", "serial": "REBOOT\n"})
    with pytest.raises(BootStalled) as err:
        w.wait("disk", 0.3)
    msg = str(err.value)
    assert "boot stopped after 'rebooted'" in msg
    assert "skipped 'loader fetched'" in msg


def test_exited_vm_is_reported_at_once() -> None:
    w = watch({"log": "", "serial": ""}, fake_vm(alive=False))
    t0 = time.monotonic()
    with pytest.raises(BootStalled) as err:
        w.wait("disk", 30)
    assert time.monotonic() - t0 < 5
    assert "boot stopped at the start; never saw 'DHCP offer'" in str(err.value)
    assert "QEMU exited" in str(err.value)


def test_clean_serial_drops_terminal_control() -> None:
    raw = b"\x1bc\x1b[?7l\x1b[2JiPXE 1.0\r\nab\x08c\r\n"
    assert clean_serial(raw) == "iPXE 1.0\nac\n"
