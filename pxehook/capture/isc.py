"""ISC dhcpd for capture: its ``execute()`` records and its ``dhcpd.leases`` file.

The generated include calls ``execute("<hook>", "isc", EVENT, IP, MAC, VENDOR_CLASS,
USER_CLASS, HOSTNAME, ARCH)``: EVENT is commit, release or expiry; MAC as
``binary-to-ascii(16, 8, ":", substring(hardware, 1, 6))`` (not zero-padded: normalised
here); ARCH is option 93 as ``binary-to-ascii(10, 16, ",", option pxe-system-type)``;
trailing arguments may be missing or empty; dhcpd's ``\\nnn`` octal escapes are decoded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pxehook.capture.sightings import (
    GONE,
    GONE_ACTIONS,
    LEASE,
    BadLine,
    DhcpSighting,
    Lease,
    LeaseParse,
    Reader,
    arch_from,
    is_ipv4,
    lease_mac,
    pad_mac,
    text,
)
from pxehook.capture.spool import Record
from pxehook.daemons import ISC
from pxehook.errors import InvalidInput

_OCTAL = re.compile(rb"\\([0-7]{3})")


def unescape(raw: bytes) -> bytes:
    """Decode the ``\\nnn`` octal escapes dhcpd puts in execute() arguments and leases."""
    return _OCTAL.sub(lambda m: bytes([int(m.group(1), 8) & 0xFF]), raw)


def hook_sightings(rec: Record) -> list[DhcpSighting]:
    """The sighting in one execute() record. Raises InvalidInput without a MAC."""
    args = [unescape(a) for a in rec.args[1:]] + [b""] * 8
    action, ip, mac, vendor_class, user, hostname, arch = (text(a) for a in args[:7])
    if not mac:
        raise InvalidInput(f"ISC {action!r} event without a MAC (check the execute() line)")
    kind = GONE if action in GONE_ACTIONS else LEASE
    return [
        DhcpSighting(
            ISC.name,
            action or "commit",
            kind,
            rec.at,
            rec.rid,
            mac=pad_mac(mac),
            ip=text(ip, 64),
            hostname=hostname,
            arch=arch_from(vendor_class=vendor_class, option93=arch),
            vendor_class=vendor_class,
            user_class=user,
            data={"ip": ip} if ip else {},
        )
    ]


_LEASE_START = re.compile(r"lease\s+(\S+)\s*\{")
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_DATE = re.compile(r"\d (\d{4})/(\d\d)/(\d\d) (\d\d):(\d\d):(\d\d)")
_NAME = re.compile(r'client-hostname "((?:[^"\\]|\\.)*)";')


@dataclass
class _Block:
    """One ``lease <ip> { ... }`` block being read."""

    line: int
    ip: str
    state: str = ""
    mac: str | None = None
    name: str = ""
    times: list[float] = field(default_factory=list)
    depth: int = 0  # inside nested blocks (``on commit { ... }``)

    def lease(self) -> Lease | None:
        if self.state != "active" or self.mac is None:
            return None
        return Lease(self.mac, self.ip, self.name, max(self.times) if self.times else None)


def parse_time(value: str) -> float | None:
    """``<weekday> YYYY/MM/DD HH:MM:SS`` (UTC) or ``epoch <seconds>``; None for ``never``.
    Raises ValueError for anything else."""
    value = value.split("#", 1)[0].strip().rstrip(";").strip()
    if value == "never":
        return None
    if value.startswith("epoch ") and value[6:].strip().isdigit():
        return float(value[6:].strip())
    match = _DATE.fullmatch(value)
    if not match:
        raise ValueError(value)
    y, mo, d, h, mi, sec = (int(g) for g in match.groups())
    return datetime(y, mo, d, h, mi, sec, tzinfo=UTC).timestamp()


def parse_leases(data: str) -> LeaseParse:
    """The last ``lease`` block per IP in ``binding state active``. A malformed statement is
    reported and skipped (a bad time loses only that time); a block left open where the
    next ``lease`` starts is reported and dropped; one open at the end is ``partial``."""
    lines = data.split("\n")
    partial = lines[-1].strip() != ""
    latest: dict[str, Lease | None] = {}
    bad: list[BadLine] = []
    block: _Block | None = None
    other = 0  # depth inside a block that is not a lease (host, failover peer, class)
    for number, raw in enumerate(lines[:-1] if partial else lines, 1):
        line = _QUOTED.sub('""', raw).strip()
        if not line or line.startswith("#"):
            continue
        start = _LEASE_START.fullmatch(line)
        if block is not None and start and block.depth == 0:
            bad.append(BadLine(block.line, f"lease {block.ip} not closed before line {number}"))
            block = None
        if block is None:
            if other == 0 and start:
                if is_ipv4(start.group(1)):
                    block = _Block(number, start.group(1))
                else:
                    bad.append(BadLine(number, f"bad lease address {text(start.group(1), 40)!r}"))
                    other = 1
            elif other == 0 and line.startswith("lease"):
                bad.append(BadLine(number, f"malformed lease line {text(raw.strip(), 60)!r}"))
                other = max(0, line.count("{") - line.count("}"))
            else:
                other = max(0, other + line.count("{") - line.count("}"))
            continue
        if block.depth == 0 and line == "}":
            latest[block.ip] = block.lease()
            block = None
            continue
        block.depth = max(0, block.depth + line.count("{") - line.count("}"))
        if block.depth == 0 and "{" not in line and "}" not in line:
            reason = _statement(block, raw.strip())
            if reason:
                bad.append(BadLine(number, reason))
    return LeaseParse(
        [lease for lease in latest.values() if lease is not None],
        bad,
        partial or block is not None or other > 0,
    )


def _statement(block: _Block, statement: str) -> str:
    """Read one statement of a lease block into ``block``; why it is malformed, or ''."""
    word, _, rest = statement.partition(" ")
    if word in ("starts", "cltt"):
        try:
            at = parse_time(rest)
        except ValueError:
            return f"bad time {text(statement, 60)!r}"
        if at is not None:
            block.times.append(at)
    elif word == "hardware":
        kind, _, value = rest.rstrip(";").partition(" ")
        if kind == "ethernet":
            block.mac = lease_mac(value.strip())
            if block.mac is None:
                return f"bad hardware address {text(statement, 60)!r}"
    elif statement.startswith("binding state "):
        block.state = statement[14:].rstrip(";").strip()
    elif word == "client-hostname":
        name = _NAME.fullmatch(statement)
        if name is None:
            return f"bad client-hostname {text(statement, 60)!r}"
        raw_name = unescape(name.group(1).encode("latin-1", "replace")).replace(b'\\"', b'"')
        block.name = text(raw_name)
    return ""


READER = Reader(
    daemon=ISC,
    first_arg=re.compile(re.escape(ISC.name)),  # the generated execute() passes it first
    hook_sightings=hook_sightings,
    parse_leases=parse_leases,
)
