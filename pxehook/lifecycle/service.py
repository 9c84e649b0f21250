"""The background sweeper ``pxehook serve`` runs: deploy time-outs, boot-once, auto-adopt."""

from __future__ import annotations

import logging
import threading

from pxehook.context import Context
from pxehook.errors import PxehookError
from pxehook.lifecycle.auto import sweep

log = logging.getLogger("pxehook.lifecycle")


class LifecycleSweeper:
    """Runs ``lifecycle.auto.sweep`` every ``lifecycle_sweep_interval`` seconds in a thread."""

    name = "lifecycle-sweeper"

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.interval = float(ctx.settings.lifecycle_sweep_interval)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 5)

    def run_once(self) -> list[dict]:
        changes = sweep(self.ctx.settings, self.ctx.store())
        for change in changes:
            log.info("lifecycle: %s %s -> %s", change["mac"], change["from"], change["to"])
        return changes

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.run_once()
            except PxehookError as exc:  # a locked or missing database: try again later
                log.warning("lifecycle sweep failed: %s", exc)
            except Exception:  # never let the sweeper die silently
                log.exception("lifecycle sweep crashed; retrying next interval")
