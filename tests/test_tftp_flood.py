"""A flood of TFTP requests never acknowledged, from 200 addresses, while a real machine
(tftp-hpa) downloads its loader: the download completes, the flood gets at most one small
packet per request. Three namespaces on a test bridge: server, machine, flooder.

The delay is printed for the record; a generous bound only catches a server that stalls
(the figure for the docs comes from bench/bench_tftp.py on a quiet machine).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import require_tool
from tests.tftp_server import REPO, seed, site_env

pytestmark = [pytest.mark.daemon, pytest.mark.netns, pytest.mark.slow]
LOADER = "undionly.kpxe"
FLOOD_SOURCES = range(50, 250)  # host octets of the flooder's addresses


def download(lab, server_ip: str, out: Path) -> tuple[float, str]:  # type: ignore[no-untyped-def]
    """tftp-hpa in the machine's namespace: (seconds, error text or '')."""
    started = time.monotonic()
    done = lab.exec(
        lab.ns("machine"), "tftp", "-m", "binary", server_ip, "69", "-c", "get", LOADER,
        str(out), check=False, timeout=90,
    )  # fmt: skip
    return time.monotonic() - started, (done.stderr + done.stdout).strip()


def flood_report(proc) -> dict:  # type: ignore[no-untyped-def,type-arg]
    proc.popen.wait(timeout=120)
    lines = [line for line in proc.log_text().splitlines() if line.startswith("{")]
    assert lines, proc.log_text()
    return json.loads(lines[-1])  # type: ignore[no-any-return]


def test_flood_of_unacknowledged_requests_does_not_stall_a_real_client(
    netlab, tmp_path: Path, pxehook_bin: str
) -> None:
    require_tool("tftp")
    root = tmp_path / "tftp"
    root.mkdir()
    loader = os.urandom(1024 * 1024)
    (root / LOADER).write_bytes(loader)
    env = site_env(tmp_path, root, PXEHOOK_LOG_LEVEL="warning")
    seed(env).close()
    server_ip = netlab.add_host("server", 1)
    netlab.add_host("machine", 2)
    netlab.add_host("flooder", 3)
    batch = tmp_path / "addresses"
    batch.write_text("".join(f"address add {netlab.net}.{n}/24 dev eth0\n" for n in FLOOD_SOURCES))
    netlab.exec(netlab.ns("flooder"), "ip", "-batch", str(batch))
    base = {k: v for k, v in os.environ.items() if not k.startswith("PXEHOOK_")}
    server = netlab.spawn(
        "server", "pxehook-tftp", pxehook_bin, "tftp", "--bind", server_ip, "--port", "69",
        env={**base, **env},
    )  # fmt: skip
    netlab.wait_udp("server", 69)

    quiet, error = download(netlab, server_ip, tmp_path / "quiet")
    assert not error and (tmp_path / "quiet").read_bytes() == loader, error

    sources = ",".join(f"{netlab.net}.{n}" for n in FLOOD_SOURCES)
    flooder = netlab.spawn(
        "flooder", "flood", sys.executable, "-m", "tests.harness.tftp_flood",
        "--target", server_ip, "--sources", sources, "--requests", "10000", "--rate", "2000",
        "--name", LOADER, "--hold", "3",
        env={**base, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while "flooding" not in flooder.log_text():
        assert flooder.alive() and time.monotonic() < deadline, flooder.log_text()
        time.sleep(0.05)
    time.sleep(1.0)  # thousands of requests are in
    flooded, error = download(netlab, server_ip, tmp_path / "flooded")
    report = flood_report(flooder)
    print(
        f"\nTFTP flood: 1 MiB loader in {quiet:.2f} s quiet, {flooded:.2f} s under a flood of "
        f"{report['requests']} unacknowledged requests from {len(FLOOD_SOURCES)} addresses "
        f"in {report['send_seconds']} s; flood got {report['replies']} replies, "
        f"{report['reply_bytes']} bytes"
    )
    assert not error, error
    assert (tmp_path / "flooded").read_bytes() == loader
    assert flooded < 10, f"the flood delayed a real client by {flooded - quiet:.1f} s"
    # no amplification: never more than one packet per request, never a large block
    assert report["max_replies_per_request"] <= 1, report
    assert report["max_reply_size"] <= 516, report
    assert server.alive(), server.log_text()
    _after, error = download(netlab, server_ip, tmp_path / "after")
    assert not error and (tmp_path / "after").read_bytes() == loader
