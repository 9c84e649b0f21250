"""DHCPv4 packets: decode and encode (RFC 2131/2132), standard library only.

Used by the passive listener (decode what crosses the wire) and by the test clients (build
DISCOVER/REQUEST). Malformed input raises ``ValueError`` with the reason; callers log and
skip it — one bad packet is never fatal.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field

MAGIC = b"\x63\x82\x53\x63"
_HEADER = struct.Struct("!BBBBIHH4s4s4s4s16s64s128s")
HEADER_LEN = _HEADER.size  # 236

DISCOVER, OFFER, REQUEST, DECLINE, ACK, NAK, RELEASE, INFORM = range(1, 9)
MESSAGE_TYPES = {
    DISCOVER: "DHCPDISCOVER",
    OFFER: "DHCPOFFER",
    REQUEST: "DHCPREQUEST",
    DECLINE: "DHCPDECLINE",
    ACK: "DHCPACK",
    NAK: "DHCPNAK",
    RELEASE: "DHCPRELEASE",
    INFORM: "DHCPINFORM",
}

OPT_PAD, OPT_END = 0, 255
OPT_HOSTNAME = 12
OPT_REQUESTED_IP = 50
OPT_OVERLOAD = 52
OPT_MESSAGE_TYPE = 53
OPT_SERVER_ID = 54
OPT_PARAM_REQUEST = 55
OPT_VENDOR_CLASS = 60
OPT_CLIENT_ID = 61
OPT_TFTP_SERVER = 66
OPT_BOOTFILE = 67
OPT_USER_CLASS = 77
OPT_CLIENT_ARCH = 93
OPT_CLIENT_NDI = 94
OPT_CLIENT_UUID = 97
OPT_IPXE = 175


ZERO = "0.0.0.0"  # noqa: S104 - the unset address field, not a bind


def _ip(raw: bytes) -> str:
    return str(ipaddress.IPv4Address(raw))


def _cstr(raw: bytes) -> bytes:
    return raw.split(b"\x00", 1)[0]


@dataclass
class DhcpPacket:
    """One BOOTP/DHCP message; ``options`` keeps wire order, repeated codes concatenated."""

    op: int = 1
    htype: int = 1
    hlen: int = 6
    hops: int = 0
    xid: int = 0
    secs: int = 0
    flags: int = 0
    ciaddr: str = ZERO
    yiaddr: str = ZERO
    siaddr: str = ZERO
    giaddr: str = ZERO
    chaddr: bytes = b"\x00" * 16
    sname: bytes = b""
    file: bytes = b""
    options: dict[int, bytes] = field(default_factory=dict)

    # accessors ---------------------------------------------------------------------
    @property
    def mac(self) -> str:
        return ":".join(f"{b:02x}" for b in self.chaddr[: min(self.hlen, 16)])

    @property
    def message_type(self) -> int | None:
        raw = self.options.get(OPT_MESSAGE_TYPE)
        return raw[0] if raw else None

    @property
    def message_name(self) -> str:
        mtype = self.message_type
        return MESSAGE_TYPES.get(mtype or 0, "BOOTP" if mtype is None else f"type-{mtype}")

    def option_text(self, code: int) -> str | None:
        raw = self.options.get(code)
        return None if raw is None else _cstr(raw).decode("latin-1")

    @property
    def boot_file(self) -> str:
        """Option 67 if present, else the BOOTP ``file`` field (NUL-stripped)."""
        raw = self.options.get(OPT_BOOTFILE)
        return _cstr(raw if raw is not None else self.file).decode("latin-1")

    @property
    def uuid(self) -> str:
        """Option 97 as a lower-case UUID string (type byte 0 + 16 bytes), else ''."""
        raw = self.options.get(OPT_CLIENT_UUID)
        if not raw or len(raw) != 17 or raw[0] != 0:
            return ""
        h = raw[1:].hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    # wire --------------------------------------------------------------------------
    def encode(self) -> bytes:
        header = _HEADER.pack(
            self.op,
            self.htype,
            self.hlen,
            self.hops,
            self.xid,
            self.secs,
            self.flags,
            ipaddress.IPv4Address(self.ciaddr).packed,
            ipaddress.IPv4Address(self.yiaddr).packed,
            ipaddress.IPv4Address(self.siaddr).packed,
            ipaddress.IPv4Address(self.giaddr).packed,
            self.chaddr.ljust(16, b"\x00")[:16],
            self.sname.ljust(64, b"\x00")[:64],
            self.file.ljust(128, b"\x00")[:128],
        )
        body = bytearray(MAGIC)
        for code, value in self.options.items():
            for start in range(0, max(len(value), 1), 255):
                chunk = value[start : start + 255]
                body += bytes((code, len(chunk))) + chunk
        body.append(OPT_END)
        packet = header + bytes(body)
        return packet.ljust(300, b"\x00")


def _parse_options(raw: bytes, into: dict[int, bytes]) -> None:
    i = 0
    while i < len(raw):
        code = raw[i]
        if code == OPT_PAD:
            i += 1
            continue
        if code == OPT_END:
            return
        if i + 1 >= len(raw):
            raise ValueError(f"option {code} truncated at offset {i}")
        length = raw[i + 1]
        value = raw[i + 2 : i + 2 + length]
        if len(value) != length:
            raise ValueError(f"option {code} claims {length} bytes, {len(value)} present")
        into[code] = into.get(code, b"") + value
        i += 2 + length


def decode(data: bytes) -> DhcpPacket:
    """Parse a DHCP/BOOTP payload (UDP data). Raises ValueError when malformed."""
    if len(data) < HEADER_LEN:
        raise ValueError(f"packet too short ({len(data)} bytes)")
    (
        op,
        htype,
        hlen,
        hops,
        xid,
        secs,
        flags,
        ciaddr,
        yiaddr,
        siaddr,
        giaddr,
        chaddr,
        sname,
        file,
    ) = _HEADER.unpack_from(data)
    if op not in (1, 2):
        raise ValueError(f"bad op {op}")
    pkt = DhcpPacket(
        op=op,
        htype=htype,
        hlen=hlen,
        hops=hops,
        xid=xid,
        secs=secs,
        flags=flags,
        ciaddr=_ip(ciaddr),
        yiaddr=_ip(yiaddr),
        siaddr=_ip(siaddr),
        giaddr=_ip(giaddr),
        chaddr=chaddr,
        sname=_cstr(sname),
        file=_cstr(file),
    )
    rest = data[HEADER_LEN:]
    if rest[:4] != MAGIC:
        return pkt  # plain BOOTP
    _parse_options(rest[4:], pkt.options)
    overload = pkt.options.get(OPT_OVERLOAD, b"\x00")[0]
    if overload & 1:
        _parse_options(file, pkt.options)
        pkt.file = b""
    if overload & 2:
        _parse_options(sname, pkt.options)
        pkt.sname = b""
    return pkt
