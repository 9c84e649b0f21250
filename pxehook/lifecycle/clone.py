"""Clone one host's profile, variables and labels onto other hosts (MAAS-style cloning).

The source and every destination are checked before anything is written; the result says
exactly which destinations changed. Each destination is written as a patch conditional on
the host as read (read again and patched again when another writer came first), and a
field the inventory declares is refused unless forced, as for any other edit.
"""

from __future__ import annotations

from typing import Any

from pxehook.errors import Conflict, InvalidInput
from pxehook.lifecycle.hosts import VALIDATORS, find_host, owned_changes, retry_stale
from pxehook.models import Host
from pxehook.store import Store
from pxehook.store.writes import HostPatch, patched

PARTS = ("profile", "vars", "labels")


def _patch(origin: Host, target: Host, parts: tuple[str, ...]) -> HostPatch:
    """The patch making ``target``'s ``parts`` equal to ``origin``'s (keys it lacks removed)."""
    changes: dict[str, Any] = {}
    if "profile" in parts:
        changes["profile"] = origin.profile
    for part in ("vars", "labels"):
        if part in parts:
            wanted, have = getattr(origin, part), getattr(target, part)
            changes[part] = {**dict.fromkeys(k for k in have if k not in wanted), **wanted}
    return HostPatch(**changes)


def clone(
    store: Store,
    source_mac: str,
    destinations: list[str],
    *,
    parts: tuple[str, ...] = PARTS,
    source: str,
    refuse_owned: bool = False,
) -> dict[str, Any]:
    """Copy ``parts`` of the source host to each destination; returns changed/unchanged."""
    bad = [p for p in parts if p not in PARTS]
    if bad or not parts:
        raise InvalidInput(f"cannot clone {bad or 'nothing'}; parts are {', '.join(PARTS)}")
    if not destinations:
        raise InvalidInput("give at least one destination host")
    origin = find_host(store, source_mac)
    targets, seen = [], set()
    for mac in destinations:
        host = find_host(store, mac)
        if host.id == origin.id:
            raise InvalidInput(f"destination {host.mac} is the source host")
        if host.id not in seen:
            seen.add(host.id)
            targets.append(host)
    for host in targets:
        after = patched(host, _patch(origin, host, parts))
        for validate in VALIDATORS:
            validate(store, after)
        owned = owned_changes(store, host, after) if refuse_owned else []
        if owned:
            raise Conflict(f"{host.mac}: " + "; ".join(owned), hint="change it in the inventory")
    changed, unchanged = [], []
    note = f"cloned {', '.join(parts)} from {origin.mac}"

    def write(host: Host) -> bool:
        patch = _patch(origin, host, parts)
        after = patched(host, patch)
        if after == host:
            return False
        for validate in VALIDATORS:
            validate(store, after)
        store.host_update(host.id or 0, patch, version=host.version, source=source, message=note)
        return True

    for host in targets:
        (changed if retry_stale(store, host, write) else unchanged).append(host.mac)
    return {"source": origin.mac, "parts": list(parts), "changed": changed, "unchanged": unchanged}
