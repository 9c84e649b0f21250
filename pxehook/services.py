"""Background services that run beside the web workers in ``pxehook serve``, supervised.

Each factory takes the Context and returns an object with ``start()`` and ``stop()``, or
None when the service is not configured. They run in the supervisor process, never in the
gunicorn workers (no threads across fork). The :class:`Supervisor` starts each one on its
own: a service that fails to start (a TFTP port already taken) or whose threads die (its
watched directory removed) is logged in one line, marked ``down`` and started again with
a growing back-off, and the others go on. It publishes every service's status, and which
inventory version is in force, through ``servicestatus`` for ``/healthz``.

Several ``pxehook serve`` may share one database (racks, docs/racks.md): the services in
``FLEET_WIDE`` then run only on the rack that holds the database's leader lock
(``fleet.Leadership``), and move to another rack when that one stops or dies; the others
(capture, TFTP, the nginx front) run on every rack.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from pxehook import servicestatus, wiring
from pxehook.boot import front
from pxehook.capture import service as capture_service
from pxehook.context import Context
from pxehook.errors import ConfigError, PxehookError
from pxehook.fleet import Leadership
from pxehook.inventory.watch import InventoryWatcher
from pxehook.lifecycle.service import LifecycleSweeper
from pxehook.store.retention import Pruner, Retention
from pxehook.tftp import service as tftp_service

log = logging.getLogger("pxehook.services")

MIN_BACKOFF, MAX_BACKOFF = 1.0, 60.0


class Service(Protocol):
    name: str

    def start(self) -> None: ...

    def stop(self) -> None: ...


class _Watcher(InventoryWatcher):
    """The inventory watcher, also remembering which version of the file is in force."""

    def __init__(self, path: str, ctx: Context, on_change: Callable[[], None]) -> None:
        super().__init__(path, ctx.store())
        self.applied: list[int] | None = None
        #: wall-clock times of the last good apply and of the error in force (0: none)
        self.applied_at = self.error_at = 0.0
        self.on_change = on_change

    def load_now(self) -> bool:
        signature = servicestatus.file_signature(self.path)
        good = super().load_now()
        if good:
            self.applied, self.applied_at, self.error_at = signature, time.time(), 0.0
        elif not self.error_at:
            self.error_at = time.time()
        self.on_change()
        return good


class _InventoryService:
    name = "inventory-watcher"

    def __init__(self, ctx: Context, on_change: Callable[[], None] = lambda: None) -> None:
        self.watcher = _Watcher(ctx.settings.inventory, ctx, on_change)

    def start(self) -> None:
        self.watcher.start()

    def stop(self) -> None:
        self.watcher.stop()

    def alive(self) -> bool:
        return self.watcher.alive()

    def inventory(self) -> dict[str, Any]:
        error: ConfigError | None = self.watcher.last_error
        return {
            "path": self.watcher.path,
            "applied": self.watcher.applied,
            "applied_at": self.watcher.applied_at,
            "error": str(error).splitlines()[0] if error else "",
            "error_at": self.watcher.error_at if error else 0.0,
        }


Factory = Callable[[Context], Service | None]


def _inventory(ctx: Context) -> Service | None:
    return _InventoryService(ctx)  # a file not there yet is watched for (InventoryWatcher)


def _lifecycle(ctx: Context) -> Service | None:
    return LifecycleSweeper(ctx)


def _capture(ctx: Context) -> Service | None:
    return capture_service.factory(ctx)


def _tftp(ctx: Context) -> Service | None:
    return tftp_service.factory(ctx)


def _front(ctx: Context) -> Service | None:
    return front.factory(ctx, wiring.boot_hooks(ctx))


def _pruner(ctx: Context) -> Service | None:
    rule, every = Retention.from_settings(ctx.settings), ctx.settings.event_prune_interval
    return Pruner(ctx.store(), rule, every) if every and rule.active else None


#: (name, factory), started in this order by ``pxehook serve``.
FACTORIES: list[tuple[str, Factory]] = [
    ("inventory-watcher", _inventory),
    ("lifecycle-sweeper", _lifecycle),
    ("capture", _capture),
    ("tftp", _tftp),
    ("nginx-front", _front),
    ("event-pruner", _pruner),
]

#: Work done once per fleet: only the rack holding the leader lock runs it.
FLEET_WIDE = frozenset({"inventory-watcher", "lifecycle-sweeper", "event-pruner"})


def threads_of(obj: object, depth: int = 3) -> list[threading.Thread]:
    """The long-running threads a started service holds in its attributes (and in its
    parts' attributes), watchdog observers with their emitters; timers are transient."""
    found: list[threading.Thread] = []
    for value in vars(obj).values() if hasattr(obj, "__dict__") else ():
        items = value if isinstance(value, list | tuple | set) else (value,)
        for item in items:
            if isinstance(item, threading.Timer):
                continue
            if isinstance(item, threading.Thread):
                found.append(item)
                found.extend(getattr(item, "emitters", ()))
            elif depth and type(item).__module__.startswith("pxehook."):
                found.extend(threads_of(item, depth - 1))
    return found


def alive(service: object) -> bool:
    """Is a started service still working? Its own ``alive()`` if it has one, else all the
    threads it holds are running."""
    check = getattr(service, "alive", None)
    if callable(check):
        return bool(check())
    return all(thread.is_alive() for thread in threads_of(service))


def one_line(exc: BaseException) -> str:
    """The first line of an error; pxehook's own errors already say what went wrong."""
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return (first if isinstance(exc, PxehookError) else f"{type(exc).__name__}: {first}")[:300]


@dataclass
class Slot:
    """One service under supervision."""

    name: str
    factory: Factory
    service: Service | None = None
    status: str = "starting"
    error: str = ""
    since: float = field(default_factory=time.time)
    restarts: int = 0
    backoff: float = MIN_BACKOFF
    retry_at: float = 0.0
    #: runs only while this rack leads the fleet (``FLEET_WIDE``)
    fleet_wide: bool = False

    def view(self) -> dict[str, Any]:
        return {"status": self.status, "error": self.error, "since": self.since,
                "restarts": self.restarts}  # fmt: skip


class Supervisor:
    """Starts, watches and restarts the background services; publishes their status."""

    def __init__(
        self, ctx: Context, factories: list[tuple[str, Factory]] | None = None, *,
        check_every: float = 1.0,
    ) -> None:  # fmt: skip
        self.ctx = ctx
        self.state_dir = ctx.settings.state_dir
        chosen = FACTORIES if factories is None else factories
        self.slots = [Slot(name, f, fleet_wide=name in FLEET_WIDE) for name, f in chosen]
        self.check_every = check_every
        self.leadership: Leadership | None = None
        self.lead_every = float(ctx.settings.leader_check_interval)
        self._lead_at = 0.0
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="supervisor", daemon=True)
        self._published: dict[str, Any] | None = None

    # life -------------------------------------------------------------------------------
    def start(self) -> Supervisor:
        if any(slot.fleet_wide for slot in self.slots):
            self.leadership = Leadership(self.ctx.store(), self.ctx.settings.rack)
            self.leadership.check()
            self._lead_at = time.monotonic() + self.lead_every
        for slot in self.slots:
            if self._may_run(slot):
                self._start(slot)
            else:
                self._stand_by(slot)
        self.publish()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        with self._lock:
            for slot in reversed(self.slots):
                self._halt(slot)
            if self.leadership is not None:
                self.leadership.release()
        servicestatus.remove(self.state_dir)

    @property
    def running(self) -> list[Service]:
        return [s.service for s in self.slots if s.service is not None and s.status == "running"]

    # one service ------------------------------------------------------------------------
    def _start(self, slot: Slot) -> None:
        with self._lock:
            try:
                service = slot.factory(self.ctx)
                if service is None:
                    slot.status, slot.error = "off", ""
                    return
                if isinstance(service, _InventoryService):
                    service.watcher.on_change = self.publish
                slot.service = service
                service.start()
            except Exception as exc:  # one service's fault must not stop the others
                self._down(slot, one_line(exc))
                return
            slot.status, slot.error, slot.since = "running", "", time.time()
            slot.backoff = MIN_BACKOFF
            log.info("started %s", slot.name)

    def _down(self, slot: Slot, why: str) -> None:
        self._halt(slot)
        slot.status, slot.error, slot.since = servicestatus.DOWN, why, time.time()
        slot.retry_at = time.monotonic() + slot.backoff
        log.error("%s is down (%s); retrying in %.0fs", slot.name, why, slot.backoff)
        slot.backoff = min(slot.backoff * 2, MAX_BACKOFF)

    def _halt(self, slot: Slot) -> None:
        service, slot.service = slot.service, None
        if service is not None:
            try:
                service.stop()
            except Exception:  # a failing stop must not keep the others running
                log.exception("stopping %s failed", slot.name)

    # the fleet --------------------------------------------------------------------------
    @property
    def leading(self) -> bool:
        return self.leadership is None or self.leadership.leader

    def _may_run(self, slot: Slot) -> bool:
        return not slot.fleet_wide or self.leading

    def _stand_by(self, slot: Slot) -> None:
        self._halt(slot)
        slot.status, slot.error, slot.since = servicestatus.STANDBY, "", time.time()
        slot.backoff, slot.retry_at = MIN_BACKOFF, 0.0

    def lead(self) -> None:
        """Ask for (or confirm) the fleet's lead; start or stop the fleet-wide services
        when this rack's role changed."""
        if self.leadership is None or not self.leadership.check():
            return
        for slot in self.slots:
            if not slot.fleet_wide:
                continue
            if self.leading:
                self._start(slot)
            else:
                self._stand_by(slot)

    def check(self) -> None:
        """One round: the fleet's lead when due, mark dead services down, restart those
        whose back-off is over."""
        with self._lock:
            if time.monotonic() >= self._lead_at:
                self._lead_at = time.monotonic() + self.lead_every
                self.lead()
            for slot in self.slots:
                if not self._may_run(slot):
                    continue
                if slot.status == "running" and slot.service and not alive(slot.service):
                    self._down(slot, "stopped unexpectedly")
                elif slot.status == servicestatus.DOWN and time.monotonic() >= slot.retry_at:
                    slot.restarts += 1
                    self._start(slot)
        self.publish()

    def _run(self) -> None:
        while not self._stop.wait(self.check_every):
            try:
                self.check()
            except Exception:  # the supervisor itself must keep going
                log.exception("supervising the services failed")

    # status -----------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        with self._lock:
            data: dict[str, Any] = {
                "supervisor": os.getpid(),
                "services": {s.name: s.view() for s in self.slots if s.status != "off"},
            }
            if self.leadership is not None:
                data["fleet"] = self.leadership.view()
            for slot in self.slots:
                if isinstance(slot.service, _InventoryService):
                    data["inventory"] = slot.service.inventory()
        return data

    def publish(self) -> None:
        """Write the status file when something changed (atomic; workers read it)."""
        data = self.status()
        if data == self._published:
            return
        with contextlib.suppress(OSError):  # a full disk must not stop the services
            servicestatus.write(self.state_dir, data)
            self._published = data
