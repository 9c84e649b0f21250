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
(one decide() per host, loader, query and path until the store changes), writes the rows
``boot.timeline.boot_hit`` builds — the same ``boot.config`` / ``boot.arch_mismatch`` as a
gunicorn answer, ``via: nginx`` — in batches, then calls ``BootHooks.on_boot_event``.
"""

from __future__ import annotations

import logging
import os
import re
from typing import NamedTuple
from urllib.parse import parse_qs

from pxehook import arch as archtable
from pxehook.boot import loaders
from pxehook.boot.decide import Facts, decide
from pxehook.boot.hooks import NO_HOOKS, BootHooks
from pxehook.boot.logfollow import LogFollower
from pxehook.boot.resolver import Resolver
from pxehook.boot.timeline import Entry, boot_hit
from pxehook.context import Context
from pxehook.models import Host, Profile
from pxehook.store.dialect import EventData, encode_json

log = logging.getLogger("pxehook.boot.accesslog")

LOG_FORMAT = "$msec $remote_addr $status $body_bytes_sent $upstream_addr $args $uri"
#: statuses of a static answer that sent (part of) the file or confirmed the client's copy
SERVED = frozenset({"200", "206", "304"})
#: entries each cache (files, hosts, answers) holds at most; all are dropped when the store
#: changes. About 1 kB each: the supervisor's memory stays bounded however many hosts boot.
CACHE_LIMIT = 20_000


class Hit(NamedTuple):
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


def _file_pattern(loader: loaders.Loader) -> re.Pattern[str]:
    """The URI of a file the pre-renderer writes for ``loader`` (group 1: the dashed MAC)."""
    assert loader.front is not None
    before, _, after = loader.front.file.partition("{mac}")
    return re.compile(f"/{re.escape(before)}({_DASHED}){re.escape(after)}")


_DASHED = r"[0-9a-f]{2}(?:-[0-9a-f]{2}){5}"
#: (loader, URI of its pre-rendered files) for every loader nginx serves from files
_SERVED = tuple((loader, _file_pattern(loader)) for loader in loaders.PRERENDERED)


def served_file(path: str) -> tuple[str, str] | None:
    """(loader, MAC) of the pre-rendered file ``path`` names, or None.

    ``$uri`` after ``try_files`` is exactly such a file; a line of the old format carries
    the raw request URI instead, read as it was then (a PXELINUX prefix is dropped)."""
    for loader, pattern in _SERVED:
        match = pattern.fullmatch(path)
        if match is None and "/pxelinux.cfg/" in path:
            match = pattern.fullmatch(path[path.rindex("/pxelinux.cfg/") :])
        if match is not None:
            return loader.name, match.group(1).replace("-", ":")
    return None


def hit_facts(hit: Hit, loader: str, mac: str) -> Facts:
    """The request facts of a hit on ``loader``'s file for ``mac`` (``served_file``): an
    iPXE script's arch claim comes from its query."""
    claim = None
    if loader == loaders.IPXE.name and hit.query:
        query = parse_qs(hit.query)
        build, plat = query.get("buildarch", [""])[0], query.get("platform", [""])[0]
        claim = archtable.from_ipxe(build, plat) if build and plat else None
    return Facts(loader, hit.path, mac, hit.client_ip, claim=claim, mac_source="request")


class AccessLogIngester:
    """Follows the access log (position kept in state_dir) and records what nginx served."""

    def __init__(self, ctx: Context, path: str, hooks: BootHooks = NO_HOOKS) -> None:
        self.ctx = ctx
        self.path = path
        self.follower = LogFollower(path, os.path.join(ctx.settings.state_dir, "access-log.offset"))
        self.resolver = Resolver(ctx, hooks=hooks, record=False)
        self.hooks = hooks
        self._files: dict[str, tuple[str, str] | None] = {}  # path -> (loader, MAC)
        self._hosts: dict[str, Host | None] = {}
        self._rows: dict[tuple[str, ...], list[tuple[Entry, EventData]]] = {}
        self._generation = -1
        self._profiles: dict[str, Profile] = {}
        self.unmatched = 0  # hits of a file whose MAC no host owns (a file left behind)

    def poll(self, limit: int = 1 << 20) -> int:
        """Record the log's new lines (about ``limit`` bytes). Returns lines read."""
        lines = self.follower.read(limit)
        if lines:
            hits = [h for h in (parse_line(ln.decode("utf-8", "replace")) for ln in lines) if h]
            try:
                self.record(hits)
            except BaseException:
                self.follower.rewind()  # not recorded: read these lines again next time
                raise
            self.follower.commit()
        return len(lines)

    def record(self, hits: list[Hit]) -> int:
        """Turn static hits into timeline rows (one decide() and one encoded payload per
        host, loader, query, path and client until the store changes)."""
        self._refresh()
        files = [(hit, self._file(hit.path)) for hit in hits]
        wanted = {f[1] for _, f in files if f is not None and f[1] not in self._hosts}
        found = self.ctx.store().hosts_by_mac(sorted(wanted)) if wanted else {}
        self._hosts.update((mac, found.get(mac)) for mac in wanted)
        rows: list[tuple[int, str, str, str, EventData, float]] = []
        calls = []
        for hit, file in files:
            host = self._hosts.get(file[1]) if file else None
            if file is None or host is None or host.id is None:
                self.unmatched += 1
                continue
            for entry, payload in self._payloads(file, host, hit):
                rows.append((host.id, entry.kind, "nginx", entry.message, payload, hit.at))
                if entry.hook:
                    calls.append((host, entry.kind, entry.data))
        if rows:
            self.ctx.store().event_add_many(rows)
        for host, kind, data in calls:
            try:
                self.hooks.on_boot_event(host, kind, data)
            except Exception:  # recorded already: a failing hook must not record it twice
                log.exception("on_boot_event for %s failed", host.mac)
        return len(calls)

    def _refresh(self) -> None:
        """Forget every decision when the store changed; keep each cache bounded."""
        generation = self.resolver.refresh()
        if generation != self._generation:
            self._hosts.clear()
            self._rows.clear()
            self._generation = generation
        for cache in (self._files, self._hosts, self._rows):
            if len(cache) > CACHE_LIMIT:
                cache.clear()
        self._profiles = self.resolver.profiles()

    def _file(self, path: str) -> tuple[str, str] | None:
        if path not in self._files:
            self._files[path] = served_file(path)
        return self._files[path]

    def _payloads(
        self, file: tuple[str, str], host: Host, hit: Hit
    ) -> list[tuple[Entry, EventData]]:
        """The rows (entry, encoded payload) of this answer to this client."""
        key = (*file, hit.query, hit.path, hit.client_ip)
        rows = self._rows.get(key)
        if rows is None:
            facts = hit_facts(hit, *file)
            plan = decide(host, facts, self._profiles, self.resolver.policy)
            entries = boot_hit(plan, facts, template="", via="nginx")
            rows = [(entry, encode_json(entry.data)) for entry in entries]
            self._rows[key] = rows
        return rows
