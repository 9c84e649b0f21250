"""Wire the TFTP server to the resolver: config names through decide(), fetches recorded."""

from __future__ import annotations

import logging

from pxehook import wiring
from pxehook.boot.loaders import parse_name
from pxehook.boot.resolver import Resolver
from pxehook.context import Context
from pxehook.tftp.accesslog import AccessLog
from pxehook.tftp.server import TftpServer

log = logging.getLogger("pxehook.tftp")


def make_lookup(resolver: Resolver):  # type: ignore[no-untyped-def]
    """Config-name lookup for the server: bytes, None (static file) or FileNotFoundError."""

    def lookup(path: str, client_ip: str) -> bytes | None:
        name = parse_name(path)
        if name is None:
            return None
        answer = resolver.by_name(path, name, client_ip, "tftp")
        if answer.status != 200:
            raise FileNotFoundError(path)
        return answer.body

    return lookup


def build(ctx: Context, bind: str | None = None, port: int | None = None) -> TftpServer:
    """A TftpServer for the settings (``tftp_root``, ``files_dir`` under ``files/``,
    ``tftp_bind``, ``tftp_port``, bounds, ``tftp_access_log``); it binds on ``start()``."""
    s = ctx.settings
    resolver = wiring.resolver(ctx)
    address = bind or s.tftp_bind or s.server_ip or "127.0.0.1"

    def on_file(client_ip: str, path: str, size: int) -> None:
        try:
            resolver.record_file(client_ip, path, "tftp", size)
        except Exception:  # recording must never break a boot
            log.exception("recording tftp fetch of %s failed", path)

    return TftpServer(
        s.tftp_root,
        address,
        port if port is not None else s.tftp_port,
        make_lookup(resolver),
        on_file=on_file,
        on_done=AccessLog(s.tftp_access_log) if s.tftp_access_log else None,
        files_dir=s.files_dir,
        max_transfers=s.tftp_max_transfers,
        max_per_client=s.tftp_max_per_client,
        lookup_workers=s.db_pool_size,  # more lookups at once would only wait for the pool
    )


class TftpService:
    """``pxehook serve`` background service (setting ``tftp_serve``).

    Health: ``healthy`` is True while the server answers requests; ``error`` says why not
    ("tftp: cannot bind 0.0.0.0:69: address already in use", "tftp stopped: …").
    """

    name = "tftp"

    def __init__(self, ctx: Context) -> None:
        self.server = build(ctx)

    def start(self) -> None:
        """Bind and serve; ConfigError (one line) when the port cannot be bound."""
        try:
            self.server.start()
        except Exception as exc:
            self.server.error = str(exc)
            raise
        log.info("tftp serving %s on %s:%s", self.server.root, *self.server.address)

    def stop(self) -> None:
        self.server.stop()

    @property
    def healthy(self) -> bool:
        return self.server.healthy

    @property
    def error(self) -> str:
        if self.server.healthy:
            return ""
        return self.server.error or "tftp is not running"


def factory(ctx: Context) -> TftpService | None:
    return TftpService(ctx) if ctx.settings.tftp_serve else None
