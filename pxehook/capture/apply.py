"""Apply DHCP events to the store: observations for facts, timeline events for history.

Every source (hook spool, lease-file watcher, passive listener) ends here, so the merge
rules live in one place: a replay only fills gaps, a missing vendor class or arch never
erases a known one (``Store.observe``), and an event that was already applied (same record
id, e.g. re-read after a crash) is not added twice when ``dedupe`` is set.
"""

from __future__ import annotations

import logging

from pxehook.capture.events import GONE, LEASE, REPLAY, SEEN, TFTP, DhcpEvent
from pxehook.models import Observation
from pxehook.store import Store

log = logging.getLogger("pxehook.capture.apply")

#: How many recent events of a host are searched for a duplicate record id.
DEDUPE_WINDOW = 50


def observation(ev: DhcpEvent) -> Observation:
    return Observation(
        mac=ev.mac,
        source=ev.source,
        ip=ev.ip,
        hostname=ev.hostname,
        uuid=ev.uuid,
        arch=ev.arch,
        vendor_class=ev.vendor_class,
        user_class=ev.user_class,
        at=ev.at,
    )


def _seen(store: Store, host_id: int, rid: str) -> bool:
    recent = store.events(host_id)[-DEDUPE_WINDOW:]
    return any(e.data.get("rid") == rid for e in recent)


def _event_data(ev: DhcpEvent) -> dict[str, object]:
    data: dict[str, object] = {"rid": ev.rid, "action": ev.action, **ev.data}
    for key in ("ip", "hostname", "vendor_class", "user_class"):
        value = getattr(ev, key)
        if value:
            data[key] = value
    if ev.arch is not None:
        data["arch"] = ev.arch
    return data


def apply_event(store: Store, ev: DhcpEvent, *, dedupe: bool = False) -> str:
    """Apply one event; returns what happened (for counters and logs)."""
    if ev.kind == TFTP:
        host = store.host_by_ip(ev.ip) if ev.ip else None
        if host is None or host.id is None:
            log.info("tftp transfer to %s: no host owns that IP", ev.ip)
            return "unmatched"
        if dedupe and _seen(store, host.id, ev.rid):
            return "duplicate"
        message = f"sent {ev.data.get('path', '')} ({ev.data.get('size', '?')} bytes)"
        store.event_add(host.id, "tftp.sent", ev.source, message, _event_data(ev), ev.at)
        return "event"
    if ev.kind == REPLAY:
        known = store.host_get(ev.mac)
        if known is not None and (known.ip == ev.ip or not ev.ip):
            return "unchanged"
        store.observe(observation(ev))
        return "observed"
    if ev.kind == GONE:
        host = store.host_get(ev.mac)
        if host is None or host.id is None:
            return "unknown"
        if dedupe and _seen(store, host.id, ev.rid):
            return "duplicate"
        store.event_add(
            host.id, f"dhcp.{ev.action}", ev.source, f"{ev.action} {ev.ip}", _event_data(ev), ev.at
        )
        return "event"
    if ev.kind == SEEN:
        store.observe(observation(ev))
        return "observed"
    if ev.kind != LEASE:
        return "ignored"
    host, _created = store.observe(observation(ev))
    assert host.id is not None
    if dedupe and _seen(store, host.id, ev.rid):
        return "duplicate"
    message = f"{ev.action} {ev.ip}".strip()
    store.event_add(host.id, f"dhcp.{ev.action}", ev.source, message, _event_data(ev), ev.at)
    return "event"
