"""Background services that run beside the web workers in ``pxehook serve``.

Each factory takes the Context and returns an object with ``start()`` and ``stop()``, or
None when the service is not configured. They run in the supervisor process, never in the
gunicorn workers (no threads across fork).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Protocol

from pxehook import wiring
from pxehook.boot import front
from pxehook.capture import service as capture_service
from pxehook.context import Context
from pxehook.inventory.watch import InventoryWatcher
from pxehook.lifecycle.service import LifecycleSweeper
from pxehook.tftp import service as tftp_service

log = logging.getLogger("pxehook.services")


class Service(Protocol):
    name: str

    def start(self) -> None: ...

    def stop(self) -> None: ...


class _InventoryService:
    name = "inventory-watcher"

    def __init__(self, ctx: Context) -> None:
        self.watcher = InventoryWatcher(ctx.settings.inventory, ctx.store())

    def start(self) -> None:
        self.watcher.start()

    def stop(self) -> None:
        self.watcher.stop()


def _inventory(ctx: Context) -> Service | None:
    if not os.path.exists(ctx.settings.inventory):
        log.warning("inventory %s does not exist: not watching", ctx.settings.inventory)
        return None
    return _InventoryService(ctx)


def _lifecycle(ctx: Context) -> Service | None:
    return LifecycleSweeper(ctx)


def _capture(ctx: Context) -> Service | None:
    return capture_service.factory(ctx)


def _tftp(ctx: Context) -> Service | None:
    return tftp_service.factory(ctx)


def _front(ctx: Context) -> Service | None:
    return front.factory(ctx, wiring.boot_hooks(ctx))


#: Factories, started in order by ``pxehook serve``.
FACTORIES: list[Callable[[Context], Service | None]] = [
    _inventory,
    _lifecycle,
    _capture,
    _tftp,
    _front,
]


def start_all(ctx: Context) -> list[Service]:
    started = []
    for factory in FACTORIES:
        service = factory(ctx)
        if service is None:
            continue
        service.start()
        log.info("started %s", service.name)
        started.append(service)
    return started


def stop_all(services: list[Service]) -> None:
    for service in reversed(services):
        try:
            service.stop()
        except Exception:  # a failing stop must not keep the others running
            log.exception("stopping %s failed", service.name)
