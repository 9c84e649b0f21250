"""Transitions nobody types: boot-once, deploy time-outs, auto-adopt, and the sweep.

With the install-done callback (``lifecycle.callback``) these are the three ways a
reinstall loop ends (callback, boot-once, time-out) plus the enlistment rules. All of them
go through ``lifecycle.table.transition`` (the one table) with compare-and-set, so a racing
operator or a second worker never gets overwritten.
"""

from __future__ import annotations

import ipaddress
import logging
import posixpath
import re
from typing import Any

from pxehook import arch as archtable
from pxehook.config import Settings
from pxehook.context import Context
from pxehook.errors import Conflict, NotFound
from pxehook.lifecycle.table import deployment_of, transition
from pxehook.models import STATES, Host, Profile, State, now
from pxehook.store import Store

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


def record_install_fetch(settings: Settings, store: Store, host: Host, at: float) -> Host:
    """Note a kernel/initrd fetch of a one-shot deployment; counts boot sessions."""
    assert host.id is not None
    deployment = deployment_of(host)
    seen = host.meta.get("boot_once") or {}
    if seen.get("deployment") != deployment:
        seen = {"deployment": deployment, "first": at, "last": at, "sessions": 1, "fetches": 0}
    elif at - float(seen["last"]) > settings.boot_once_window:
        seen = {**seen, "sessions": int(seen["sessions"]) + 1}
    seen = {**seen, "last": at, "fetches": int(seen["fetches"]) + 1}
    return store.update_meta(host.id, {"boot_once": seen})


def boot_once_due(settings: Settings, host: Host, at: float) -> bool:
    """True when a one-shot host's install session is over (no fetch for a whole window)."""
    seen = host.meta.get("boot_once") or {}
    if host.state != State.DEPLOYING or seen.get("deployment") != deployment_of(host):
        return False
    return at - float(seen.get("last", at)) > settings.boot_once_window


def deploy_overdue(settings: Settings, host: Host, at: float) -> bool:
    """True when ``host`` entered ``deploying`` more than ``deploy_timeout`` seconds ago."""
    started = host.state_changed or host.meta.get("deploy_started")
    if host.state != State.DEPLOYING or not started:
        return False
    return at - float(started) > settings.deploy_timeout


def apply_due(settings: Settings, store: Store, host: Host, at: float | None = None) -> Host:
    """Apply boot-once and the deploy time-out to one host if they are due."""
    at = now() if at is None else at
    if host.state == State.DEPLOYING and not (
        host.state_changed or host.meta.get("deploy_started")
    ):
        # declared deploying (inventory) with no start time: the time-out clock starts now
        assert host.id is not None
        start = {"deployment": deployment_of(host), "deploy_started": at}
        host = store.update_meta(host.id, start)
    try:
        if boot_once_due(settings, host, at):
            return transition(
                store, host, "deployed", source="boot-once", message="install session over"
            )
        if deploy_overdue(settings, host, at):
            return transition(
                store, host, "fail", source="timeout",
                message=f"deploying longer than {settings.deploy_timeout}s",
            )  # fmt: skip
    except (Conflict, NotFound):  # changed or deleted meanwhile: the other writer wins
        return store.host_by_id(host.id or 0) or host
    return host


def on_boot_event(ctx: Context, host: Host, kind: str, data: dict[str, Any]) -> Host:
    """The resolver served something: count one-shot install sessions, enlist new hosts."""
    store, settings = ctx.store(), ctx.settings
    if host.state == State.NEW:
        return adopt_if_matching(settings, store, host)
    profile = _one_shot(store, host) if host.state == State.DEPLOYING else None
    if profile is None:
        return host
    if _install_file(profile, kind, data):
        return record_install_fetch(settings, store, host, now())
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
        return transition(store, host, action, source="auto-adopt", message=rule)
    except (Conflict, NotFound):
        return host


# --- the sweep --------------------------------------------------------------------------------
def sweep(settings: Settings, store: Store, at: float | None = None) -> list[dict[str, Any]]:
    """One pass: boot-once, deploy time-outs, auto-adopt. Returns the changes made."""
    at = now() if at is None else at
    changes = []
    candidates = store.host_list(state=State.DEPLOYING)
    if settings.adopt_mac_prefixes or settings.adopt_arches or settings.adopt_subnets:
        candidates += store.host_list(state=State.NEW)
    for host in candidates:
        if host.state == State.NEW:
            after = adopt_if_matching(settings, store, host)
        else:
            after = apply_due(settings, store, host, at)
        if after.state != host.state:
            changes.append({"mac": host.mac, "from": str(host.state), "to": str(after.state)})
    return changes
