"""The U-Boot boot script ``pxehook loaders install`` writes for U-Boot architectures.

Checked against the real tools: the image is byte for byte what ``mkimage`` (u-boot-tools)
writes for the same script, and ``dumpimage`` reads its script back. The VM test
(tests/e2e/test_uboot.py) shows Debian's U-Boot running it.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from pxehook.bootfiles import ubootscript
from tests.conftest import require_tool


def test_image_is_what_mkimage_writes(tmp_path: Path) -> None:
    require_tool("mkimage")
    script = tmp_path / "boot.txt"
    script.write_text(ubootscript.SCRIPT)
    ref = tmp_path / "ref.img"
    subprocess.run(
        [
            *("mkimage", "-A", "arm", "-O", "linux", "-T", "script", "-C", "none"),
            *("-n", ubootscript.NAME, "-d", str(script), str(ref)),
        ],
        env={"SOURCE_DATE_EPOCH": "0", "PATH": "/usr/bin:/bin"},
        check=True,
        capture_output=True,
        timeout=30,
    )
    assert ubootscript.script_image() == ref.read_bytes()


def test_script_reads_back_with_dumpimage(tmp_path: Path) -> None:
    require_tool("dumpimage")
    img = tmp_path / "boot.scr.uimg"
    img.write_bytes(ubootscript.script_image())
    listed = subprocess.run(
        ["dumpimage", "-l", str(img)], check=True, capture_output=True, text=True, timeout=30
    )
    assert "Script" in listed.stdout, listed.stdout
    out = tmp_path / "out.txt"
    subprocess.run(
        ["dumpimage", "-T", "script", "-p", "0", "-o", str(out), str(img)],
        check=True,
        capture_output=True,
        timeout=30,
    )
    # dumpimage keeps the part-length table (length, 0) in front of the text
    assert out.read_bytes()[8:] == ubootscript.SCRIPT.encode()
    assert "pxe get" in ubootscript.SCRIPT and "pxe boot" in ubootscript.SCRIPT


def test_image_name_longer_than_the_header_is_refused() -> None:
    with pytest.raises(ValueError, match="longer than 32"):
        ubootscript.script_image(name="x" * 33)


def test_loaders_install_writes_the_script_for_uboot_arches(cli, env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """No package, no apt: the U-Boot mode's file is generated; a second run changes
    nothing; a foreign boot.scr.uimg is left alone (exit 7) unless --force."""
    cache = str(tmp_path / "cache")
    args = ("loaders", "install", "--arch", "uboot-arm64", "--arch", "uboot-arm32")
    first = cli(*args, "--cache", cache, "--json")
    assert first.code == 0, first.err
    rows = json.loads(first.out)["files"]
    dest = Path(env["PXEHOOK_TFTP_ROOT"]) / "boot.scr.uimg"
    assert [(r["path"], r["package"], r["action"]) for r in rows] == [
        (str(dest), "pxehook", "installed")
    ]
    assert dest.read_bytes() == ubootscript.script_image()
    again = cli(*args, "--cache", cache, "--json")
    assert [r["action"] for r in json.loads(again.out)["files"]] == ["unchanged"]
    dest.write_bytes(b"the site's own script")
    refused = cli(*args, "--cache", cache)
    assert refused.code == 7, (refused.code, refused.out, refused.err)
    assert dest.read_bytes() == b"the site's own script"
    forced = cli(*args, "--cache", cache, "--force")
    assert forced.code == 0, forced.err
    assert dest.read_bytes() == ubootscript.script_image()


def test_gen_asks_for_the_file_uboot_fetches_and_loaders_install_satisfies_it(
    cli, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """With U-Boot in loader_arches, gen's missing-file warning names ``boot.scr.uimg`` (what
    distro boot fetches), never ``pxelinux.0`` (handed out for its directory only), and
    ``loaders install`` makes the warning go away."""
    site = {
        "PXEHOOK_SERVER_IP": "192.0.2.10",
        "PXEHOOK_DHCP_SUBNETS": "192.0.2.0/24",
        "PXEHOOK_DHCP_RANGE": "192.0.2.100,192.0.2.199",
        "PXEHOOK_LOADER_ARCHES": "uboot-arm64",
    }
    before = cli("gen", "dnsmasq", extra_env=site)
    missing = [line for line in before.err.splitlines() if "is missing from tftp_root" in line]
    assert len(missing) == 1 and "loader boot.scr.uimg " in missing[0], before.err
    assert cli("loaders", "install", "--cache", str(tmp_path / "c"), extra_env=site).code == 0
    after = cli("gen", "dnsmasq", extra_env=site)
    assert "is missing from tftp_root" not in after.err, after.err
