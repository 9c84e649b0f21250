"""Clone one host's profile, variables and labels onto other hosts (MAAS-style cloning).

The source and every destination are checked before anything is written; the result says
exactly which destinations changed.
"""

from __future__ import annotations

from typing import Any

from pxehook.errors import InvalidInput
from pxehook.lifecycle.hosts import VALIDATORS, find_host
from pxehook.store import Store

PARTS = ("profile", "vars", "labels")


def clone(
    store: Store,
    source_mac: str,
    destinations: list[str],
    *,
    parts: tuple[str, ...] = PARTS,
    source: str,
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
    wanted = {p: getattr(origin, p) for p in parts}
    pending = [(host, host.with_(**wanted)) for host in targets]
    for _, updated in pending:
        for validate in VALIDATORS:
            validate(store, updated)
    changed, unchanged = [], []
    note = f"cloned {', '.join(parts)} from {origin.mac}"
    for host, updated in pending:
        if updated == host:
            unchanged.append(host.mac)
            continue
        store.host_put(updated, source=source, message=note)
        changed.append(host.mac)
    return {"source": origin.mac, "parts": list(parts), "changed": changed, "unchanged": unchanged}
