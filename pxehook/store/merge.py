"""Pure merge rules shared by every back end: how an observation updates a host.

Whether an observed arch may replace the recorded one is ``archsource.may_replace``.
"""

from __future__ import annotations

from typing import Any

from pxehook import archsource
from pxehook.models import Host, Observation


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
    if archsource.may_replace(host, obs) and host.arch != obs.arch:
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
