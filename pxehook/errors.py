"""The exception hierarchy and the exit codes the CLI maps it to.

Every error a user can cause is a ``PxehookError``: the CLI prints its message on one line
and exits with its ``exit_code``; the web layer maps ``http_status`` to a JSON error.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Named process exit codes, used by the CLI boundary only."""

    OK = 0
    ERROR = 1
    USAGE = 2
    INVALID_INPUT = 3
    NOT_FOUND = 4
    CONFIG = 5
    STORE = 6
    CONFLICT = 7
    DAEMON_REJECTED = 8
    DRIFT = 9


class PxehookError(Exception):
    """Base class: a problem the user can understand and fix."""

    exit_code: ExitCode = ExitCode.ERROR
    http_status: int = 500
    code: str = "error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class InvalidInput(PxehookError):
    """A value given by a user or a client is malformed (MAC, IP, name, path…)."""

    exit_code = ExitCode.INVALID_INPUT
    http_status = 400
    code = "invalid_input"


class NotFound(PxehookError):
    """The named host, profile, token or file does not exist."""

    exit_code = ExitCode.NOT_FOUND
    http_status = 404
    code = "not_found"


class ConfigError(PxehookError):
    """Settings or inventory are invalid; the message names file, key and expectation."""

    exit_code = ExitCode.CONFIG
    http_status = 500
    code = "config_error"


class StoreError(PxehookError):
    """The database is unreachable, locked for too long, or not writable."""

    exit_code = ExitCode.STORE
    http_status = 503
    code = "store_unavailable"


class StoreUnreachable(StoreError):
    """The database does not answer at all (down, halted, cut off), as opposed to busy or
    full: a resolver then answers from the last state it saw (docs/racks.md)."""


class Conflict(PxehookError):
    """The request contradicts current state (illegal transition, duplicate MAC…)."""

    exit_code = ExitCode.CONFLICT
    http_status = 409
    code = "conflict"


class Stale(Conflict):
    """A conditional write found the host changed since it was read (its version moved):
    the writer reads again and re-applies its change, or reports this."""


class Unauthorized(PxehookError):
    """A state-changing request came without a valid token."""

    exit_code = ExitCode.USAGE
    http_status = 401
    code = "unauthorized"


class Forbidden(PxehookError):
    """The token is valid but its scope does not allow the request."""

    exit_code = ExitCode.USAGE
    http_status = 403
    code = "forbidden"


class RateLimited(PxehookError):
    """One client failed too often (wrong tokens); it may try again after ``retry_after`` s."""

    exit_code = ExitCode.USAGE
    http_status = 429
    code = "too_many_requests"

    def __init__(self, message: str, retry_after: int, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


class DaemonRejected(PxehookError):
    """A DHCP daemon's own syntax check refused a generated file; the live file is kept."""

    exit_code = ExitCode.DAEMON_REJECTED
    http_status = 500
    code = "daemon_rejected"


def yaml_error(path: str, exc: Exception) -> ConfigError:
    """A ConfigError naming ``path:line`` for a PyYAML error."""
    mark = getattr(exc, "problem_mark", None)
    where = f"{path}:{mark.line + 1}" if mark else path
    problem = getattr(exc, "problem", None) or str(exc)
    return ConfigError(f"{where}: invalid YAML: {problem}")
