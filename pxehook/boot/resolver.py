"""The resolver edge shared by HTTP, TFTP and ``pxehook explain``: find the host, decide,
render (cached until the store's generation changes), record the hit on the timeline.

Events recorded (kinds other components rely on):

* ``boot.config``, ``boot.arch_mismatch`` — a boot config was served (rows built by
  ``boot/timeline.py``, shared with the nginx access-log ingest);
* ``boot.render_error`` — rendering failed; the host got a local-boot config instead;
* ``boot.kernel`` — a file was fetched from ``/files`` or a loader over HTTP/TFTP.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from pxehook import arch as archtable
from pxehook import counters, templating
from pxehook.boot import neighbours
from pxehook.boot.changes import changes_for
from pxehook.boot.decide import BOOT, IGNORE, LOCAL, BootPlan, Facts, Policy, decide
from pxehook.boot.enlist import EnlistBudget
from pxehook.boot.hooks import CLOCKED_STATES, NO_HOOKS, BootHooks
from pxehook.boot.names import Name
from pxehook.boot.recorder import EventRecorder
from pxehook.boot.render import Rendered, local_fallback, render_bootstrap, render_plan
from pxehook.boot.render import forget as forget_templates
from pxehook.boot.timeline import boot_hit
from pxehook.context import Context
from pxehook.errors import ConfigError, StoreError, StoreUnreachable
from pxehook.models import ArchSource, Host, IpSource, Observation, Profile

log = logging.getLogger("pxehook.boot")

#: Plans remembered per process at most (then forgotten at once and rebuilt as asked).
PLAN_CACHE = 50_000
#: Seconds a boot answer may still come from a template file edited since (the files are
#: looked at at most this often on the request path; ``refresh()`` alone looks every time).
TEMPLATE_POLL = 1.0


@dataclass
class Answer:
    """What to send back: status (200/404), body, and how it was decided."""

    status: int
    body: bytes = b""
    plan: BootPlan | None = None
    host: Host | None = None
    template: str = ""
    mac_source: str = ""
    render_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        if self.status != 200 or self.plan is None:
            return "not_found" if self.plan is None else str(self.plan.action)
        return str(self.plan.action)


def grub_claim(path: str) -> archtable.Arch | None:
    """A ``<cpu>-<platform>`` directory in a GRUB path (``grub/x86_64-efi/grub.cfg``)."""
    for part in path.split("/")[:-1]:
        found = archtable.from_grub(part)
        if found is not None:
            return found
    return None


class Resolver:
    """One per process (gunicorn worker, TFTP server). Thread-safe for reads."""

    def __init__(self, ctx: Context, *, hooks: BootHooks = NO_HOOKS, record: bool = True) -> None:
        self.ctx = ctx
        self.hooks = hooks
        self.settings = ctx.settings
        self.policy = Policy.from_settings(ctx.settings)
        self.record_events = record
        self._lock = threading.Lock()
        self._generation = -1
        self._site_dir = str(ctx.settings.get("site_templates") or "")
        self._templates: tuple[tuple[str, int, int], ...] | None = None
        self._templates_checked = -TEMPLATE_POLL
        self._profiles: dict[str, Profile] = {}
        self._hosts: dict[str, Host | None] = {}
        self._rendered: dict[tuple[Any, ...], Rendered] = {}
        self._plans: dict[tuple[Any, ...], tuple[Host | None, BootPlan]] = {}
        self._bootstrap: dict[str, Rendered] = {}
        self.recorder = EventRecorder(ctx, hooks)
        self.changes = changes_for(ctx.store, ctx.settings.database)
        self.budget = EnlistBudget(ctx.store, ctx.settings.enlist_per_hour,
                                   ctx.settings.enlist_max_new)  # fmt: skip

    # cache --------------------------------------------------------------------------------
    def refresh(self, *, templates_within: float = 0.0) -> int:
        """Drop cached hosts/renders when the store's generation moved, and compiled
        templates and renders when a template file changed (looked at only if last looked
        at more than ``templates_within`` seconds ago). Returns the generation."""
        generation = self.changes.generation()
        if generation != self._generation:
            store = self.ctx.store()
            with self._lock:
                self._profiles = {p.name: p for p in store.profile_list()}
                self._hosts.clear()
                self._rendered.clear()
                self._plans.clear()
                self._generation = generation
        now = time.monotonic()
        if now - self._templates_checked >= templates_within:
            self._templates_checked = now
            stamp = templating.stamp(self._site_dir)
            if stamp != self._templates:
                with self._lock:
                    if self._templates is not None:
                        forget_templates()
                    self._rendered.clear()
                    self._bootstrap.clear()
                    self._templates = stamp
        return generation

    def profiles(self) -> dict[str, Profile]:
        self.refresh(templates_within=TEMPLATE_POLL)
        return self._profiles

    def _host_by_mac(self, mac: str) -> Host | None:
        if mac in self._hosts:
            return self._hosts[mac]
        try:
            host = self.ctx.store().host_get(mac)
        except StoreUnreachable as exc:  # database away: unknown for now, never cached
            # (docs/racks.md); busy or full stays an error the client retries
            log.warning("host %s not read, answered as unknown: %s", mac, exc)
            return None
        if host is not None:
            self._hosts[mac] = host
        return host

    # lookups ------------------------------------------------------------------------------
    def find(self, name: Name | None, mac: str, client_ip: str) -> tuple[Host | None, str, str]:
        """(host, mac, how the MAC was found). ``mac`` is '' when nothing identifies one.

        IPs (the client's, or a hex-IP name's) count only as a trusted source recorded them
        (``Store.host_by_ip``), else as the kernel's neighbour table says (the answer goes
        to that MAC anyway). A UUID name never matches a placeholder UUID, nor a host the
        requester is shown not to be (identical UUIDs on cloned machines): PXELINUX then
        asks by MAC."""
        store = self.ctx.store()
        if mac:
            return self._host_by_mac(mac), mac, "request"
        if name is not None and name.kind == "uuid":
            host = self._requester_owns(store.host_by_uuid(name.uuid), client_ip)
            return host, host.mac if host else "", "uuid"
        if name is not None and name.kind == "ip":
            host = store.host_by_ip(name.ip)
            return host, host.mac if host else "", "lease"
        if not client_ip:
            return None, "", ""
        host = store.host_by_ip(client_ip)
        if host is not None:
            return host, host.mac, "lease"
        found = neighbours.mac_for_ip(client_ip)
        if found:
            return self._host_by_mac(found), found, "arp"
        return None, "", ""

    def _requester_owns(self, host: Host | None, client_ip: str) -> Host | None:
        """``host`` unless the requester's trusted IP (or its MAC in the neighbour table)
        shows it to be another machine."""
        if host is None or not client_ip:
            return host
        holder = self.ctx.store().host_by_ip(client_ip)
        if holder is not None:
            return host if holder.id == host.id else None
        found = neighbours.mac_for_ip(client_ip)
        return host if not found or found in host.macs else None

    def enlist(self, host: Host | None, facts: Facts, via: str) -> Host | None:
        """Record an unknown MAC as ``new`` (and a claimed arch the host lacks), within the
        enlistment budget. A write that fails (a full disk) leaves the host as it was: the
        machine gets the answer it would have got unrecorded (fail safe, never a 5xx)."""
        if not facts.mac or (host is not None and (host.arch is not None or not facts.claim)):
            return host
        if host is None and not self.budget.take():
            return None
        obs = Observation(
            mac=facts.mac,
            source=via,
            ip=facts.ip if host is None else "",
            ip_source=IpSource.REQUEST,  # the request's address: a claim, never trusted
            arch=facts.claim.code if facts.claim else None,
            arch_source=ArchSource.REQUEST,
        )
        try:
            host, _ = self.ctx.store().observe(obs)
        except StoreError as exc:
            log.warning("not recording %s (%s): answering unrecorded", facts.mac, exc)
            counters.count("boot_write_failed")
            return host
        self._hosts[facts.mac] = host
        return host

    # the answer -----------------------------------------------------------------------------
    def resolve(self, facts: Facts, name: Name | None = None, *, via: str = "http") -> Answer:
        """Find, decide, render and record. ``facts.mac`` may be empty (IP→MAC lookup)."""
        self.refresh(templates_within=TEMPLATE_POLL)
        if name is not None and name.kind == "none":
            return Answer(404, notes=[f"{facts.path}: not a name any loader asks for"])
        host, mac, mac_source = self.find(name, facts.mac, facts.ip)
        if name is not None and name.kind in ("uuid", "ip") and host is None:
            return Answer(404, notes=[f"no host for {name.kind} {name.uuid or name.ip}"])
        if (facts.mac, facts.mac_source) != (mac, mac_source):
            facts = Facts(loader=facts.loader, path=facts.path, mac=mac, ip=facts.ip,
                          uuid=facts.uuid, claim=facts.claim, claim_note=facts.claim_note,
                          mac_source=mac_source)  # fmt: skip
        host = self.enlist(host, facts, via)
        if host is not None and host.state in CLOCKED_STATES:
            # a finished boot-once session or an overdue deployment must not lag the sweep
            try:
                host = self.hooks.before_decide(host)
            except StoreError as exc:  # cannot write the change: decide on what is stored
                log.warning("due transitions of %s not applied: %s", host.mac, exc)
                counters.count("boot_write_failed")
            self._hosts[host.mac] = host
        plan = self.decide(host, facts)
        answer = self.render(host, plan)
        answer.mac_source = mac_source
        if self.record_events and host is not None:
            self.record(host, facts, answer, via)
        return answer

    def decide(self, host: Host | None, facts: Facts) -> BootPlan:
        """``decide()``, remembered per host record and the facts it reads until the
        generation changes (it is pure: same host, facts and profiles, same plan)."""
        claim = facts.claim.code if facts.claim else None
        key = (id(host), facts.loader, facts.mac, claim, facts.claim_note)
        cached = self._plans.get(key)
        if cached is not None and cached[0] is host:
            return cached[1]
        plan = decide(host, facts, self._profiles, self.policy)
        if len(self._plans) >= PLAN_CACHE:
            self._plans.clear()  # bounded: a flood of random MACs cannot grow it
        self._plans[key] = (host, plan)
        return plan

    def by_name(self, path: str, name: Name | None, client_ip: str, via: str) -> Answer:
        """Answer a PXELINUX/U-Boot/GRUB file name (HTTP and TFTP alike)."""
        if name is None:
            return Answer(404, notes=["not a config name"])
        claim = grub_claim(path) if name.loader == "grub" else name.claim
        facts = Facts(
            loader=name.loader,
            path=path,
            mac=name.mac,
            ip=client_ip,
            uuid=name.uuid,
            claim=claim,
            claim_note=name.claim_note or (f"GRUB path {path}" if claim else ""),
        )
        answer = self.resolve(facts, name, via=via)
        if name.loader == "grub" and name.kind == "generic" and answer.host is None:
            # nobody known at this address: the bootstrap asks again by $net_default_mac
            body = self.bootstrap("grub/bootstrap.cfg.j2")
            return Answer(200, body, template="grub/bootstrap.cfg.j2")
        return answer

    def render(self, host: Host | None, plan: BootPlan, *, cache: bool = True) -> Answer:
        """Render ``plan`` (cached per host and plan until the generation changes)."""
        if plan.action == IGNORE:
            return Answer(404, plan=plan, host=host, notes=["ignored"])
        key = (
            host.id if host else None,
            plan.loader,
            plan.action,
            plan.arch.code if plan.arch else None,
            plan.local_method,
            plan.profile.name if plan.profile and plan.action == BOOT else "",
        )
        cached = self._rendered.get(key)
        if cached is not None:
            return Answer(200, cached.body, plan, host, cached.template)
        started = time.perf_counter()
        try:
            extra = self.hooks.boot_vars(host) if host and plan.action == BOOT else {}
            rendered = render_plan(self.settings, host, plan, extra)
        except ConfigError as exc:
            log.error("rendering for %s failed: %s", host.mac if host else "?", exc)
            if self.record_events and host is not None and host.id is not None:
                self.recorder.add(host, "boot.render_error", "resolver", str(exc), {}, hook=False)
            plan = local_fallback(plan)
            rendered = render_plan(self.settings, host, plan, {})
        elapsed = time.perf_counter() - started
        if cache and plan.action in (LOCAL, BOOT):
            self._rendered[key] = rendered
        return Answer(200, rendered.body, plan, host, rendered.template, render_seconds=elapsed)

    def bootstrap(self, template: str) -> bytes:
        """The bootstrap script (same for every machine)."""
        self.refresh(templates_within=TEMPLATE_POLL)
        if template not in self._bootstrap:
            self._bootstrap[template] = render_bootstrap(self.settings, template)
        return self._bootstrap[template].body

    # the timeline ---------------------------------------------------------------------------
    def record(self, host: Host, facts: Facts, answer: Answer, via: str) -> None:
        """Add ``boot.config`` (and ``boot.arch_mismatch``) to the host's timeline."""
        assert host.id is not None and answer.plan is not None
        for entry in boot_hit(answer.plan, facts, template=answer.template, via=via):
            self.recorder.add(host, entry.kind, via, entry.message, entry.data, hook=entry.hook)

    def record_file(self, client_ip: str, path: str, via: str, size: int) -> Host | None:
        """``boot.kernel``: a file fetch, attributed to a host by its IP (lease, then ARP)."""
        if not self.record_events or not client_ip:
            return None
        host, _, mac_source = self.find(None, "", client_ip)
        if host is None or host.id is None:
            return None
        data = {"path": path, "via": via, "client_ip": client_ip, "bytes": size}
        data["mac_source"] = mac_source
        self.recorder.add(host, "boot.kernel", via, f"fetched {path}", data)
        return host
