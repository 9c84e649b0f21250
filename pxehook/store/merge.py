"""Pure merge rules shared by every back end: how an observation updates a host.

Whether an observed arch may replace the recorded one is ``archsource.may_replace``.
"""

from __future__ import annotations

from typing import Any

from pxehook import archsource
from pxehook.models import TRUSTED_IP_SOURCES, Host, Observation, usable_uuid


def ip_changes(host: Host, obs: Observation) -> dict[str, Any]:
    """The IP (and its source) ``obs`` records: a trusted source always (the newest lease
    wins; the same trusted IP again changes nothing), a claim (a boot request's address)
    only where no trusted IP is known."""
    if not obs.ip or (obs.ip == host.ip and host.trusted_ip):
        return {}
    if obs.ip_source not in TRUSTED_IP_SOURCES and host.trusted_ip:
        return {}
    return {"ip": obs.ip, "ip_source": str(obs.ip_source)}


def observation_changes(host: Host, obs: Observation, at: float) -> dict[str, Any]:
    """Column changes that merging ``obs`` (seen at ``at``) into ``host`` makes.

    What a client says about itself never becomes an identity: its DHCP hostname is kept
    as ``dhcp_hostname`` (names are the operator's), a placeholder UUID is dropped (the
    store also refuses a UUID another host holds)."""
    changes: dict[str, Any] = ip_changes(host, obs)
    if obs.hostname:
        changes["dhcp_hostname"] = obs.hostname
    uuid = usable_uuid(obs.uuid)
    if uuid and not host.uuid:
        changes["uuid"] = uuid
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
