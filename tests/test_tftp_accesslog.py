"""The TFTP access log (``tftp_access_log``): a real ``pxehook tftp`` process, real TFTP
clients on loopback, and the lines an operator (and the VM suite's "pxehook's share") reads."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.conftest import require_tool
from tests.test_tftp import raw_rrq
from tests.tftp_server import LOOPBACK, TftpProcess, free_udp_port, hpa_get, seed, site_env

pytestmark = pytest.mark.daemon
NODE02 = "52-54-00-12-34-02"  # a host of the sample inventory
LINE = re.compile(
    r'^\S+ \S+ (?P<ip>[\d.]+) "RRQ (?P<name>\S+)" (?P<outcome>complete|partial|error:\d+) '
    r"(?P<size>\d+) (?P<first>\d+) (?P<total>\d+)$"
)


@pytest.fixture(scope="module")
def served(tmp_path_factory):  # type: ignore[no-untyped-def]
    work = tmp_path_factory.mktemp("tftpaccess")
    root = work / "tftp"
    root.mkdir()
    (root / "loader.bin").write_bytes(bytes(range(256)) * 8)
    (root / "small").write_bytes(b"tiny\n")
    access = work / "tftp-access.log"
    env = site_env(work, root, PXEHOOK_TFTP_ACCESS_LOG=str(access))
    ctx = seed(env)
    port = free_udp_port()
    pxehook = str(Path(sys.executable).parent / "pxehook")
    proc = TftpProcess(pxehook, env, work / "tftp.log", "--bind", LOOPBACK, "--port", str(port))
    proc.wait_serving()
    yield {"port": port, "access": access, "log": work / "tftp.log"}
    proc.stop()
    ctx.close()


def lines_for(served, name: str, timeout: float = 10) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    """The parsed access-log lines of ``name`` (as the client asked for it), waiting for one."""
    deadline = time.monotonic() + timeout
    while True:
        text = served["access"].read_text() if served["access"].exists() else ""
        found = []
        for raw in text.splitlines():
            m = LINE.match(raw)
            assert m, f"not an access-log line: {raw!r}"
            if unquote(m["name"]) == name:
                found.append(m.groupdict())
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_a_config_fetched_by_tftp_hpa_is_one_complete_line(served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    require_tool("tftp")
    name = f"pxelinux.cfg/01-{NODE02}"
    out = tmp_path / "cfg"
    got = hpa_get(served["port"], name, out)
    assert got.returncode == 0 and out.exists(), got.stderr
    (line,) = lines_for(served, name)
    assert line["ip"] == LOOPBACK and line["outcome"] == "complete"
    assert int(line["size"]) == out.stat().st_size > 0
    assert 0 < int(line["first"]) <= int(line["total"])


def test_a_file_and_a_missing_name(served) -> None:  # type: ignore[no-untyped-def]
    assert raw_rrq(served["port"], b"small")[:4] == b"\0\3\0\1"
    (line,) = lines_for(served, "small")
    assert (line["outcome"], line["size"]) == ("complete", "5")
    reply = raw_rrq(served["port"], b"no/such/loader.efi")
    assert reply[:4] == b"\0\5\0\1"  # ERROR, file not found
    (line,) = lines_for(served, "no/such/loader.efi")
    assert line["outcome"] == "error:1"


def test_a_client_that_stops_after_the_first_block_is_partial(served) -> None:  # type: ignore[no-untyped-def]
    # raw_rrq acknowledges block 1 of a 2,048-byte file and goes away
    assert raw_rrq(served["port"], b"loader.bin")[:4] == b"\0\3\0\1"
    (line,) = lines_for(served, "loader.bin", timeout=30)  # ends when the server gives up
    assert line["outcome"] == "partial" and line["size"] == "2048"


def test_a_forged_name_cannot_forge_a_line(served) -> None:  # type: ignore[no-untyped-def]
    """Spaces and quotes in a requested name would let a client write what looks like
    another request's line; the name is percent-encoded, one token."""
    forged = 'x" complete 1 1 1\r 10.9.9.9 "RRQ pxelinux.cfg/default'
    raw_rrq(served["port"], forged.replace("\r", " ").encode())
    name = forged.replace("\r", " ")
    (line,) = lines_for(served, name)
    assert line["outcome"] == "error:1"
    text = served["access"].read_text()
    assert "10.9.9.9" not in text.replace("10.9.9.9%20", "")  # only inside the encoded name
    assert all(LINE.match(raw) for raw in text.splitlines())
