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
from typing import Any

from pxehook.capture.sightings import GONE, LEASE, REPLAY, SEEN, TFTP, DhcpSighting
from pxehook.daemons import NAMES as DAEMON_NAMES
from pxehook.models import Host, IpSource, Observation
from pxehook.store import Store
from pxehook.store.merge import ip_changes

log = logging.getLogger("pxehook.capture.apply")

#: A timeline row for ``Store.event_add_many``: (host_id, kind, source, message, data, at).
Row = tuple[int, str, str, str, dict[str, Any], float]

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
    return apply_sightings(store, [sighting], dedupe=dedupe)[0]


def apply_sightings(
    store: Store, sightings: list[DhcpSighting], *, dedupe: bool = False
) -> list[str]:
    """Apply ``sightings`` in order with one read, one ``observe_many`` and one batch of
    timeline rows (a lease file's thousands of leases cost three transactions, not
    thousands); returns what happened to each (for counters and logs)."""
    outcomes = ["ignored"] * len(sightings)
    known = store.hosts_by_mac([s.mac for s in sightings if s.kind in (REPLAY, GONE) and s.mac])
    rows: list[Row] = []
    observing: list[int] = []
    for i, sighting in enumerate(sightings):
        if sighting.kind == TFTP:
            outcomes[i] = _tftp(store, sighting, dedupe, rows)
        elif sighting.kind == REPLAY:
            host = known.get(sighting.mac)
            if host is not None and not ip_changes(host, observation(sighting)):
                outcomes[i] = "unchanged"  # fills gaps only: a new host, or an IP the rules take
            else:
                observing.append(i)
        elif sighting.kind == GONE:
            host = known.get(sighting.mac)
            outcomes[i] = _event_row(store, host, sighting, dedupe, rows)
        elif sighting.kind in (LEASE, SEEN):
            observing.append(i)
    merged = store.observe_many([observation(sightings[i]) for i in observing])
    for i, (host, _created) in zip(observing, merged, strict=True):
        sighting = sightings[i]
        if sighting.kind == LEASE:
            outcomes[i] = _event_row(store, host, sighting, dedupe, rows)
        else:
            outcomes[i] = "observed"
    if rows:
        store.event_add_many(rows)
    return outcomes


def _tftp(store: Store, sighting: DhcpSighting, dedupe: bool, rows: list[Row]) -> str:
    host = store.host_by_ip(sighting.ip) if sighting.ip else None
    if host is None or host.id is None:
        log.info("tftp transfer to %s: no host owns that IP", sighting.ip)
        return "unmatched"
    if dedupe and _seen(store, host.id, sighting.rid):
        return "duplicate"
    message = f"sent {sighting.data.get('path', '')} ({sighting.data.get('size', '?')} bytes)"
    rows.append(
        (host.id, "tftp.sent", sighting.source, message, _timeline_data(sighting), sighting.at)
    )
    return "event"


def _event_row(
    store: Store, host: Host | None, sighting: DhcpSighting, dedupe: bool, rows: list[Row]
) -> str:
    """Queue the ``dhcp.<action>`` row of a lease or gone sighting for ``host``."""
    if host is None or host.id is None:
        return "unknown"
    if dedupe and _seen(store, host.id, sighting.rid):
        return "duplicate"
    message = f"{sighting.action} {sighting.ip}".strip()
    data = _timeline_data(sighting)
    rows.append((host.id, f"dhcp.{sighting.action}", sighting.source, message, data, sighting.at))
    return "event"
