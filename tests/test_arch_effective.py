"""Hardware that lies: a Raspberry Pi announces option 93 = 0 but is ARM.

One rule table (``arch.MAC_RULES``) decides it everywhere: what the resolver boots, what
``host show``, ``host list``, ``explain`` and the API say. The Pi is captured the way it
really is: the DHCP hook records what dnsmasq saw (option 93 = 0, the arch tag plus the MAC
rule's tag), the spool is replayed, and every display is then read as a user reads it.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from pxehook import arch, archsource
from pxehook.models import ArchSource, Host
from tests.lifecycle_fixtures import *  # noqa: F403

PI_RULE = arch.MAC_RULES[1]
PI = f"{PI_RULE.prefix}:00:00:01"
PI_ARCH = arch.BY_CODE[PI_RULE.arch]
ANNOUNCED = arch.BY_CODE[PI_RULE.announces]


def _captured_pi(cli, env: dict[str, str], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    hook = tmp_path / "pxehook-hook"
    assert cli("hook", "build", "--python", "--out", str(hook)).code == 0
    tags = f"{PI_RULE.dnsmasq_tag} {ANNOUNCED.dnsmasq_tag} eth0"
    subprocess.run([str(hook), "add", PI, "10.0.0.7"], env={"DNSMASQ_TAGS": tags}, check=True)
    assert cli("spool", "replay").code == 0


def test_host_show_list_explain_and_api_agree_a_pi_is_arm(  # type: ignore[no-untyped-def]
    cli, env, tmp_path, api_client, read_headers
) -> None:
    assert cli("db", "init").code == 0
    _captured_pi(cli, env, tmp_path)
    want = f"{PI_ARCH.code} ({PI_ARCH.slug})"

    shown = json.loads(cli("host", "show", PI, "--json").out)
    assert (shown["arch"], shown["arch_source"]) == (ANNOUNCED.code, ArchSource.DHCP)
    assert (shown["arch_effective"], shown["arch_effective_source"]) == (PI_ARCH.code, "rule")
    text = cli("host", "show", PI).out
    arch_line = next(ln for ln in text.splitlines() if ln.startswith("arch "))
    assert want in arch_line and "(bios)" not in arch_line, text
    recorded = next(ln for ln in text.splitlines() if ln.startswith("recorded arch "))
    assert recorded.endswith(f" {ANNOUNCED.code} ({ANNOUNCED.slug}) by dhcp"), text

    row = next(ln for ln in cli("host", "list").out.splitlines() if PI in ln)
    assert want in row and "(bios)" not in row, row
    listed = json.loads(cli("host", "list", "--json").out)
    assert [h["arch_effective"] for h in listed if h["mac"] == PI] == [PI_ARCH.code]

    explained = json.loads(cli("explain", PI, "--json").out)
    assert {a["arch"] for a in explained["answers"]} == {PI_ARCH.slug}

    body = api_client.get(f"/api/v1/hosts/{PI}", headers=read_headers).get_json()
    assert (body["arch"], body["arch_effective"], body["arch_effective_source"]) == (
        ANNOUNCED.code,
        PI_ARCH.code,
        "rule",
    )
    (api_row,) = [
        h
        for h in api_client.get("/api/v1/hosts", headers=read_headers).get_json()
        if h["mac"] == PI
    ]
    assert api_row["arch_effective"] == PI_ARCH.code


@pytest.mark.parametrize(
    ("recorded", "source", "want", "want_source"),
    [
        (PI_RULE.announces, ArchSource.DHCP, PI_RULE.arch, "rule"),  # the lie: corrected
        (None, "", PI_RULE.arch, "rule"),  # nothing seen yet: the MAC alone says ARM
        (11, ArchSource.DHCP, 11, "dhcp"),  # a Pi 4 running UEFI firmware tells the truth
        (22, ArchSource.DHCP, 22, "dhcp"),  # U-Boot on a Pi announces itself too
        (7, ArchSource.SETTING, 7, "setting"),  # the operator always wins
    ],
)
def test_the_rule_corrects_only_the_code_the_firmware_lies_with(
    recorded: int | None, source: str, want: int, want_source: str
) -> None:
    host = Host(id=1, macs=(PI,), arch=recorded, arch_source=source)
    got, got_source, _ = archsource.effective(host)
    assert (got.code if got else None, got_source) == (want, want_source)
