"""The nginx front: per-MAC configs pre-rendered on change, the access log back on the timeline.

nginx serves ``<prerender_dir>/ipxe/<aa-bb-…>`` and ``pxelinux.cfg/01-<aa-bb-…>`` as static
files and proxies everything else (unknown MACs, other spellings, GRUB, generic names) to
gunicorn. Files exist only where the answer cannot depend on the request: the arch comes
from a setting, a MAC rule or DHCP (or the host boots locally). This service

* re-renders a host's files whenever the store's generation moves and the host's
  fingerprint (state, profile, arch, vars, meta, profiles, settings) changed — never per
  request; writes are atomic (temp file + rename);
* tails nginx's access log (``log_format pxehook``, see :func:`nginx_config`) and records
  each static hit as ``boot.config`` (``via: nginx``) — with the same decide() answer and
  ``boot.arch_mismatch`` — in batches, then calls ``BootHooks.on_boot_event``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import multiprocessing
import os
import re
import threading
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from pxehook import arch as archtable
from pxehook.boot.decide import BOOT, LOCAL, BootPlan, Facts, decide
from pxehook.boot.hooks import NO_HOOKS, BootHooks
from pxehook.boot.names import clean_path, fast_mac, parse
from pxehook.boot.render import files_url
from pxehook.boot.resolver import Resolver
from pxehook.context import Context
from pxehook.errors import InvalidInput
from pxehook.mac import mac_dashes
from pxehook.models import ArchSource, Host

log = logging.getLogger("pxehook.frontend")

#: Loaders pre-rendered, and the file each MAC gets (relative to prerender_dir).
PRERENDERED = {
    "ipxe": "ipxe/{mac}",
    "pxelinux": "pxelinux.cfg/01-{mac}",
}
LOG_FORMAT = "$msec $remote_addr $status $body_bytes_sent $request_uri $upstream_addr"
_IPXE_PATH = re.compile(r"^/ipxe/([^/?]+)$")


#: Settings a rendered config depends on (besides the base and files URLs).
RENDER_SETTINGS = (
    "site_templates",
    "boot_retries",
    "local_boot",
    "local_boot_arch",
    "state_boot",
    "unknown_hosts",
    "rescue_profile",
    "commissioning_profile",
)


def _tree_stamp(folder: str) -> list[tuple[str, float]]:
    """(path, mtime) of every file under a site template folder: edits re-render."""
    stamp = []
    for top, _dirs, names in os.walk(folder) if folder else ():
        for name in names:
            path = os.path.join(top, name)
            with contextlib.suppress(OSError):
                stamp.append((path, os.stat(path).st_mtime))
    return sorted(stamp)


def cacheable(plan: BootPlan) -> bool:
    """True when no request fact can change this answer."""
    if plan.action not in (BOOT, LOCAL):
        return False
    strong = plan.arch_source in (ArchSource.SETTING, ArchSource.RULE, ArchSource.DHCP)
    return strong or (plan.action == LOCAL and plan.arch is None)


def write_atomic(path: str, body: bytes) -> None:
    """Temp file in the same directory, then rename: readers never see half a file."""
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as fh:
        fh.write(body)
    os.replace(tmp, path)


class Prerenderer:
    """Keeps ``prerender_dir`` equal to what decide()+render would answer, per MAC."""

    def __init__(
        self,
        ctx: Context,
        outdir: str,
        *,
        hooks: BootHooks = NO_HOOKS,
        parallel: bool = False,
    ) -> None:
        self.ctx = ctx
        self.outdir = outdir
        self.parallel = parallel  # fork workers for big batches (CLI only: no threads there)
        self.resolver = Resolver(ctx, hooks=hooks, record=False)
        self.fingerprints: dict[int, str] = {}
        self.macs: dict[int, tuple[str, ...]] = {}
        self.hosts: dict[str, Host] = {}
        self.synced = False
        self.generation = 0  # bumps on every sync: plan caches key on it
        for sub in {os.path.dirname(p) for p in PRERENDERED.values()}:
            os.makedirs(os.path.join(outdir, sub), exist_ok=True)
        self.index = os.path.join(outdir, ".pxehook-index.json")
        self._load_index()

    def _load_index(self) -> None:
        """Fingerprints of what is on disk, so a restart renders only what changed."""
        try:
            with open(self.index, encoding="utf-8") as fh:
                saved = json.load(fh)
            self.fingerprints = {int(k): v[0] for k, v in saved.items()}
            self.macs = {int(k): tuple(v[1]) for k, v in saved.items()}
        except (OSError, ValueError, KeyError, IndexError, TypeError):
            self.fingerprints, self.macs = {}, {}

    def _save_index(self) -> None:
        data = {k: [fp, list(self.macs.get(k, ()))] for k, fp in self.fingerprints.items()}
        write_atomic(self.index, json.dumps(data).encode())

    def _global_digest(self) -> str:
        """What every host's files depend on: profiles, rendering settings, site templates."""
        profiles = {n: p.as_dict() for n, p in self.resolver.profiles().items()}
        s = self.ctx.settings
        settings = [s.base_url, files_url(s)] + [s[k] for k in RENDER_SETTINGS]
        blob = json.dumps([profiles, settings, _tree_stamp(s.site_templates)], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    def sync(self) -> int:
        """Re-render changed hosts, drop files of vanished ones. Returns hosts rendered."""
        self.resolver.refresh()
        digest = self._global_digest()
        hosts = self.ctx.store().host_all()
        self._profiles, self._policy = self.resolver.profiles(), self.resolver.policy
        seen, changed = set(), []
        for host in hosts:
            assert host.id is not None
            seen.add(host.id)
            fp = digest + repr(
                (
                    host.macs,
                    host.name,
                    host.uuid,
                    host.arch,
                    host.arch_source,
                    host.profile,
                    str(host.state),
                    sorted(host.vars.items()),
                    sorted(host.meta.items()),
                )
            )
            if self.fingerprints.get(host.id) != fp:
                self._drop(self.macs.get(host.id, ()))
                changed.append(host)
                self.fingerprints[host.id] = fp
                self.macs[host.id] = host.macs
        self._render_all(changed)
        rendered = len(changed)
        for host_id in set(self.fingerprints) - seen:
            self._drop(self.macs.pop(host_id, ()))
            del self.fingerprints[host_id]
        self.hosts = {mac: h for h in hosts for mac in h.macs}
        self.synced = True
        self.generation += 1
        if rendered or len(seen) != len(self.fingerprints):
            self._save_index()
        return rendered

    def _render_all(self, hosts: list[Host]) -> None:
        """Render ``hosts``; big batches (a first run) are split over forked processes."""
        procs = min(os.cpu_count() or 1, 8)
        if not self.parallel or len(hosts) < PARALLEL_FROM or procs < 2:
            for host in hosts:
                self._render(host)
            return
        global _ACTIVE
        _ACTIVE = (self, hosts)
        try:
            with multiprocessing.get_context("fork").Pool(procs) as pool:
                pool.map(_render_slice, [(i, procs) for i in range(procs)])
        finally:
            _ACTIVE = None

    def _render(self, host: Host) -> None:
        profiles, policy = self._profiles, self._policy
        for loader, pattern in PRERENDERED.items():
            plan = decide(host, Facts(loader=loader, mac=host.mac), profiles, policy)
            paths = [
                os.path.join(self.outdir, pattern.format(mac=mac_dashes(m))) for m in host.macs
            ]
            if not cacheable(plan):
                self._remove(paths)
                continue
            body = self.resolver.render(host, plan, cache=False).body
            for path in paths:
                write_atomic(path, body)

    def _drop(self, macs: tuple[str, ...]) -> None:
        for pattern in PRERENDERED.values():
            self._remove(
                [os.path.join(self.outdir, pattern.format(mac=mac_dashes(m))) for m in macs]
            )

    @staticmethod
    def _remove(paths: list[str]) -> None:
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


PARALLEL_FROM = 2000
_ACTIVE: tuple[Prerenderer, list[Host]] | None = None


def _render_slice(args: tuple[int, int]) -> None:
    """Worker process: render every ``step``-th host starting at ``start``."""
    start, step = args
    assert _ACTIVE is not None
    pre, hosts = _ACTIVE
    for host in hosts[start::step]:
        pre._render(host)


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


class AccessLogIngester:
    """Follows the access log from where it stopped (offset kept in state_dir)."""

    def __init__(self, ctx: Context, path: str, prerenderer: Prerenderer) -> None:
        self.ctx = ctx
        self.path = path
        self.pre = prerenderer
        self.offset_file = os.path.join(ctx.settings.state_dir, "access-log.offset")
        self.inode, self.offset = self._load_offset()
        self._plans: dict[tuple, tuple] = {}  # type: ignore[type-arg]
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
            facts = self._facts(hit)
            host = self.pre.hosts.get(facts.mac) if facts else None
            if facts is None or host is None or host.id is None:
                continue
            base, mismatch = self._plan_data(host, facts)
            data = {**base, "path": hit.path, "client_ip": hit.client_ip}
            message = f"{base['loader']} {hit.path}: {base['action']}"
            rows.append((host.id, "boot.config", "nginx", message, data, hit.at))
            if mismatch:
                rows.append(
                    (
                        host.id,
                        "boot.arch_mismatch",
                        "nginx",
                        mismatch[0],
                        {**mismatch[1], "path": hit.path},
                        hit.at,
                    )
                )
            calls.append((host, data))
        self.ctx.store().event_add_many(rows)
        for host, data in calls:
            self.pre.resolver.hooks.on_boot_event(host, "boot.config", data)
        return len(calls)

    def _plan_data(self, host: Host, facts: Facts) -> tuple[dict, tuple | None]:  # type: ignore[type-arg]
        key = (facts.mac, facts.loader, facts.claim.code if facts.claim else None)
        cached = self._plans.get(key)
        if cached is not None:
            return cached
        plan = decide(host, facts, self.pre.resolver.profiles(), self.pre.resolver.policy)
        base = {
            "loader": plan.loader,
            "action": plan.action,
            "profile": plan.profile.name if plan.profile and plan.action == BOOT else "",
            "arch": plan.arch.slug if plan.arch else "",
            "arch_source": plan.arch_source,
            "state": plan.state,
            "template": "",
            "mac_source": "request",
            "via": "nginx",
        }
        mismatch = None
        if plan.mismatch and facts.claim and plan.arch:
            mismatch = (
                f"request claims {facts.claim.slug}, record says {plan.arch.slug}",
                {"claimed": facts.claim.slug, "recorded": plan.arch.slug},
            )
        self._plans[key] = (base, mismatch)
        return base, mismatch

    @staticmethod
    def _facts(hit: Hit) -> Facts | None:
        try:
            path = clean_path(hit.path.lstrip("/"))
            match = _IPXE_PATH.match("/" + path)
            if match:
                query = parse_qs(hit.query)
                build = query.get("buildarch", [""])[0]
                plat = query.get("platform", [""])[0]
                claim = archtable.from_ipxe(build, plat) if build and plat else None
                return Facts("ipxe", hit.path, fast_mac(match.group(1)), hit.client_ip, claim=claim)
            name = parse(path)
            if name is not None and name.mac:
                return Facts(name.loader, hit.path, name.mac, hit.client_ip)
        except InvalidInput:
            return None
        return None


class FrontService:
    """``pxehook serve`` service: pre-render on change, ingest the access log."""

    name = "nginx-front"

    def __init__(self, ctx: Context, hooks: BootHooks = NO_HOOKS) -> None:
        self.ctx = ctx
        self.pre = Prerenderer(ctx, ctx.settings.prerender_dir, hooks=hooks)
        path = ctx.settings.access_log
        self.ingester = AccessLogIngester(ctx, path, self.pre) if path else None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="nginx-front", daemon=True)

    def start(self) -> None:
        """Start in the background: until the first sync, nginx falls back to gunicorn."""
        self._generation = -1
        self._thread.start()

    def _run(self) -> None:
        with contextlib.suppress(OSError, AttributeError):  # background work yields to nginx
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        while not self._stop.is_set():
            try:
                generation = self.ctx.store().generation()
                if generation != self._generation:
                    self._generation = generation
                    started = time.monotonic()
                    count = self.pre.sync()
                    log.info("pre-rendered %d hosts in %.1fs", count, time.monotonic() - started)
                recorded = self.ingester.poll() if self.ingester else 0
            except Exception:  # keep serving; the next round retries
                log.exception("nginx front round failed")
                recorded = 0
            if not recorded:
                self._stop.wait(0.2)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        if self.ingester:
            self.ingester.poll()


def factory(ctx: Context, hooks: BootHooks = NO_HOOKS) -> FrontService | None:
    return FrontService(ctx, hooks) if ctx.settings.prerender_dir else None


def nginx_config(prerender_dir: str, upstream: str, listen: str, access_log: str) -> str:
    """The nginx server block pxehook recommends (docs/resolver.md prints the same)."""
    return f"""# pxehook nginx front (generated by 'pxehook prerender --nginx-config')
log_format pxehook '{LOG_FORMAT}';
server {{
    listen {listen};
    access_log {access_log} pxehook buffer=64k flush=200ms;
    root {prerender_dir};
    default_type text/plain;
    add_header Cache-Control no-store;
    location ~ "^/ipxe/([0-9a-f]{{2}}(-[0-9a-f]{{2}}){{5}})$" {{
        try_files /ipxe/$1 @pxehook;
    }}
    location ~ "^/(.*/)?pxelinux\\.cfg/(01(-[0-9a-f]{{2}}){{6}})$" {{
        try_files /pxelinux.cfg/$2 @pxehook;
    }}
    location / {{
        proxy_pass http://{upstream};
        proxy_set_header X-Forwarded-For $remote_addr;
    }}
    location @pxehook {{
        proxy_pass http://{upstream};
        proxy_set_header X-Forwarded-For $remote_addr;
    }}
}}
"""
