"""GRUB builds without an HTTP client (Debian's signed ``grubnetx64``/``grubnetaa64``) fetch
pxehook's kernels and initrds over TFTP: ``files/<rest>`` is ``files_dir``'s ``<rest>``, from
a real ``pxehook tftp`` process to real TFTP clients on loopback."""

from __future__ import annotations

import os
import re
import struct
import sys
import time
from pathlib import Path

import pytest

from pxehook.config import load_settings
from pxehook.models import IpSource, Observation, Profile
from tests.boot_server import events_when
from tests.conftest import require_tool
from tests.test_grub_urls import render
from tests.test_tftp import atftp_get, raw_rrq
from tests.tftp_server import LOOPBACK, TftpProcess, free_udp_port, hpa_get, seed, site_env

pytestmark = pytest.mark.daemon
NODE02 = "52:54:00:12:34:02"  # a host of the sample inventory
CLIENT_IP = "127.0.0.9"
PROFILE = Profile(
    name="installer",
    kernel={"x86": "{{ files_url }}/x86/vmlinuz"},
    initrd={"x86": ["{{ files_url }}/x86/initrd.img"]},
    cmdline="console=ttyS0",
)


@pytest.fixture(scope="module")
def served(tmp_path_factory):  # type: ignore[no-untyped-def]
    require_tool("tftp", "atftp")
    work = tmp_path_factory.mktemp("tftpfiles")
    root, files = work / "tftp", work / "files"
    (root / "files").mkdir(parents=True)
    (root / "files" / "only-in-tftp-root").write_bytes(b"shadowed")
    (files / "x86").mkdir(parents=True)
    (files / "x86" / "vmlinuz").write_bytes(os.urandom(300_000))
    (files / "x86" / "initrd.img").write_bytes(os.urandom(1_000))
    (files / "small").write_bytes(b"tiny file\n")
    (work / "secret").write_bytes(b"not for clients")
    (files / "link-out").symlink_to(work / "secret")
    port = free_udp_port()
    env = site_env(work, root, PXEHOOK_FILES_DIR=str(files))
    ctx = seed(env)  # NODE02 leased CLIENT_IP (its DHCP server's hook: a trusted IP)
    ctx.store().observe(Observation(NODE02, "dnsmasq", ip=CLIENT_IP, ip_source=IpSource.HOOK))
    pxehook = str(Path(sys.executable).parent / "pxehook")
    proc = TftpProcess(pxehook, env, work / "tftp.log", "--bind", LOOPBACK, "--port", str(port))
    proc.wait_serving()
    yield {"port": port, "files": files, "work": work, "ctx": ctx}
    proc.stop()
    ctx.close()


def grub_config(port: int) -> str:
    """The GRUB boot config pxehook renders for a deploying x64 UEFI host of a site whose
    TFTP server listens on ``port``."""
    settings = load_settings(
        env={"PXEHOOK_SERVER_IP": LOOPBACK, "PXEHOOK_PORT": "8070", "PXEHOOK_TFTP_PORT": str(port)}
    )
    return render(PROFILE, settings)


def test_the_files_a_grub_config_names_are_served_over_tftp(served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """What GRUB does: read the TFTP source and paths from its config, fetch each with
    blksize 1024 (GRUB's), get the bytes of ``files_dir``."""
    text = grub_config(served["port"])
    source = re.search(r"'\(tftp,127\.0\.0\.1:(\d+)\)/(files)'", text)
    assert source and int(source.group(1)) == served["port"], text
    paths = re.findall(r"\"\$\{pxehook_files\}\"'([^']+)'", text)
    assert paths == ["/x86/vmlinuz", "/x86/initrd.img"], text
    for path in paths:
        out = tmp_path / path.rsplit("/", 1)[1]
        done = atftp_get(served["port"], f"/{source.group(2)}{path}", out, 1024)
        assert done.returncode == 0, done.stderr
        assert out.read_bytes() == (served["files"] / path.lstrip("/")).read_bytes()


def test_a_file_fetched_over_tftp_is_on_the_hosts_timeline(served) -> None:  # type: ignore[no-untyped-def]
    reply = raw_rrq(served["port"], b"/files/small", source=CLIENT_IP)
    assert reply[:4] == b"\0\3\0\1" and reply[4:] == b"tiny file\n"
    store = served["ctx"].store()
    host = store.host_get(NODE02)
    events = events_when(
        store, host.id, lambda evs: any(e.kind == "boot.kernel" for e in evs), timeout=10
    )
    fetched = [e.data for e in events if e.kind == "boot.kernel"]
    assert {"path": "files/small", "via": "tftp"}.items() <= fetched[-1].items(), fetched


@pytest.mark.parametrize(
    "name",
    [
        b"files/../secret",  # out of files_dir by ..
        b"files/link-out",  # out of files_dir by a symlink
        b"files/x86/../../secret",
        b"files/%2e%2e/secret",  # never URL-decoded
        b"files/x86",  # a directory
        b"files/",
        b"files/only-in-tftp-root",  # files/ is files_dir only: one meaning per name
    ],
)
def test_names_outside_files_dir_are_refused(served, name: bytes) -> None:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    reply = raw_rrq(served["port"], name)
    opcode, code = struct.unpack("!HH", reply[:4])
    assert opcode == 5 and code in (1, 2), reply  # ERROR: not found / access violation
    assert b"not for clients" not in reply and b"shadowed" not in reply
    assert time.monotonic() - started < 2


def test_loaders_in_the_tftp_root_are_untouched(served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = served["work"] / "tftp"
    (root / "grubx64.efi").write_bytes(b"loader bytes")
    done = hpa_get(served["port"], "grubx64.efi", tmp_path / "loader")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "loader").read_bytes() == b"loader bytes"


def test_the_grub_bootstrap_asks_over_tftp_too_and_is_answered(served) -> None:  # type: ignore[no-untyped-def]
    """A machine unknown at its address gets the bootstrap, which names pxehook's TFTP
    server as its second source; the per-MAC name it then asks for (``$net_default_mac``:
    colons) is answered with that machine's own config."""
    bootstrap = raw_rrq(served["port"], b"grub/grub.cfg")  # from 127.0.0.1: nobody's lease
    assert bootstrap[:4] == b"\0\3\0\1" and b"'(tftp,127.0.0.1)'" in bootstrap, bootstrap
    own = raw_rrq(served["port"], f"grub/x86_64-efi/grub.cfg-01-{NODE02}".encode())
    assert own[:4] == b"\0\3\0\1", own
    assert b"bootstrap" not in own and NODE02.encode() in own, own
