"""GRUB URLs: pxehook's own files are fetched over HTTP, else from pxehook's TFTP server
(Debian's signed GRUB has no HTTP client); nothing in a URL escapes its quotes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from pxehook import arch
from pxehook.boot import escape
from pxehook.boot.decide import Facts, Policy, decide
from pxehook.boot.render import grub_file_sources, render_plan
from pxehook.config import load_settings
from pxehook.models import ArchSource, Host, Profile, State

FILES = "http://192.0.2.10:8070/files"
VAR = '"${pxehook_files}"'


def settings(**env: str):  # type: ignore[no-untyped-def]
    return load_settings(env={"PXEHOOK_SERVER_IP": "192.0.2.10", **env})


def test_a_url_under_files_url_names_the_files_source_variable() -> None:
    assert escape.grub_url(f"{FILES}/x86/vmlinuz", FILES) == f"{VAR}'/x86/vmlinuz'"
    assert escape.grub_url(f"{FILES}/x86/vmlinuz", FILES + "/") == f"{VAR}'/x86/vmlinuz'"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # not under files_url: GRUB's own device syntax, as before
        ("http://192.0.2.10:8070/files-old/k", "(http,192.0.2.10:8070)'/files-old/k'"),
        ("http://mirror.example/debian/linux", "(http,mirror.example)'/debian/linux'"),
        (f"http://evil.example/x?u={FILES}/k", "(http,evil.example)'/x?u=" + FILES + "/k'"),
        ("tftp://192.0.2.10/k", "(tftp,192.0.2.10)'/k'"),
        ("/boot/vmlinuz", "'/boot/vmlinuz'"),
    ],
)
def test_other_urls_keep_their_own_device(url: str, expected: str) -> None:
    assert escape.grub_url(url, FILES) == expected
    assert escape.grub_url(url) == expected


def test_without_files_url_nothing_is_rewritten() -> None:
    assert escape.grub_url(f"{FILES}/k") == "(http,192.0.2.10:8070)'/files/k'"


@pytest.mark.parametrize(
    "rest",
    [
        "/a'; reboot; echo '",
        "/${pxehook_files}/x",
        "/k\nchainloader /evil\nboot",
        "/$(reboot)",
    ],
)
def test_the_rest_of_a_local_url_stays_one_quoted_word(rest: str) -> None:
    out = escape.grub_url(FILES + rest, FILES)
    assert out.startswith(VAR + "'") and out.endswith("'")
    assert "\n" not in out
    # after the one expansion pxehook put there, everything sits inside single quotes
    assert out[len(VAR) :] == escape.grub_word(rest)


def test_sources_are_http_then_pxehooks_tftp_server() -> None:
    assert grub_file_sources(settings()) == [
        "(http,192.0.2.10:8070)/files",
        "(tftp,192.0.2.10)/files",
    ]


def test_sources_follow_the_settings() -> None:
    assert (
        grub_file_sources(settings(PXEHOOK_TFTP_PORT="6969"))[1] == "(tftp,192.0.2.10:6969)/files"
    )
    # GRUB has no HTTPS client: TFTP only
    https = settings(PXEHOOK_FILES_URL="https://files.example/pxe")
    assert grub_file_sources(https) == ["(tftp,192.0.2.10)/files"]
    front = settings(PXEHOOK_FILES_URL="http://192.0.2.10/files")  # e.g. an nginx front
    assert grub_file_sources(front)[0] == "(http,192.0.2.10)/files"
    no_ip = load_settings(env={"PXEHOOK_HTTP_BASE_URL": "http://pxe.example:8070"})
    assert grub_file_sources(no_ip)[1] == "(tftp,pxe.example)/files"


HOSTILE_PROFILE = Profile(
    name="installer",
    kernel={"x86": "{{ files_url }}/{{ path }}"},
    initrd={"x86": ["{{ files_url }}/i'n\nboot", "http://mirror.example/initrd.gz"]},
    cmdline="console=ttyS0",
    vars={"path": "x'; reboot; '${pxehook_delay}"},
)


def render(profile: Profile, site=None) -> str:  # type: ignore[no-untyped-def]
    """The GRUB boot config of a deploying x64 UEFI host with ``profile``, for ``site``'s
    settings (default: ``settings()``)."""
    host = Host(
        id=7,
        macs=("52:54:00:ab:cd:07",),
        name="node07",
        arch=arch.BY_SLUG["efi-x64"].code,
        arch_source=ArchSource.DHCP,
        profile="installer",
        state=State.DEPLOYING,
    )
    plan = decide(host, Facts(loader="grub", mac=host.mac), {"installer": profile}, Policy())
    return render_plan(site or settings(), host, plan, {}).body.decode()


def test_a_hostile_profile_path_cannot_add_a_command() -> None:
    text = render(HOSTILE_PROFILE)
    linux = next(line for line in text.splitlines() if line.strip().startswith("if linux "))
    assert linux.strip().startswith(f"if linux {VAR}'/x'\\''; reboot; '\\''${{pxehook_delay}}'")
    initrd = next(line for line in text.splitlines() if line.strip().startswith("if initrd "))
    assert f"{VAR}'/i'\\''n boot'" in initrd and "(http,mirror.example)'/initrd.gz'" in initrd
    assert not any(line.strip() in ("boot'", "reboot") for line in text.splitlines())


@pytest.mark.skipif(shutil.which("grub-script-check") is None, reason="grub-common missing")
def test_the_hostile_config_is_valid_grub_script(tmp_path: Path) -> None:
    path = tmp_path / "grub.cfg"
    path.write_text(render(HOSTILE_PROFILE))
    done = subprocess.run(["grub-script-check", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
