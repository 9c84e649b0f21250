"""Each setting a generator mode needs and does not have is one line naming the setting and
the mode; nothing is rendered or written.

Before: ``gen dnsmasq --mode full`` without ``dhcp_range`` printed a Jinja2 internal error
("'None' has no attribute 'netmask'"); ``--mode proxy`` without ``dhcp_subnets`` wrote a
drop-in that answered nobody.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pxehook.daemons import DAEMONS
from pxehook.gen import GENERATORS

SERVER = {"PXEHOOK_SERVER_IP": "192.0.2.10"}
SUBNETS = {"PXEHOOK_DHCP_SUBNETS": "192.0.2.0/24"}
RANGE = {"PXEHOOK_DHCP_RANGE": "192.0.2.100,192.0.2.199"}


#: (daemon, DHCP mode) -> the settings it needs
NEEDS = {(g.name, mode): names for g in GENERATORS.values() for mode, names in g.needs.items()}


def _line(daemon: str, mode: str, setting: str) -> str:
    return f"pxehook: error: setting '{setting}' is not set: {daemon} --mode {mode} needs"


@pytest.mark.parametrize(("daemon", "mode"), sorted(NEEDS))
def test_every_missing_setting_is_one_line(cli, tmp_path: Path, daemon, mode) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "live.conf"
    result = cli("gen", daemon, "--mode", mode, "--out", str(out), extra_env=SERVER)
    assert result.code == 5 and result.out == "" and not out.exists(), result
    errors = [line for line in result.err.splitlines() if "error" in line]
    assert len(errors) == len(NEEDS[daemon, mode])
    for line, setting in zip(errors, NEEDS[daemon, mode], strict=True):
        assert line.startswith(_line(daemon, mode, setting)), line
    assert "Traceback" not in result.err and "template" not in result.err


@pytest.mark.parametrize(("daemon", "mode"), sorted(k for k, v in NEEDS.items() if len(v) > 1))
def test_one_setting_missing_names_only_it(cli, daemon, mode) -> None:  # type: ignore[no-untyped-def]
    result = cli("gen", daemon, "--mode", mode, extra_env={**SERVER, **SUBNETS})
    assert result.code == 5
    assert [line for line in result.err.splitlines() if "error" in line] == [
        _line(daemon, mode, "dhcp_range") + " the addresses it leases"
    ]


@pytest.mark.parametrize(("daemon", "mode"), [(d.name, m) for d in DAEMONS for m in d.dhcp_modes])
def test_every_mode_renders_with_what_it_needs(cli, daemon, mode) -> None:  # type: ignore[no-untyped-def]
    result = cli("gen", daemon, "--mode", mode, extra_env={**SERVER, **SUBNETS, **RANGE})
    assert result.code == 0 and result.out, result


def test_a_range_outside_the_subnets_names_both_settings(cli) -> None:  # type: ignore[no-untyped-def]
    env = {**SERVER, **SUBNETS, "PXEHOOK_DHCP_RANGE": "198.51.100.1,198.51.100.9"}
    result = cli("gen", "dnsmasq", extra_env=env)
    assert result.code == 5 and result.err.count("\n") == 1
    assert "'dhcp_range'" in result.err and "dhcp_subnets" in result.err
