"""One log format for every pxehook process: the supervisor, gunicorn's arbiter and workers.

``configure()`` sets it up for a pxehook command (``serve``, ``tftp``, ``listen``);
``Logger`` is gunicorn's logger class with the same format for its own lines, pxehook's
loggers in the workers, and the optional access log (setting ``http_access_log``). Each
line: time with its zone, level, process, logger name, message.

The access log records the path without the query string (an installer's callback may
carry its deploy token there), escaped like any other untrusted text: a request cannot
forge a log line.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from gunicorn.glogging import Logger as GunicornLogger

from pxehook.textsafe import printable

FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"
DATEFMT = "%Y-%m-%dT%H:%M:%S%z"
#: What an access-log line says after the common prefix (gunicorn's atoms; ``P``: ours).
ACCESS_FORMAT = '%(h)s "%(m)s %(P)s" %(s)s %(B)s %(M)sms'


def formatter() -> logging.Formatter:
    return logging.Formatter(FORMAT, DATEFMT)


def configure(level: str) -> None:
    """Send this process's pxehook log lines to stderr in the common format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


class Logger(GunicornLogger):
    """gunicorn's logger in pxehook's format (``--logger-class``)."""

    error_fmt = FORMAT
    datefmt = DATEFMT
    access_fmt = FORMAT

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for handler in self.access_log.handlers:  # '-': the server's own log, stderr
            if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stdout:
                handler.setStream(sys.stderr)
            handler.setFormatter(logging.Formatter(FORMAT, DATEFMT))
        configure(cfg.loglevel)  # pxehook's loggers in the arbiter and (forked) workers

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> Any:
        found = super().atoms(resp, req, environ, request_time)
        path = str(environ.get("RAW_URI") or "").split("?", 1)[0]
        found["P"] = printable(path, 512)
        return found
