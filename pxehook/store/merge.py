"""Pure merge rules shared by every back end: how an observation updates a host."""

from __future__ import annotations

from typing import Any

from pxehook import arch as archtable
from pxehook.models import ARCH_SOURCE_RANK, ArchSource, Host, Observation


def arch_wins(host: Host, obs: Observation) -> bool:
    """True when ``obs`` may set the host's arch: never unknown over known, never a weaker
    source over a stronger one (setting > rule > dhcp > request), never an HTTP-boot code
    over the equivalent PXE code already recorded."""
    if obs.arch is None:
        return False
    if host.arch is None:
        return True
    old, new = archtable.lookup(host.arch), archtable.lookup(obs.arch)
    if new.is_http and not old.is_http and archtable.equivalent(old, new):
        # the same firmware trying its HTTP-boot twin (OVMF: PXE 7, then HTTP 16) is the
        # same machine: keep the PXE code, which names the path it really boots by
        return False
    new_rank = ARCH_SOURCE_RANK.get(ArchSource(obs.arch_source), 0)
    old_rank = ARCH_SOURCE_RANK.get(ArchSource(host.arch_source or ""), 0)
    return new_rank >= old_rank


def observation_changes(host: Host, obs: Observation, at: float) -> dict[str, Any]:
    """Column changes that merging ``obs`` (seen at ``at``) into ``host`` makes."""
    changes: dict[str, Any] = {}
    if obs.ip:
        changes["ip"] = obs.ip
    if obs.hostname and not host.name:
        changes["name"] = obs.hostname
    if obs.uuid and not host.uuid:
        changes["uuid"] = obs.uuid.lower()
    if obs.vendor_class:
        changes["vendor_class"] = obs.vendor_class
    if obs.user_class:
        changes["user_class"] = obs.user_class
    if arch_wins(host, obs) and host.arch != obs.arch:
        changes["arch"] = obs.arch
        changes["arch_source"] = str(obs.arch_source)
    if host.last_seen is None or at > host.last_seen:
        changes["last_seen"] = at
    if host.first_seen is None or at < host.first_seen:
        changes["first_seen"] = at
    return {k: v for k, v in changes.items() if getattr(host, k) != v}


def merged(mapping: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``mapping`` updated by ``changes``; a None value deletes the key."""
    result = dict(mapping)
    for key, value in changes.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result
