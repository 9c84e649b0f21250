"""dnsmasq-conf/ holds generator output: fail when an example drifts from the generator."""

from __future__ import annotations

import pytest

from tests.conftest import REPO, run

EXAMPLES = REPO / "dnsmasq-conf"


@pytest.mark.parametrize("dhcp_mode", ["full", "boot", "proxy", "tftp"])
def test_example_is_generator_output(pxehook_bin: str, dhcp_mode: str) -> None:
    settings = str(EXAMPLES / "example-settings.yaml")
    argv = [pxehook_bin, "--config", settings, "gen", "dnsmasq", "--mode", dhcp_mode]
    result = run(argv, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    assert result.returncode == 0, result.stderr
    expected = (EXAMPLES / f"{dhcp_mode}.conf").read_text()
    assert result.stdout == expected, (
        f"dnsmasq-conf/{dhcp_mode}.conf drifted; regenerate it (see example-settings.yaml)"
    )
