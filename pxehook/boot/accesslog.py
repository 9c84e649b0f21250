"""nginx's access log back on the timeline: every pre-rendered file nginx served is a hit.

nginx logs in the ``pxehook`` format (:data:`LOG_FORMAT`, declared by ``front.nginx_config``).
The path logged is ``$uri`` — after nginx decoded percent-escapes, resolved ``.``/``..``,
merged ``//`` and ``try_files`` chose the file — so ``/ipxe/../ipxe/52-54-…``,
``/ipxe%2F52-54-…`` and ``//ipxe//52-54-…`` all log as the file they were answered from, and
land on that file's host. Static answers of any success status count (200, a ``Range``
request's 206, a 304); proxied lines (``$upstream_addr`` set) are gunicorn's, which records
them itself.

:class:`AccessLogIngester` reads the log with ``boot/logfollow.py`` (each line once, across
rotation, truncation and restarts), decides each hit against the host as the store holds it
(one decide() per host, loader, claim and path until the store changes), writes the rows
``boot.timeline.boot_hit`` builds — the same ``boot.config`` / ``boot.arch_mismatch`` as a
gunicorn answer, ``via: nginx`` — in batches, then calls ``BootHooks.on_boot_event``.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from urllib.parse import parse_qs

from pxehook import arch as archtable
from pxehook.boot import loaders
from pxehook.boot.decide import Facts, decide
from pxehook.boot.hooks import NO_HOOKS, BootHooks
from pxehook.boot.logfollow import LogFollower
from pxehook.boot.names import clean_path, fast_mac
from pxehook.boot.resolver import Resolver
from pxehook.boot.timeline import Entry, boot_hit
from pxehook.context import Context
from pxehook.errors import InvalidInput
from pxehook.models import Host

log = logging.getLogger("pxehook.boot.accesslog")

LOG_FORMAT = "$msec $remote_addr $status $body_bytes_sent $upstream_addr $args $uri"
#: statuses of a static answer that sent (part of) the file or confirmed the client's copy
SERVED = frozenset({"200", "206", "304"})
_IPXE_PATH = re.compile(r"^/ipxe/([^/?]+)$")
#: cached answers (per host, loader, claim and path) kept at most until the store changes
CACHE_LIMIT = 50_000


@dataclass(frozen=True)
class Hit:
    """One access-log line nginx answered itself from a file."""

    at: float
    client_ip: str
    path: str
    query: str


def parse_line(line: str) -> Hit | None:
    """A static success from a ``pxehook`` log line; None for proxied/failed/garbled lines.

    Lines of the format before ``$uri`` was logged (``… $request_uri $upstream_addr``) are
    still read, as they were then."""
    fields = line.split(" ", 6)
    if len(fields) == 7:
        at, ip, status, _size, upstream, query, path = fields
    elif len(fields) == 6:
        at, ip, status, _size, path, upstream = fields
        path, _, query = path.partition("?")
    else:
        return None
    if status not in SERVED or upstream != "-":
        return None
    try:
        when = float(at)
    except ValueError:
        return None
    return Hit(when, ip, path, "" if query == "-" else query)


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
    """Follows the access log (position kept in state_dir) and records what nginx served."""

    def __init__(self, ctx: Context, path: str, hooks: BootHooks = NO_HOOKS) -> None:
        self.ctx = ctx
        self.path = path
        self.follower = LogFollower(path, os.path.join(ctx.settings.state_dir, "access-log.offset"))
        self.resolver = Resolver(ctx, hooks=hooks, record=False)
        self.hooks = hooks
        self._hosts: dict[str, Host | None] = {}
        self._answers: dict[tuple[str, str, int | None, str], list[Entry]] = {}
        self._generation = -1
        self.unmatched = 0  # hits of a file whose MAC no host owns (a file left behind)

    def poll(self, limit: int = 4 << 20) -> int:
        """Record the log's new lines (about ``limit`` bytes). Returns lines read."""
        lines = self.follower.read(limit)
        if lines:
            hits = [h for h in (parse_line(ln.decode("utf-8", "replace")) for ln in lines) if h]
            self.record(hits)
            self.follower.commit()
        return len(lines)

    def record(self, hits: list[Hit]) -> int:
        """Turn static hits into timeline rows (one decide() per host, loader, claim, path)."""
        generation = self.resolver.refresh()
        if generation != self._generation or len(self._answers) > CACHE_LIMIT:
            self._hosts.clear()
            self._answers.clear()
            self._generation = generation
        facts = [(hit, hit_facts(hit)) for hit in hits]
        wanted = {f.mac for _, f in facts if f is not None and f.mac not in self._hosts}
        found = self.ctx.store().hosts_by_mac(sorted(wanted)) if wanted else {}
        self._hosts.update((mac, found.get(mac)) for mac in wanted)
        rows, calls = [], []
        for hit, fact in facts:
            host = self._hosts.get(fact.mac) if fact else None
            if fact is None or host is None or host.id is None:
                self.unmatched += 1
                continue
            for entry in self._answer(host, fact):
                data = (
                    {**entry.data, "client_ip": fact.ip}
                    if "client_ip" in entry.data
                    else entry.data
                )
                rows.append((host.id, entry.kind, "nginx", entry.message, data, hit.at))
                if entry.hook:
                    calls.append((host, entry.kind, data))
        if rows:
            self.ctx.store().event_add_many(rows)
        for host, kind, data in calls:
            self.hooks.on_boot_event(host, kind, data)
        return len(calls)

    def _answer(self, host: Host, facts: Facts) -> list[Entry]:
        """boot_hit's rows for this host, loader, claim and path, until the store changes
        (the client's address is filled in per hit)."""
        key = (facts.mac, facts.loader, facts.claim.code if facts.claim else None, facts.path)
        entries = self._answers.get(key)
        if entries is None:
            resolver = self.resolver
            plan = decide(host, facts, resolver.profiles(), resolver.policy)
            entries = boot_hit(plan, facts, template="", via="nginx")
            self._answers[key] = entries
        return entries
