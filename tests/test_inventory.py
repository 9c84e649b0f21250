"""YAML inventory: validation with file:line errors, sync into the store, live reload."""

from __future__ import annotations

import time

import pytest

from pxehook.errors import ConfigError
from pxehook.inventory import apply
from pxehook.inventory import parse as inventory
from pxehook.inventory.watch import InventoryWatcher
from pxehook.models import State

GOOD = """\
profiles:
  inst:
    kind: installer
    kernel: {x86: "{{ files_url }}/linux"}
hosts:
  - mac: 52-54-00-AA-00-01
    name: a1
    profile: inst
    state: deploying
    arch: efi-x64
"""


def test_sample_inventory_is_valid_and_syncs(settings, store):
    inv = inventory.load(settings.inventory)
    counts = apply.sync(inv, store)
    assert counts == {"created": 3, "updated": 0, "unchanged": 0}
    assert apply.sync(inv, store) == {"created": 0, "updated": 0, "unchanged": 3}
    node01 = store.host_get("52:54:00:12:34:01")
    assert node01.state == State.DEPLOYING and node01.vars["preseed"] == "lab"
    arm = store.host_get("52:54:00:12:34:13")
    assert arm.arch == 11 and arm.arch_source == "setting" and len(arm.macs) == 2
    assert {p.name for p in store.profile_list()} >= {"debian-installer", "rescue", "local"}


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("profiles: {inst: {kind: installer}}\nhosts:\n  - mac: zz\n", 3, "invalid MAC"),
        ("hosts:\n  - mac: 52:54:00:00:00:01\n    profile: nope\n", 3, "unknown profile 'nope'"),
        ("hosts:\n  - mac: 52:54:00:00:00:01\n    state: dancing\n", 3, "state 'dancing'"),
        ("hosts:\n  - mac: 52:54:00:00:00:01\n    arch: 999\n", 3, "unknown arch"),
        ("hosts:\n  - mac: 52:54:00:00:00:01\n  - mac: 52-54-00-00-00-01\n", 3, "listed twice"),
        ("profiles:\n  p:\n    kind: magic\n", 3, "kind 'magic'"),
        ("profiles:\n  p:\n    kernal: x\n", 3, "unknown key 'kernal'"),
        ("hosts:\n  - mac: 52:54:00:00:00:01\n    name: [unclosed\n", 4, "invalid YAML"),
        ("profilez: {}\n", 1, "unknown section 'profilez'"),
    ],
)
def test_errors_name_file_and_line(text, line, message):
    with pytest.raises(ConfigError) as info:
        inventory.parse(text, "inv.yaml")
    assert f"inv.yaml:{line}:" in str(info.value) and message in str(info.value)


def test_a_broken_edit_keeps_the_last_good_inventory_in_force(tmp_path, store):
    path = tmp_path / "inventory.yaml"
    path.write_text(GOOD)
    errors = []
    watcher = InventoryWatcher(str(path), store, debounce=0.05, on_error=errors.append)
    watcher.start()
    try:
        watcher.wait_loaded(10)
        assert store.host_get("52:54:00:aa:00:01").name == "a1"
        path.write_text(
            GOOD.replace("name: a1", "name: a2").replace("profile: inst", "profile: gone")
        )
        _wait(lambda: errors)
        assert "unknown profile 'gone'" in str(errors[0]) and str(path) in str(errors[0])
        assert store.host_get("52:54:00:aa:00:01").name == "a1"  # unchanged
        assert store.profile_get("inst") is not None
        path.write_text(GOOD.replace("name: a1", "name: a3"))  # fixed: applied without restart
        _wait(lambda: store.host_get("52:54:00:aa:00:01").name == "a3")
        assert watcher.last_error is None
    finally:
        watcher.stop()


def _wait(cond, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def test_unquoted_macs_are_not_read_as_base60_numbers():
    inv = inventory.parse("hosts:\n  - mac: 52:54:00:12:34:56\n  - macs: [52:54:00:12:34:57]\n")
    assert [h.macs for h in inv.hosts] == [("52:54:00:12:34:56",), ("52:54:00:12:34:57",)]


def test_a_host_missing_a_profile_variable_is_refused_before_anything_is_written(tmp_path, store):
    path = tmp_path / "inventory.yaml"
    path.write_text(GOOD)
    apply.sync(inventory.load(str(path)), store)
    broken = GOOD.replace("{{ files_url }}/linux", "{{ files_url }}/{{ release }}/linux")
    broken = broken.replace("name: a1", "name: renamed")
    path.write_text(broken)
    with pytest.raises(ConfigError) as info:
        apply.sync(inventory.load(str(path)), store)
    message = str(info.value)
    expected = f"{path}:6: host renamed (52:54:00:aa:00:01): profile inst: kernel: 'release'"
    assert message.startswith(expected) and message.count("host ") == 1  # no repeated prefix
    assert store.host_get("52:54:00:aa:00:01").name == "a1"  # nothing written
    assert "{{ release }}" not in store.profile_get("inst").kernel["x86"]
