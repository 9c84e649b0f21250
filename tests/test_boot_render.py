"""Rendered configs: golden files per loader and arch family, escaping, strict variables."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pxehook import arch
from pxehook.boot import escape
from pxehook.boot.decide import Facts, Policy, decide
from pxehook.boot.render import render_bootstrap, render_plan
from pxehook.config import load_settings
from pxehook.errors import ConfigError, InvalidInput
from pxehook.lifecycle.hosts import HostChanges, apply_changes
from pxehook.models import ArchSource, Host, Profile, State

GOLDEN = Path(__file__).parent / "golden"
UPDATE = bool(os.environ.get("PXEHOOK_UPDATE_GOLDEN"))
SETTINGS = load_settings(env={"PXEHOOK_HTTP_BASE_URL": "http://192.0.2.10:8070"})
PROFILE = Profile(
    name="installer",
    kernel={
        "x86": "{{ files_url }}/x86/vmlinuz",
        "arm64": "{{ files_url }}/arm64/Image",
        "arm32": "{{ files_url }}/arm32/zImage",
    },
    initrd={
        "x86": ["{{ files_url }}/x86/initrd.img", "{{ files_url }}/x86/firmware.cpio"],
        "arm64": ["{{ files_url }}/arm64/initrd.img"],
        "arm32": ["{{ files_url }}/arm32/initrd.img"],
    },
    cmdline="console=ttyS0 hostname={{ hostname }} preseed/url={{ files_url }}/{{ seed }}.cfg",
    vars={"seed": "default"},
)
PROFILES = {"installer": PROFILE}
FAMILIES = {
    "bios": "bios",
    "uefi-x64": "efi-x64",
    "uefi-arm64": "efi-arm64",
    "uboot-arm32": "uboot-arm32",
    "unknown": None,
}
LOADER_EXT = {"ipxe": ("ipxe", "ipxe"), "grub": ("grub", "cfg"), "pxelinux": ("pxelinux", "cfg")}


def make_host(state: State, slug: str | None, name: str = "node07") -> Host:
    return Host(
        id=7,
        macs=("52:54:00:ab:cd:07",),
        name=name,
        arch=arch.BY_SLUG[slug].code if slug else None,
        arch_source=ArchSource.DHCP if slug else "",
        profile="installer",
        state=state,
    )


def render(host: Host, loader: str, extra: dict | None = None) -> str:
    plan = decide(host, Facts(loader=loader, mac=host.mac), PROFILES, Policy())
    return render_plan(SETTINGS, host, plan, extra or {}).body.decode()


def check_golden(relpath: str, text: str) -> None:
    path = GOLDEN / relpath
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"missing golden file {path} (PXEHOOK_UPDATE_GOLDEN=1 writes it)"
    assert text == path.read_text(), f"{relpath} differs from the golden file"


CASES = [
    (loader, fam, state)
    for loader in LOADER_EXT
    for fam in FAMILIES
    for state in (State.DEPLOYING, State.DEPLOYED)
    if not (fam == "unknown" and state == State.DEPLOYING)
]


@pytest.mark.parametrize(("loader", "fam", "state"), CASES)
def test_golden(loader: str, fam: str, state: State) -> None:
    folder, ext = LOADER_EXT[loader]
    kind = "boot" if state == State.DEPLOYING else "local"
    text = render(make_host(state, FAMILIES[fam]), loader)
    check_golden(f"{folder}/{kind}-{fam}.{ext}", text)


def test_golden_bootstraps_and_callback() -> None:
    check_golden(
        "ipxe/bootstrap.ipxe", render_bootstrap(SETTINGS, "ipxe/bootstrap.ipxe.j2").body.decode()
    )
    check_golden(
        "grub/bootstrap.cfg", render_bootstrap(SETTINGS, "grub/bootstrap.cfg.j2").body.decode()
    )
    extra = {"callback_url": "http://192.0.2.10:8070/v1/callback", "deploy_token": "tok123"}
    for loader, (folder, ext) in LOADER_EXT.items():
        text = render(make_host(State.DEPLOYING, "efi-x64"), loader, extra)
        check_golden(f"{folder}/boot-callback.{ext}", text)
        assert "pxehook.callback=" in text and "tok123" in text


def test_ipxe_kernel_line_names_every_initrd() -> None:
    text = render(make_host(State.DEPLOYING, "efi-x64"), "ipxe")
    kernel = next(line for line in text.splitlines() if line.startswith("kernel "))
    for line in text.splitlines():
        if line.startswith("initrd --name "):
            assert f"initrd={line.split()[2]}" in kernel.split()
    assert "halt" not in text and "shell" not in text
    assert text.rstrip().endswith("exit 1")  # OVMF needs a non-zero exit


@pytest.mark.skipif(shutil.which("grub-script-check") is None, reason="grub-common missing")
def test_grub_output_passes_grub_script_check(tmp_path: Path) -> None:
    texts = [
        render(make_host(s, f), "grub")
        for f in ("bios", "efi-x64")
        for s in (State.DEPLOYING, State.DEPLOYED)
    ]
    texts.append(render(make_host(State.DEPLOYING, "efi-x64", HOSTILE), "grub"))
    texts.append(render_bootstrap(SETTINGS, "grub/bootstrap.cfg.j2").body.decode())
    for i, text in enumerate(texts):
        path = tmp_path / f"{i}.cfg"
        path.write_text(text)
        done = subprocess.run(["grub-script-check", str(path)], capture_output=True, text=True)
        assert done.returncode == 0, (done.stderr, text)


HOSTILE = "evil\nshell\r\n#!ipxe\nchain http://x/evil ${ip} || 'q' \"d\" ; $(reboot) \u2028x"


@pytest.mark.parametrize("loader", list(LOADER_EXT))
def test_hostile_hostname_cannot_add_a_line(loader: str) -> None:
    benign = render(make_host(State.DEPLOYING, "efi-x64", "node07"), loader)
    hostile = render(make_host(State.DEPLOYING, "efi-x64", HOSTILE), loader)
    assert len(hostile.splitlines()) == len(benign.splitlines())
    for line in hostile.splitlines()[1:]:
        assert not line.startswith(("shell", "chain", "#!ipxe", "evil")), line
    assert "${ip}" not in hostile and "$(reboot)" not in hostile


def test_escape_filters_keep_one_line_and_no_expansion() -> None:
    nasty = "a b\nc\rd\x00e$f${g}||h"
    assert "\n" not in escape.ipxe_line(nasty) and "$" not in escape.ipxe_line(nasty)
    assert " " not in escape.ipxe_word(nasty)
    assert escape.ipxe_line("a || b && c") == "a _ b _ c"
    assert escape.grub_word("it's $x;\nreboot") == "'it'\\''s $x; reboot'"
    assert escape.pxe_line("x\ny ${z}") == "x y _{z}"
    assert escape.safe_hostname("bad name\n;rm", "fb") == "bad-name--rm"
    assert escape.safe_hostname("\n\n", "fallback") == "fallback"


def test_missing_variable_is_an_error_naming_the_host(store) -> None:  # type: ignore[no-untyped-def]
    store.profiles_replace([PROFILE.__class__(**{**PROFILE.__dict__, "vars": {}})])
    with pytest.raises(InvalidInput, match=r"node07.*seed.*undefined"):
        apply_changes(
            store,
            "52:54:00:ab:cd:07",
            HostChanges(name="node07", profile="installer"),
            source="cli",
        )
    assert store.host_get("52:54:00:ab:cd:07") is None  # nothing saved
    host, _ = apply_changes(
        store,
        "52:54:00:ab:cd:07",
        HostChanges(name="node07", profile="installer", set_vars={"seed": "lab"}),
        source="cli",
    )
    assert host.vars == {"seed": "lab"}


def test_missing_template_variable_is_config_error() -> None:
    broken = Profile(name="installer", kernel={"x86": "{{ nowhere }}/k"})
    host = make_host(State.DEPLOYING, "bios")
    plan = decide(host, Facts(loader="ipxe"), {"installer": broken}, Policy())
    with pytest.raises(ConfigError, match="node07"):
        render_plan(SETTINGS, host, plan, {})


def test_site_template_overrides_the_packaged_one(tmp_path: Path) -> None:
    (tmp_path / "ipxe").mkdir()
    (tmp_path / "ipxe" / "local.ipxe.j2").write_text(
        "#!ipxe\n# site local boot for {{ label|comment }}\n{% include 'ipxe/_local.ipxe.j2' %}"
    )
    settings = SETTINGS.replace(site_templates=str(tmp_path))
    host = make_host(State.DEPLOYED, "efi-x64")
    plan = decide(host, Facts(loader="ipxe", mac=host.mac), PROFILES, Policy())
    text = render_plan(settings, host, plan, {}).body.decode()
    assert text.startswith("#!ipxe\n# site local boot for node07") and text.endswith("exit 1\n")
    assert "site local" not in render(host, "ipxe")  # the packaged one without the setting
