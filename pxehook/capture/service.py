"""The capture services ``pxehook serve`` runs: spool ingester, lease watcher, listener."""

from __future__ import annotations

import logging

from pxehook.capture import status
from pxehook.capture.ingest import IngestService
from pxehook.capture.leases import LeaseWatchService, parse_spec
from pxehook.capture.listener import Listener
from pxehook.context import Context

log = logging.getLogger("pxehook.capture.service")


class CaptureServices:
    """Starts and stops the configured capture parts together."""

    name = "capture"

    def __init__(self, ctx: Context) -> None:
        settings, store = ctx.settings, ctx.store()
        self.parts: list = [IngestService(store, settings.spool_dir)]
        if settings.lease_files:
            specs = [parse_spec(spec) for spec in settings.lease_files]
            path = status.path_in(settings.state_dir)
            self.parts.append(LeaseWatchService(store, specs, status_file=path))
        if settings.listen_interface:
            trusted = settings.dhcp_trusted_servers
            self.parts.append(Listener(store, settings.listen_interface, trusted_servers=trusted))

    def start(self) -> None:
        for part in self.parts:
            part.start()
            log.info("started %s", part.name)

    def stop(self) -> None:
        for part in reversed(self.parts):
            part.stop()


def factory(ctx: Context) -> CaptureServices | None:
    """The capture services, or None (logged) when the spool directory is unusable."""
    try:
        return CaptureServices(ctx)
    except OSError as exc:
        log.error("capture disabled: spool directory %s: %s", ctx.settings.spool_dir, exc)
        return None
