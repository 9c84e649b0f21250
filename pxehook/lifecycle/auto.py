"""Transitions nobody types: boot-once, deploy time-outs, auto-adopt, and the sweep.

With the install-done callback (``lifecycle.callback``) these are the three ways a
reinstall loop ends (callback, boot-once, time-out) plus the enlistment rules. All of them
go through the one transition table (``lifecycle.table``), each written only if the host is
still at the version it was decided on: a host a racing operator, callback or second worker
changed meanwhile is read and decided again, never overwritten. Timers measure elapsed time
with ``lifecycle.clock`` (immune to wall-clock steps within one boot).
"""

from __future__ import annotations

import ipaddress
import logging
import posixpath
import re
from dataclasses import replace
from typing import Any

from pxehook import arch as archtable
from pxehook.config import Settings
from pxehook.context import Context
from pxehook.errors import Conflict, NotFound, PxehookError, Stale
from pxehook.lifecycle.clock import as_instant, elapsed
from pxehook.lifecycle.hosts import retry_stale
from pxehook.lifecycle.table import (
    apply_state_changes,
    deployment_of,
    state_change,
    transition,
)
from pxehook.models import STATES, Host, Instant, Profile, State
from pxehook.store import Store
from pxehook.store.writes import StateChange

log = logging.getLogger("pxehook.lifecycle")


# --- boot-once ----------------------------------------------------------------------------
def _one_shot(store: Store, host: Host) -> Profile | None:
    profile = store.profile_get(host.profile) if host.profile else None
    return profile if profile is not None and profile.one_shot else None


def _install_file(profile: Profile, kind: str, data: dict[str, Any]) -> bool:
    """Is this fetch the install kernel/initrd? ``boot.kernel`` always is; a TFTP file
    is when its name is one of the profile's kernel or initrd files."""
    if kind == "boot.kernel":
        return True
    if kind != "tftp.file":
        return False
    name = posixpath.basename(str(data.get("path", "")))
    files = [*profile.kernel.values(), *(f for v in profile.initrd.values() for f in v)]
    return bool(name) and any(posixpath.basename(str(f)) == name for f in files)


def _since_fetch(seen: dict[str, Any], at: Instant) -> float:
    """Seconds since the last install fetch ``seen`` records (0 when it records none)."""
    since = elapsed(seen.get("last"), seen.get("clock"), str(seen.get("boot", "")), at)
    return 0.0 if since is None else since


def record_install_fetch(
    settings: Settings, store: Store, host: Host, at: Instant | float | None = None
) -> Host:
    """Note a kernel/initrd fetch of a one-shot deployment; counts boot sessions."""
    moment = as_instant(at)

    def write(current: Host) -> Host:
        deployment = deployment_of(current)
        seen = current.meta.get("boot_once") or {}
        if seen.get("deployment") != deployment:
            seen = {"deployment": deployment, "first": moment.wall, "sessions": 1, "fetches": 0}
        elif _since_fetch(seen, moment) > settings.boot_once_window:
            seen = {**seen, "sessions": int(seen["sessions"]) + 1}
        seen = {**seen, "last": moment.wall, "clock": moment.clock, "boot": moment.boot,
                "fetches": int(seen["fetches"]) + 1}  # fmt: skip
        assert current.id is not None
        return store.update_meta(current.id, {"boot_once": seen}, version=current.version)

    return retry_stale(store, host, write)


def boot_once_due(settings: Settings, host: Host, at: Instant | float | None = None) -> bool:
    """True when a one-shot host's install session is over (no fetch for a whole window)."""
    seen = host.meta.get("boot_once") or {}
    if host.state != State.DEPLOYING or seen.get("deployment") != deployment_of(host):
        return False
    return _since_fetch(seen, as_instant(at)) > settings.boot_once_window


# --- the deploy time-out --------------------------------------------------------------------
def deploy_elapsed(
    changed: float | None, clock: float | None, boot: str, at: Instant
) -> float | None:
    """Seconds a host has been deploying, from its state-change stamp (None: no stamp)."""
    return elapsed(changed, clock, boot, at)


def _deploying_for(host: Host, at: Instant) -> float | None:
    if host.state_changed is not None:
        return deploy_elapsed(host.state_changed, host.state_clock, host.state_boot, at)
    meta = host.meta  # declared deploying before pxehook stamped that: the sweep's stamp
    return deploy_elapsed(
        meta.get("deploy_started"), meta.get("deploy_clock"), str(meta.get("deploy_boot", "")),
        at,
    )  # fmt: skip


def deploy_overdue(settings: Settings, host: Host, at: Instant | float | None = None) -> bool:
    """True when ``host`` entered ``deploying`` more than ``deploy_timeout`` seconds ago."""
    if host.state != State.DEPLOYING:
        return False
    since = _deploying_for(host, as_instant(at))
    return since is not None and since > settings.deploy_timeout


def _unstamped(host: Host) -> bool:
    """Deploying with no moment to start its time-out from (declared before stamps)."""
    return (
        host.state == State.DEPLOYING
        and host.state_changed is None
        and not host.meta.get("deploy_started")
    )


def _stamp(host: Host, at: Instant) -> dict[str, Any]:
    """The start of the time-out of an unstamped host: now (its token stays the same)."""
    return {"deployment": deployment_of(host), "deploy_started": at.wall,
            "deploy_clock": at.clock, "deploy_boot": at.boot}  # fmt: skip


def due_action(settings: Settings, host: Host, at: Instant) -> tuple[str, str, str] | None:
    """(action, source, message) of the automatic transition due for ``host`` now."""
    if boot_once_due(settings, host, at):
        return "deployed", "boot-once", "install session over"
    if deploy_overdue(settings, host, at):
        return "fail", "timeout", f"deploying longer than {settings.deploy_timeout}s"
    return None


def apply_due(
    settings: Settings, store: Store, host: Host, at: Instant | float | None = None
) -> Host:
    """Apply boot-once and the deploy time-out to one host if they are due."""
    moment = as_instant(at)
    if _unstamped(host):
        host = retry_stale(
            store, host,
            lambda h: store.update_meta(h.id or 0, _stamp(h, moment), version=h.version)
            if _unstamped(h) else h,
        )  # fmt: skip
    due = due_action(settings, host, moment)
    if due is None:
        return host
    action, source, message = due
    try:
        return transition(
            store, host, action, source=source, message=message,
            still=lambda fresh: due_action(settings, fresh, moment) == due,
        )  # fmt: skip
    except (Conflict, NotFound):  # changed or deleted meanwhile: the other writer wins
        return store.host_by_id(host.id or 0) or host


def on_boot_event(ctx: Context, host: Host, kind: str, data: dict[str, Any]) -> Host:
    """The resolver served something: count one-shot install sessions, enlist new hosts."""
    store, settings = ctx.store(), ctx.settings
    if host.state == State.NEW:
        return adopt_if_matching(settings, store, host)
    profile = _one_shot(store, host) if host.state == State.DEPLOYING else None
    if profile is None:
        return host
    if _install_file(profile, kind, data):
        return record_install_fetch(settings, store, host)
    return apply_due(settings, store, host)


# --- auto-adopt -----------------------------------------------------------------------------
def adopt_rule(settings: Settings, host: Host) -> str:
    """The auto-adopt rule ``host`` matches ('' for none)."""
    bare = host.mac.replace(":", "")
    for prefix in settings.adopt_mac_prefixes:
        wanted = re.sub(r"[^0-9a-f]", "", prefix.lower())  # b8:27:eb, B8-27-EB, b827eb
        if wanted and bare.startswith(wanted):
            return f"mac prefix {prefix.strip()}"
    if host.arch is not None:
        for item in settings.adopt_arches:
            if archtable.code_of(item.strip()) == host.arch:
                return f"arch {archtable.lookup(host.arch).slug}"
    if host.trusted_ip:  # an address a client merely claimed adopts nothing
        try:
            address = ipaddress.ip_address(host.trusted_ip)
        except ValueError:
            address = None
        for cidr in settings.adopt_subnets:
            if address and address in ipaddress.ip_network(cidr.strip(), strict=False):
                return f"subnet {cidr.strip()}"
    return ""


def adopt_if_matching(settings: Settings, store: Store, host: Host) -> Host:
    rule = adopt_rule(settings, host) if host.state == State.NEW else ""
    if not rule:
        return host
    action = STATES[State(settings.adopt_state)].create_action  # adopt (deployed), accept
    try:
        return transition(
            store, host, action, source="auto-adopt", message=rule,
            still=lambda fresh: fresh.state == State.NEW and adopt_rule(settings, fresh) == rule,
        )  # fmt: skip
    except (Conflict, NotFound):
        return host


# --- the sweep --------------------------------------------------------------------------------
def _maybe_due(settings: Settings, row: tuple[Any, ...], one_shot: set[str], at: Instant) -> bool:
    """From the cheap columns of a deploying host: could anything be due for it now?"""
    _id, profile, changed, clock, boot = row
    if changed is None or profile in one_shot:
        return True  # unstamped, or a boot session to look at: read it whole
    since = deploy_elapsed(changed, clock, boot, at)
    return since is not None and since > settings.deploy_timeout


def _due_changes(
    settings: Settings, store: Store, hosts: list[Host], at: Instant
) -> list[StateChange]:
    changes = []
    for host in hosts:
        due = due_action(settings, host, at)
        if due is not None:
            action, source, message = due
            change = state_change(store, host, action, source=source, message=message, at=at)
            changes.append(replace(change, read=host))  # written unless the host moved on
    return changes


def _adopt_changes(settings: Settings, store: Store, hosts: list[Host]) -> list[StateChange]:
    action = STATES[State(settings.adopt_state)].create_action  # adopt (deployed), accept
    return [
        state_change(store, host, action, source="auto-adopt", message=rule)
        for host in hosts
        if (rule := adopt_rule(settings, host))
    ]


def sweep(
    settings: Settings, store: Store, at: Instant | float | None = None
) -> list[dict[str, Any]]:
    """One pass: boot-once, deploy time-outs, auto-adopt. Returns the changes made.

    Reads the cheap columns of every deploying host and only the few that may be due in
    full; writes only hosts whose state changes, in batched transactions. A host another
    writer changed meanwhile is read again and decided again (once; the next sweep retries)."""
    moment = as_instant(at)
    one_shot = {p.name for p in store.profile_list() if p.one_shot}
    ids = [
        r[0]
        for r in store.state_clocks(State.DEPLOYING)
        if _maybe_due(settings, r, one_shot, moment)
    ]
    deploying = list(store.host_many(ids).values())
    unstamped = [h for h in deploying if _unstamped(h)]
    if unstamped:  # one transaction for all of them, however many
        store.update_metas([(h.id or 0, _stamp(h, moment), h.version) for h in unstamped])
    changes = _due_changes(settings, store, [h for h in deploying if not _unstamped(h)], moment)
    if settings.adopt_mac_prefixes or settings.adopt_arches or settings.adopt_subnets:
        changes += _adopt_changes(settings, store, store.host_list(state=State.NEW))
    done = _write(store, changes)
    stale = [
        c.host_id for c, result in zip(changes, done, strict=True) if isinstance(result, Stale)
    ]
    if stale:  # decided on a read another writer overtook: decide again on a fresh one
        fresh = list(store.host_many(stale).values())
        again = _due_changes(
            settings, store, [h for h in fresh if h.state == State.DEPLOYING], moment
        )
        if settings.adopt_mac_prefixes or settings.adopt_arches or settings.adopt_subnets:
            again += _adopt_changes(settings, store, [h for h in fresh if h.state == State.NEW])
        changes, done = changes + again, done + _write(store, again)
    return [
        {"mac": result.mac, "from": str(change.expected), "to": str(result.state)}
        for change, result in zip(changes, done, strict=True)
        if isinstance(result, Host)
    ]


def _write(store: Store, changes: list[StateChange]) -> list[Host | PxehookError]:
    results = apply_state_changes(store, changes)
    for change, result in zip(changes, results, strict=True):
        if isinstance(result, PxehookError) and not isinstance(result, Stale):
            log.info("host %s: %s", change.host_id, result)  # changed or deleted: it wins
    return results
