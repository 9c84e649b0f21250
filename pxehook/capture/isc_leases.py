"""ISC dhcpd's lease file (``dhcpd.leases``), read for the lease-file watcher.

dhcpd appends a ``lease <ip> { ... }`` block per change and now and then writes the whole
file anew; the last block of an IP wins. Blocks in dhcpd's own layout (statements indented,
``}`` alone at the start of a line, no nested block) are read by one regular expression
each; everything else (comments, ``host``/``failover`` blocks, ``on commit { ... }``, a
hand-edited or broken block) goes through the statement-by-statement reader, which reports
what it cannot read: a malformed statement loses only itself (a bad time: that time), a
block still open where the next ``lease`` starts is reported and dropped, and one open at
the end of the file makes the read ``partial`` (dhcpd is still writing it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pxehook.capture.sightings import BadLine, Lease, LeaseParse, is_ipv4, lease_mac, text

_OCTAL = re.compile(rb"\\([0-7]{3})")
_CANONICAL = re.compile(r"^lease ([0-9.]+) \{\n((?:[ \t]+[^{}\n]*\n)*)\}[ \t]*$", re.M)
_FIELDS = re.compile(
    r"^[ \t]+((?:starts|cltt|binding state|hardware ethernet|client-hostname) [^\n]*)$", re.M
)
_LEASE_START = re.compile(r"lease\s+(\S+)\s*\{")
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_DATE = re.compile(r"\d (\d{4})/(\d\d)/(\d\d) (\d\d):(\d\d):(\d\d)")
_NAME = re.compile(r'client-hostname "((?:[^"\\]|\\.)*)";')


def unescape(raw: bytes) -> bytes:
    """Decode the ``\\nnn`` octal escapes dhcpd puts in execute() arguments and leases."""
    return _OCTAL.sub(lambda m: bytes([int(m.group(1), 8) & 0xFF]), raw)


def parse_time(value: str) -> float | None:
    """``<weekday> YYYY/MM/DD HH:MM:SS`` (UTC) or ``epoch <seconds>``; None for ``never``.
    Raises ValueError for anything else."""
    if "#" in value:
        value = value.split("#", 1)[0]
    value = value.strip().rstrip(";").rstrip()
    match = _DATE.fullmatch(value)
    if match:
        y, mo, d, h, mi, sec = map(int, match.groups())
        return datetime(y, mo, d, h, mi, sec, tzinfo=UTC).timestamp()
    if value == "never":
        return None
    if value.startswith("epoch ") and value[6:].strip().isdigit():
        return float(value[6:].strip())
    raise ValueError(value)


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

    def statement(self, statement: str) -> str:
        """Read one statement into the block; why it is malformed, or ''."""
        if statement.startswith(("starts ", "cltt ")):
            try:
                at = parse_time(statement.partition(" ")[2])
            except ValueError:
                return f"bad time {text(statement, 60)!r}"
            if at is not None:
                self.times.append(at)
        elif statement.startswith("binding state "):
            self.state = statement[14:].rstrip(";").strip()
        elif statement.startswith("hardware ethernet "):
            self.mac = lease_mac(statement[18:].rstrip(";").strip())
            if self.mac is None:
                return f"bad hardware address {text(statement, 60)!r}"
        elif statement.startswith("client-hostname "):
            name = _NAME.fullmatch(statement)
            if name is None:
                return f"bad client-hostname {text(statement, 60)!r}"
            raw = unescape(name.group(1).encode("latin-1", "replace")).replace(b'\\"', b'"')
            self.name = text(raw)
        return ""


class _Reader:
    """The last block per IP, and what could not be read."""

    def __init__(self) -> None:
        self.latest: dict[str, Lease | None] = {}
        self.bad: list[BadLine] = []
        self.block: _Block | None = None
        self.other = 0  # depth inside a block that is not a lease (host, failover, class)

    def canonical(self, number: int, ip: str, body: str) -> None:
        """A block in dhcpd's own layout starting at line ``number``."""
        self.unclosed(number)
        block = _Block(number, ip)
        for match in _FIELDS.finditer(body):
            reason = block.statement(match.group(1).strip())
            if reason:
                self.bad.append(BadLine(number + 1 + body.count("\n", 0, match.start()), reason))
        self.latest[ip] = block.lease() if is_ipv4(ip) else self._bad_address(number, ip)

    def unclosed(self, number: int) -> None:
        """A ``lease`` starts at line ``number``: a block still open there is broken."""
        block = self.block
        if block is not None and block.depth == 0:
            reason = f"lease {block.ip} not closed before line {number}"
            self.bad.append(BadLine(block.line, reason))
            self.block = None

    def _bad_address(self, number: int, ip: str) -> None:
        self.bad.append(BadLine(number, f"bad lease address {text(ip, 40)!r}"))

    def lines(self, lines: list[str], first: int) -> None:
        """Statement by statement: ``lines`` start at line number ``first``."""
        for number, raw in enumerate(lines, first):
            line = raw.strip()
            if not line or line[0] == "#":
                continue
            bare = _QUOTED.sub('""', line) if '"' in line else line
            braces = "{" in bare or "}" in bare
            block = self.block
            if block is not None and block.depth == 0 and not braces:
                reason = block.statement(line)
                if reason:
                    self.bad.append(BadLine(number, reason))
                continue
            start = _LEASE_START.fullmatch(bare) if bare.startswith("lease") else None
            if start:
                self.unclosed(number)
            if self.block is None:
                self._outside(number, line, bare, start)
            elif self.block.depth == 0 and bare == "}":
                self.latest[self.block.ip] = self.block.lease()
                self.block = None
            else:
                self.block.depth = max(0, self.block.depth + bare.count("{") - bare.count("}"))

    def _outside(self, number: int, line: str, bare: str, start: re.Match[str] | None) -> None:
        if self.other == 0 and start:
            if is_ipv4(start.group(1)):
                self.block = _Block(number, start.group(1))
            else:
                self._bad_address(number, start.group(1))
                self.other = 1
        elif self.other == 0 and bare.startswith("lease"):
            self.bad.append(BadLine(number, f"malformed lease line {text(line, 60)!r}"))
            self.other = max(0, bare.count("{") - bare.count("}"))
        else:
            self.other = max(0, self.other + bare.count("{") - bare.count("}"))


def parse_leases(data: str) -> LeaseParse:
    """The last ``lease`` block per IP in ``binding state active`` (see the module doc)."""
    reader = _Reader()
    pos, number = 0, 1
    for match in _CANONICAL.finditer(data):
        gap = data[pos : match.start()]
        reader.lines(gap.split("\n"), number)
        number += gap.count("\n")
        reader.canonical(number, match.group(1), match.group(2))
        number += match.group(2).count("\n") + 1
        pos = match.end()
    tail = data[pos:].split("\n")
    partial = tail[-1].strip() != ""  # the last line is still being written
    reader.lines(tail[:-1] if partial else tail, number)
    leases = [lease for lease in reader.latest.values() if lease is not None]
    open_at_end = reader.block is not None or reader.other > 0
    return LeaseParse(leases, reader.bad, partial or open_at_end)
