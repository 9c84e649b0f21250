"""Apply DHCP sightings to the store: observations for facts, timeline events for history.

Every source (hook spool, lease-file watcher, passive listener) ends here, so the merge
rules live in one place: a replay only fills gaps, a missing vendor class or arch never
erases a known one (``Store.observe``), and a sighting that was already applied (same
record id, e.g. re-read after a crash) adds no second timeline event when ``dedupe`` is
set.

Which of them may vouch for an IP is ``ip_source_of``: the DHCP server's own hook and its
lease file, and the listener (which passes on only the leases of a trusted server's
DHCPACKs, see ``capture/listener.py``).
"""

from __future__ import annotations

import logging

from pxehook.capture.sightings import GONE, LEASE, REPLAY, SEEN, TFTP, DhcpSighting
from pxehook.daemons import NAMES as DAEMON_NAMES
from pxehook.models import IpSource, Observation
from pxehook.store import Store
from pxehook.store.merge import ip_changes

log = logging.getLogger("pxehook.capture.apply")

#: How many recent events of a host are searched for a duplicate record id.
DEDUPE_WINDOW = 50


#: The listener's source name: its sightings carry an IP only from a trusted server's ACK.
LISTENER = "listener"
#: Lease-file watchers name their sightings ``leases-<daemon>``.
LEASE_FILE_PREFIX = "leases-"


def ip_source_of(sighting: DhcpSighting) -> IpSource:
    """How far the IP of a sighting may be trusted, by the capture source that made it."""
    if sighting.source in DAEMON_NAMES:
        return IpSource.HOOK
    if sighting.source.startswith(LEASE_FILE_PREFIX):
        return IpSource.LEASE_FILE
    if sighting.source == LISTENER:
        return IpSource.LISTENER
    return IpSource.NONE


def observation(sighting: DhcpSighting) -> Observation:
    return Observation(
        mac=sighting.mac,
        source=sighting.source,
        ip=sighting.ip,
        ip_source=ip_source_of(sighting) if sighting.ip else IpSource.NONE,
        hostname=sighting.hostname,
        uuid=sighting.uuid,
        arch=sighting.arch,
        vendor_class=sighting.vendor_class,
        user_class=sighting.user_class,
        at=sighting.at,
    )


def _seen(store: Store, host_id: int, rid: str) -> bool:
    recent = store.events(host_id)[-DEDUPE_WINDOW:]
    return any(e.data.get("rid") == rid for e in recent)


def _timeline_data(sighting: DhcpSighting) -> dict[str, object]:
    data: dict[str, object] = {"rid": sighting.rid, "action": sighting.action, **sighting.data}
    for key in ("ip", "hostname", "vendor_class", "user_class"):
        value = getattr(sighting, key)
        if value:
            data[key] = value
    if sighting.arch is not None:
        data["arch"] = sighting.arch
    return data


def apply_sighting(store: Store, sighting: DhcpSighting, *, dedupe: bool = False) -> str:
    """Apply one sighting; returns what happened (for counters and logs)."""
    if sighting.kind == TFTP:
        host = store.host_by_ip(sighting.ip) if sighting.ip else None
        if host is None or host.id is None:
            log.info("tftp transfer to %s: no host owns that IP", sighting.ip)
            return "unmatched"
        if dedupe and _seen(store, host.id, sighting.rid):
            return "duplicate"
        message = f"sent {sighting.data.get('path', '')} ({sighting.data.get('size', '?')} bytes)"
        store.event_add(
            host.id, "tftp.sent", sighting.source, message, _timeline_data(sighting), sighting.at
        )
        return "event"
    if sighting.kind == REPLAY:
        known = store.host_get(sighting.mac)
        if known is not None and not ip_changes(known, observation(sighting)):
            return "unchanged"  # fills gaps only: a new host, or an IP the rules take
        store.observe(observation(sighting))
        return "observed"
    if sighting.kind == GONE:
        host = store.host_get(sighting.mac)
        if host is None or host.id is None:
            return "unknown"
        if dedupe and _seen(store, host.id, sighting.rid):
            return "duplicate"
        store.event_add(
            host.id,
            f"dhcp.{sighting.action}",
            sighting.source,
            f"{sighting.action} {sighting.ip}",
            _timeline_data(sighting),
            sighting.at,
        )
        return "event"
    if sighting.kind == SEEN:
        store.observe(observation(sighting))
        return "observed"
    if sighting.kind != LEASE:
        return "ignored"
    host, _created = store.observe(observation(sighting))
    assert host.id is not None
    if dedupe and _seen(store, host.id, sighting.rid):
        return "duplicate"
    message = f"{sighting.action} {sighting.ip}".strip()
    store.event_add(
        host.id,
        f"dhcp.{sighting.action}",
        sighting.source,
        message,
        _timeline_data(sighting),
        sighting.at,
    )
    return "event"
