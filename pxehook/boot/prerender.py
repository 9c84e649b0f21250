"""Per-MAC boot configs pre-rendered for the nginx front, re-rendered only when they change.

nginx serves the files of every loader with a ``front`` in its record (``boot/loaders.py``:
``<prerender_dir>/ipxe/<aa-bb-…>``, ``pxelinux.cfg/01-<aa-bb-…>``) and proxies everything
else (unknown MACs, other spellings, GRUB, generic names) to gunicorn. A file exists only
where no request and no clock can change the answer (:func:`cacheable`): the arch is settled
(``archsource.settled``: a setting, a MAC rule or DHCP) or the host boots locally with no
arch known, and the host is not in a clocked state (``boot.hooks.CLOCKED_STATES``: a
deploying host's answer changes when its boot-once session or deploy time-out runs out,
with no write a sync could see). Those hosts are answered by gunicorn, which asks the
life-cycle first — the cost: a deploy wave is served at gunicorn's speed, not nginx's — and
their deploy tokens never sit in nginx's root.

:meth:`Prerenderer.sync` re-renders a host's files whenever its fingerprint (state, profile,
arch, vars, meta, and the profiles, settings and site templates every host shares) changed —
never per request; writes are atomic (temp file + rename). It walks the hosts a page at a
time and keeps only a 16-byte fingerprint and the MAC list per host, so its memory does not
grow with what a host holds. ``boot/front.py`` runs it on every store change;
``boot/accesslog.py`` records what nginx served from these files.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing
import os

from pxehook import archsource
from pxehook.boot import loaders
from pxehook.boot.decide import BOOT, LOCAL, BootPlan, Facts, decide
from pxehook.boot.hooks import CLOCKED_STATES, NO_HOOKS, BootHooks
from pxehook.boot.render import files_url
from pxehook.boot.resolver import Resolver
from pxehook.context import Context
from pxehook.mac import mac_dashes
from pxehook.models import Host

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

#: Hosts read from the store at a time (memory holds one page, not every host).
PAGE = 2000
#: From this many changed hosts a first run forks renderer processes (CLI only: no threads
#: there), handing them up to ``RENDER_BATCH`` hosts at a time.
PARALLEL_FROM = 2000
RENDER_BATCH = 10_000
#: The index of what is on disk: one line per host, ``<id> <fingerprint> <mac>,<mac>``.
INDEX_HEADER = "pxehook-prerender-index 2\n"


def _tree_stamp(folder: str) -> list[tuple[str, float]]:
    """(path, mtime) of every file under a site template folder: edits re-render."""
    stamp = []
    for top, _dirs, names in os.walk(folder) if folder else ():
        for name in names:
            path = os.path.join(top, name)
            with contextlib.suppress(OSError):
                stamp.append((path, os.stat(path).st_mtime))
    return sorted(stamp)


def host_fingerprint(host: Host) -> str:
    """Everything of one host its rendered files depend on."""
    return repr(
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


def cacheable(plan: BootPlan) -> bool:
    """True when no request fact and no clock can change this answer: the host is not in a
    clocked state, and the arch is settled, or no arch is known and the host boots locally
    whatever it is (the script picks the method at run time) — not when it boots locally
    only because no kernel fits an unknown arch."""
    if plan.action not in (BOOT, LOCAL) or plan.state in CLOCKED_STATES:
        return False
    if archsource.settled(plan.arch_source):
        return True
    profile = plan.profile
    kernel_missing = profile is not None and profile.kind != LOCAL and bool(profile.kernel)
    return plan.action == LOCAL and plan.arch is None and not kernel_missing


def _mac_bytes(macs: tuple[str, ...] | list[str]) -> bytes:
    return b"".join(bytes.fromhex(mac.replace(":", "")) for mac in macs)


def unpack_macs(packed: bytes) -> tuple[str, ...]:
    """The MACs of a ``Prerenderer.rendered`` value (after its 16 bytes of fingerprint)."""
    return tuple(packed[i : i + 6].hex(":") for i in range(16, len(packed), 6))


def write_atomic(path: str, body: bytes) -> None:
    """Temp file in the same directory, then rename: readers never see half a file."""
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as fh:
        fh.write(body)
    os.replace(tmp, path)


class Prerenderer:
    """Keeps ``prerender_dir`` equal to what decide()+render would answer, per MAC.

    ``rendered`` maps each host id to its files on disk: 16 bytes of fingerprint, then 6 per
    MAC (:func:`pack`) — 100,000 hosts in about 10 MB; ``generation`` bumps on every sync."""

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
        self.rendered: dict[int, bytes] = {}
        self.synced = False
        self.generation = 0
        for sub in {os.path.dirname(lo.front.file) for lo in loaders.PRERENDERED if lo.front}:
            os.makedirs(os.path.join(outdir, sub), exist_ok=True)
        self.index = os.path.join(outdir, ".pxehook-index")
        with contextlib.suppress(FileNotFoundError):  # the index format before this one
            os.unlink(os.path.join(outdir, ".pxehook-index.json"))
        self._load_index()

    def _load_index(self) -> None:
        """Fingerprints of what is on disk, so a restart renders only what changed."""
        self.rendered = {}
        try:
            with open(self.index, encoding="ascii") as fh:
                if fh.readline() != INDEX_HEADER:
                    return
                for line in fh:
                    host_id, fp, macs = line.split()
                    self.rendered[int(host_id)] = bytes.fromhex(fp) + _mac_bytes(macs.split(","))
        except (OSError, ValueError):
            self.rendered = {}  # no index (or a damaged one): render everything again

    def _save_index(self) -> None:
        tmp = f"{self.index}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="ascii") as fh:
            fh.write(INDEX_HEADER)
            for host_id, packed in self.rendered.items():
                fh.write(f"{host_id} {packed[:16].hex()} {','.join(unpack_macs(packed))}\n")
        os.replace(tmp, self.index)

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
        self._profiles, self._policy = self.resolver.profiles(), self.resolver.policy
        store, seen, changed, rendered = self.ctx.store(), set(), [], 0
        after = 0
        while page := store.host_page(after, PAGE):
            after = page[-1].id or after
            for host in page:
                assert host.id is not None
                seen.add(host.id)
                fp = hashlib.blake2b((digest + host_fingerprint(host)).encode(), digest_size=16)
                before = self.rendered.get(host.id)
                if before is None or before[:16] != fp.digest():
                    self._drop(unpack_macs(before) if before else ())
                    changed.append(host)
                    self.rendered[host.id] = fp.digest() + _mac_bytes(host.macs)
            if len(changed) >= (RENDER_BATCH if self.parallel else PAGE):
                rendered += self._render_all(changed)
                changed = []
        rendered += self._render_all(changed)
        vanished = set(self.rendered) - seen
        for host_id in vanished:
            self._drop(unpack_macs(self.rendered.pop(host_id)))
        self.synced = True
        self.generation += 1
        if rendered or vanished:
            self._save_index()
        return rendered

    def _render_all(self, hosts: list[Host]) -> int:
        """Render ``hosts``; big batches (a first run) are split over forked processes."""
        procs = min(os.cpu_count() or 1, 8)
        if not self.parallel or len(hosts) < PARALLEL_FROM or procs < 2:
            for host in hosts:
                self._render(host)
            return len(hosts)
        global _ACTIVE
        _ACTIVE = (self, hosts)
        try:
            with multiprocessing.get_context("fork").Pool(procs) as pool:
                pool.map(_render_slice, [(i, procs) for i in range(procs)])
        finally:
            _ACTIVE = None
        return len(hosts)

    def _paths(self, loader: loaders.Loader, macs: tuple[str, ...]) -> list[str]:
        assert loader.front is not None
        pattern = loader.front.file
        return [os.path.join(self.outdir, pattern.format(mac=mac_dashes(m))) for m in macs]

    def _render(self, host: Host) -> None:
        profiles, policy = self._profiles, self._policy
        for loader in loaders.PRERENDERED:
            plan = decide(host, Facts(loader=loader.name, mac=host.mac), profiles, policy)
            paths = self._paths(loader, host.macs)
            if not cacheable(plan):
                self._remove(paths)
                continue
            body = self.resolver.render(host, plan, cache=False).body
            for path in paths:
                write_atomic(path, body)

    def _drop(self, macs: tuple[str, ...]) -> None:
        for loader in loaders.PRERENDERED:
            self._remove(self._paths(loader, macs))

    @staticmethod
    def _remove(paths: list[str]) -> None:
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


_ACTIVE: tuple[Prerenderer, list[Host]] | None = None


def _render_slice(args: tuple[int, int]) -> None:
    """Worker process: render every ``step``-th host starting at ``start``."""
    start, step = args
    assert _ACTIVE is not None
    pre, hosts = _ACTIVE
    for host in hosts[start::step]:
        pre._render(host)
