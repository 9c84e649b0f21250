"""How long ago something happened, for every life-cycle timer, robust to clock steps.

The deploy time-out and the boot-once window measure the time since a moment stamped on
two clocks (``models.Instant``: wall clock, boot-time clock and boot id). Within one boot of
the machine that stamped it, the boot-time clock decides: it never steps, so NTP stepping
the wall clock (or an operator setting it) by hours neither fails every deploying host at
once nor ends boot sessions early, and a step back does not extend them. Only a moment
stamped during another boot (before the server rebooted, by another server sharing a
PostgreSQL database, or before pxehook recorded the boot-time clock) is measured on the wall
clock, the only clock two boots share. Tests pass a ``Clock`` of their own.
"""

from __future__ import annotations

from typing import Protocol

from pxehook.models import Instant, instant


class Clock(Protocol):
    """Where "now" comes from."""

    def now(self) -> Instant: ...


class SystemClock:
    """The machine's clocks."""

    def now(self) -> Instant:
        return instant()


SYSTEM = SystemClock()


def as_instant(at: Instant | float | None, clock: Clock = SYSTEM) -> Instant:
    """``at`` as an Instant: now when None; a bare wall-clock time has no boot-time reading,
    so everything measured against it uses the wall clock."""
    if at is None:
        return clock.now()
    return at if isinstance(at, Instant) else Instant(wall=float(at))


def elapsed(wall: float | None, clock: float | None, boot: str, now: Instant) -> float | None:
    """Seconds from a moment stamped (``wall``, ``clock``, ``boot``) to ``now``; None when
    the moment is unknown. The boot-time clock when both readings come from one boot, else
    the wall clock."""
    if clock is not None and now.clock is not None and boot and boot == now.boot:
        return now.clock - float(clock)
    return None if wall is None else now.wall - float(wall)
