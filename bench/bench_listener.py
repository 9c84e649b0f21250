"""Listener throughput: a burst of scripted DISCOVERs inside a private namespace lab.

Called by bench_hook.py (section 4), or alone (root):

    .venv/bin/python bench/bench_listener.py [--packets 2000]

The sender (``--blast``) runs only inside a named network namespace (it refuses the host's).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import struct
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pxehook.capture import packet as dp  # noqa: E402
from tests.harness import netns  # noqa: E402
from tests.harness.dhcp_probe import in_own_netns, ip_udp  # noqa: E402


def blast(iface: str, count: int) -> None:
    """Send ``count`` DISCOVERs with distinct MACs, as fast as possible (netns only)."""
    if not in_own_netns():
        raise SystemExit("bench_listener: refusing to send outside a named network namespace")
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
    sock.bind((iface, 0x0800))
    dest = (iface, 0x0800, 0, 0, b"\xff" * 6)
    for i in range(count):
        mac = bytes([0x02, 0x42, 0, i >> 16 & 255, i >> 8 & 255, i & 255])
        opts = {
            dp.OPT_MESSAGE_TYPE: bytes([dp.DISCOVER]),
            dp.OPT_CLIENT_ARCH: struct.pack("!H", (0, 7, 11, 16)[i % 4]),
            dp.OPT_VENDOR_CLASS: b"PXEClient:Arch:00007:UNDI:003016",
        }
        pkt = dp.DhcpPacket(op=1, xid=i + 1, flags=0x8000, chaddr=mac, options=opts)
        sock.sendto(ip_udp("0.0.0.0", "255.255.255.255", 68, 67, pkt.encode()), dest)
        if i % 200 == 199:
            time.sleep(0.002)  # let the veth queue drain (txqueuelen 1000)


def listener_rate(work: Path, packets: int) -> None:
    reason = netns.available()
    if reason:
        print(f"\n## 4. Listener: skipped ({reason})")
        return
    lab = netns.NetLab(prefix=f"phcb{os.getpid() % 10000}", subnet_index=249, workdir=work / "lab")
    lab.up()
    try:
        lab.add_host("mon", 2)
        lab.add_host("cli", 3)
        env = {
            **os.environ,
            "PXEHOOK_DATABASE": f"sqlite:///{work}/listen.db",
            "PXEHOOK_SPOOL_DIR": str(work / "lspool"),
            "PXEHOOK_INVENTORY": str(work / "none.yaml"),
        }
        pxehook = str(Path(sys.executable).parent / "pxehook")
        listener = lab.spawn(
            "mon",
            "listener",
            pxehook,
            "listen",
            "-i",
            "eth0",
            "--count",
            str(packets),
            "--duration",
            "120",
            "--json",
            env=env,
        )
        deadline = time.monotonic() + 15
        while "listening" not in listener.log_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        start = time.perf_counter()
        lab.exec(lab.ns("cli"), sys.executable, __file__, "--blast", str(packets), timeout=120)
        sent = time.perf_counter() - start
        listener.popen.wait(timeout=180)
        total = time.perf_counter() - start
        text = listener.log_text()
        stats = json.loads(text[text.index("{") :])
    finally:
        lab.close()
    print(f"\n## 4. Listener: burst of {packets} DISCOVERs (distinct MACs) in a netns")
    print(
        f"sent in {sent:.2f} s ({packets / sent:.0f} pkt/s); listener received "
        f"{stats.get('packets', 0)}, recorded {stats.get('recorded', 0)} new hosts in "
        f"{total:.2f} s = {stats.get('recorded', 0) / total:.0f} packets/s end-to-end "
        f"(dropped {stats.get('dropped', 0)}, bad {stats.get('bad', 0)})"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=2000)
    ap.add_argument("--blast", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--iface", default="eth0", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.blast:
        blast(args.iface, args.blast)
        return 0
    with tempfile.TemporaryDirectory(prefix="pxh-bench-", dir="/var/tmp") as tmp:
        listener_rate(Path(tmp), args.packets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
