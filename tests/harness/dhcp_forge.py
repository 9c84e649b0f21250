"""A forger on the boot network, for tests: sends DHCP packets a real server never sent.

Runs *inside* a network namespace the tests created (``ip netns exec NS python -m …``),
refuses to run in the root namespace and refuses addresses outside the labs' own subnets
(``netns.SUBNET_PREFIX``), so it can never put a packet on a real network. Every packet is
one broadcast Ethernet frame on ``--iface`` with the IPv4 source address given.

    python dhcp_forge.py --iface IF --mac VICTIM --yiaddr IP --server-id IP --src IP
        [--xid N] [--request]

``--request`` first sends the DHCPREQUEST a client with that MAC and xid would send for
``--yiaddr`` from ``--server-id`` (a forger spoofing both sides of an exchange).
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))

from pxehook.capture import packet as dp
from tests.harness.dhcp_probe import ETH_P_IP, in_own_netns, ip_udp
from tests.harness.netns import SUBNET_PREFIX

LAB_NET = ipaddress.ip_network(f"{SUBNET_PREFIX}.0.0/16")


def lab_address(text: str) -> str:
    """``text`` if it is an address inside the labs' subnets, else exit with a reason."""
    if ipaddress.ip_address(text) not in LAB_NET:
        raise SystemExit(f"dhcp_forge: refusing {text}: not inside {LAB_NET}")
    return text


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iface", required=True)
    ap.add_argument("--mac", required=True)
    ap.add_argument("--yiaddr", required=True, type=lab_address)
    ap.add_argument("--server-id", required=True, type=lab_address)
    ap.add_argument("--src", required=True, type=lab_address)
    ap.add_argument("--xid", type=lambda s: int(s, 0), default=0x0BADF00D)
    ap.add_argument("--request", action="store_true")
    args = ap.parse_args()
    if not in_own_netns():
        print("dhcp_forge: refusing to run in the root network namespace", file=sys.stderr)
        return 2
    chaddr = bytes.fromhex(args.mac.replace(":", "").replace("-", ""))
    server = socket.inet_aton(args.server_id)
    raw = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP))
    raw.bind((args.iface, ETH_P_IP))
    bcast = (args.iface, ETH_P_IP, 0, 0, b"\xff" * 6)
    if args.request:
        options = {
            dp.OPT_MESSAGE_TYPE: bytes([dp.REQUEST]),
            dp.OPT_REQUESTED_IP: socket.inet_aton(args.yiaddr),
            dp.OPT_SERVER_ID: server,
        }
        request = dp.DhcpPacket(op=1, xid=args.xid, flags=0x8000, chaddr=chaddr, options=options)
        raw.sendto(ip_udp("0.0.0.0", "255.255.255.255", 68, 67, request.encode()), bcast)
    options = {
        dp.OPT_MESSAGE_TYPE: bytes([dp.ACK]),
        dp.OPT_SERVER_ID: server,
        51: (3600).to_bytes(4, "big"),  # lease time
        1: socket.inet_aton("255.255.255.0"),
    }
    ack = dp.DhcpPacket(
        op=2, xid=args.xid, flags=0x8000, yiaddr=args.yiaddr, chaddr=chaddr, options=options
    )
    raw.sendto(ip_udp(args.src, "255.255.255.255", 67, 68, ack.encode()), bcast)
    raw.close()
    print("sent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
