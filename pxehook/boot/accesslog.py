"""nginx's access log back on the timeline: every pre-rendered file nginx served is a hit.

nginx logs in the ``pxehook`` format (:data:`LOG_FORMAT`, declared by ``front.nginx_config``).
:class:`AccessLogIngester` follows the log from where it stopped (offset and inode kept in
``state_dir``, so rotation and restarts lose nothing), keeps only the static 200s nginx
answered itself, decides each against the snapshot the files were rendered from (one
decide() per host, loader and claim) and writes the rows ``boot.timeline.boot_hit`` builds —
the same ``boot.config`` / ``boot.arch_mismatch`` as a gunicorn answer, ``via: nginx`` — in
batches, then calls ``BootHooks.on_boot_event``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from pxehook import arch as archtable
from pxehook.boot import loaders
from pxehook.boot.decide import BootPlan, Facts, decide
from pxehook.boot.names import clean_path, fast_mac
from pxehook.boot.prerender import Prerenderer, write_atomic
from pxehook.boot.timeline import boot_hit
from pxehook.context import Context
from pxehook.errors import InvalidInput
from pxehook.models import Host

LOG_FORMAT = "$msec $remote_addr $status $body_bytes_sent $request_uri $upstream_addr"
_IPXE_PATH = re.compile(r"^/ipxe/([^/?]+)$")


@dataclass(frozen=True)
class Hit:
    """One access-log line nginx answered itself."""

    at: float
    client_ip: str
    path: str
    query: str


def parse_line(line: str) -> Hit | None:
    """A static 200 from a ``pxehook`` log line; None for proxied/failed/garbled lines."""
    fields = line.split()
    if len(fields) != 6 or fields[2] != "200" or fields[5] != "-":
        return None
    try:
        at = float(fields[0])
    except ValueError:
        return None
    parts = urlsplit(fields[4])
    return Hit(at, fields[1], parts.path, parts.query)


def hit_facts(hit: Hit) -> Facts | None:
    """The request facts of a hit (the MAC comes from its path); None when none names one."""
    try:
        path = clean_path(hit.path.lstrip("/"))
        match = _IPXE_PATH.match("/" + path)
        if match:
            query = parse_qs(hit.query)
            build = query.get("buildarch", [""])[0]
            plat = query.get("platform", [""])[0]
            claim = archtable.from_ipxe(build, plat) if build and plat else None
            mac, loader = fast_mac(match.group(1)), loaders.IPXE.name
            return Facts(loader, hit.path, mac, hit.client_ip, claim=claim, mac_source="request")
        name = loaders.parse_name(path)
        if name is not None and name.mac:
            return Facts(name.loader, hit.path, name.mac, hit.client_ip, mac_source="request")
    except InvalidInput:
        return None
    return None


class AccessLogIngester:
    """Follows the access log from where it stopped (offset kept in state_dir)."""

    def __init__(self, ctx: Context, path: str, prerenderer: Prerenderer) -> None:
        self.ctx = ctx
        self.path = path
        self.pre = prerenderer
        self.offset_file = os.path.join(ctx.settings.state_dir, "access-log.offset")
        self.inode, self.offset = self._load_offset()
        self._plans: dict[tuple[str, str, int | None], BootPlan] = {}
        self._plans_generation = -1

    def _load_offset(self) -> tuple[int, int]:
        try:
            with open(self.offset_file, encoding="ascii") as fh:
                inode, offset = fh.read().split()
                return int(inode), int(offset)
        except (OSError, ValueError):
            return 0, 0

    def _save_offset(self) -> None:
        os.makedirs(os.path.dirname(self.offset_file), exist_ok=True)
        write_atomic(self.offset_file, f"{self.inode} {self.offset}".encode())

    def poll(self, limit: int = 20000) -> int:
        """Ingest up to ``limit`` new lines. Returns how many hits were recorded."""
        if not self.pre.synced:
            return 0  # no host snapshot yet: keep the lines for later
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return 0
        if st.st_ino != self.inode or st.st_size < self.offset:  # rotated or truncated
            self.inode, self.offset = st.st_ino, 0
        if st.st_size == self.offset:
            return 0
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            chunk = fh.read(min(st.st_size - self.offset, limit * 200))
        end = chunk.rfind(b"\n") + 1
        lines = chunk[:end].decode("utf-8", "replace").splitlines()
        recorded = self.record([h for h in map(parse_line, lines) if h])
        self.offset += end
        self._save_offset()
        return recorded

    def record(self, hits: list[Hit]) -> int:
        """Turn static hits into timeline rows (one decide() per host, loader and claim)."""
        rows, calls = [], []
        if self.pre.generation != self._plans_generation:
            self._plans.clear()
            self._plans_generation = self.pre.generation
        for hit in hits:
            facts = hit_facts(hit)
            host = self.pre.hosts.get(facts.mac) if facts else None
            if facts is None or host is None or host.id is None:
                continue
            for entry in boot_hit(self._plan(host, facts), facts, template="", via="nginx"):
                rows.append((host.id, entry.kind, "nginx", entry.message, entry.data, hit.at))
                if entry.hook:
                    calls.append((host, entry.kind, entry.data))
        self.ctx.store().event_add_many(rows)
        for host, kind, data in calls:
            self.pre.resolver.hooks.on_boot_event(host, kind, data)
        return len(calls)

    def _plan(self, host: Host, facts: Facts) -> BootPlan:
        """decide() for this host, loader and claim, cached until the next sync."""
        key = (facts.mac, facts.loader, facts.claim.code if facts.claim else None)
        plan = self._plans.get(key)
        if plan is None:
            resolver = self.pre.resolver
            plan = decide(host, facts, resolver.profiles(), resolver.policy)
            self._plans[key] = plan
        return plan
