"""The TFTP server's access log (setting ``tftp_access_log``): one line per read request.

``IP "RRQ name" outcome bytes first_us total_us`` — ``outcome`` is ``complete``,
``partial`` (the client stopped) or ``error:<code>``; ``first_us`` is how long pxehook took
from the request to its first packet (the resolver's share: lookup, render, open),
``total_us`` the whole transfer (paced by the client). The name is percent-encoded, so a
forged file name stays one token on one line.
"""

from __future__ import annotations

import logging
import time
from logging.handlers import WatchedFileHandler
from urllib.parse import quote

from pxehook.tftp.transfer import Transfer

#: the logger of the lines; '-' sends them to the server's own log through it
LOGGER = "pxehook.tftp.access"
_SAFE = "/:._-~+=,@"


def line(transfer: Transfer, now: float | None = None) -> str:
    """The access-log line of an ended ``transfer``."""
    now = time.monotonic() if now is None else now
    first = transfer.answered_at or now
    size = transfer.source.size if transfer.source is not None else 0
    return (
        f'{transfer.client_ip} "RRQ {quote(transfer.path, safe=_SAFE)}" {transfer.outcome} '
        f"{size} {_us(first - transfer.requested_at)} {_us(now - transfer.requested_at)}"
    )


def _us(seconds: float) -> int:
    return max(0, round(seconds * 1e6))


class AccessLog:
    """Writes :func:`line` for each ended transfer to a file (reopened after logrotate
    moves it) or, for ``-``, to the server's own log."""

    def __init__(self, target: str) -> None:
        self.logger = logging.getLogger(LOGGER)
        self.logger.setLevel(logging.INFO)
        self.handler: logging.Handler | None = None
        if target != "-":
            self.handler = WatchedFileHandler(target, encoding="utf-8")
            self.handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
            self.logger.addHandler(self.handler)
            self.logger.propagate = False

    def __call__(self, transfer: Transfer) -> None:
        self.logger.info("%s", line(transfer))

    def close(self) -> None:
        if self.handler is not None:
            self.logger.removeHandler(self.handler)
            self.handler.close()
