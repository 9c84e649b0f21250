"""The stages of a host's last boot, read from its timeline: DHCP -> loader -> config ->
kernel -> callback, each with when it happened and the time since the stage before.

Pure: the fleet API (``web/fleet.py``) passes a host's newest events, oldest first. The last
boot starts at the newest DHCP event before the newest boot config served (or at the newest
DHCP event when no config was served since); each stage is the first event of its kind from
there on. A stage never reached is ``None``.
"""

from __future__ import annotations

from typing import Any

from pxehook.models import Event, State

#: The stages in boot order, with what each means on the page.
STAGES: tuple[tuple[str, str], ...] = (
    ("dhcp", "DHCP: the firmware asked for an address and a boot file"),
    ("loader", "the first-stage loader was sent (TFTP)"),
    ("config", "pxehook served the boot config"),
    ("kernel", "the kernel or installer image was sent"),
    ("callback", "the installer called back: deployed"),
)


def stage_of(event: Event) -> str | None:
    """The boot stage an event marks, or None."""
    kind = event.kind
    if kind.startswith("dhcp."):
        return "dhcp"
    if kind in ("tftp.sent", "tftp.file"):
        return "loader"
    if kind == "boot.config":
        return "config"
    if kind == "boot.kernel":
        return "kernel"
    deployed = (event.data or {}).get("to") == str(State.DEPLOYED)
    if kind == "state.changed" and deployed and event.source.startswith("callback"):
        return "callback"
    return None


def last_boot(events: list[Event]) -> list[dict[str, Any]]:
    """One row per stage: ``stage``, ``about``, ``at`` (None: not reached), ``after`` (seconds
    since the previous reached stage), ``event`` (its id) and ``message``."""
    marked = [(stage_of(e), e) for e in events]
    configs = [i for i, (stage, _e) in enumerate(marked) if stage == "config"]
    end = configs[-1] if configs else len(marked)
    starts = [i for i, (stage, _e) in enumerate(marked[:end]) if stage == "dhcp"]
    start = starts[-1] if starts else (configs[-1] if configs else len(marked))
    first: dict[str, Event] = {}
    for stage, event in marked[start:]:
        if stage and stage not in first:
            first[stage] = event
    rows, previous = [], None
    for stage, about in STAGES:
        event = first.get(stage)
        after = None
        if event is not None and previous is not None:
            after = round(max(0.0, event.at - previous), 3)
        rows.append({
            "stage": stage, "about": about, "at": event.at if event else None, "after": after,
            "event": event.id if event else None, "message": event.message if event else "",
        })  # fmt: skip
        previous = event.at if event else previous
    return rows
