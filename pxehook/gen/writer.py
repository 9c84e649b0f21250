"""Safe writes: temp file beside the target, the daemon's own check, fsync, os.replace.

The temp file's name starts with a dot so dnsmasq's conf-dir and inotify skip it. On any
failure the live file is left exactly as it was.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

from pxehook.errors import ExitCode, PxehookError


class Drift(PxehookError):
    """The live file differs from what the generator would write (or lint found traps)."""

    exit_code = ExitCode.DRIFT
    http_status = 409
    code = "drift"


@dataclass(frozen=True)
class WriteResult:
    path: str
    changed: bool
    checked_by: str | None  # daemon check output, None when the daemon is not installed


def read_live(path: str) -> str | None:
    """The current file's text, or None when it does not exist."""
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise PxehookError(f"{path}: cannot read: {exc.strerror}") from None


def diff(path: str, new_text: str) -> str:
    """Unified diff live → new ('' when identical)."""
    live = read_live(path)
    if live == new_text:
        return ""
    return "".join(
        difflib.unified_diff(
            (live or "").splitlines(keepends=True),
            new_text.splitlines(keepends=True),
            fromfile=f"{path} (live)" if live is not None else "/dev/null",
            tofile=f"{path} (generated)",
        )
    )


def _fsync_dir(folder: str) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_checked(
    path: str, text: str, check: Callable[[str], str | None], *, mode: int = 0o644
) -> WriteResult:
    """Write ``text`` to ``path`` only if ``check(temp_path)`` accepts it (raises otherwise)."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise PxehookError(f"{folder}: directory does not exist")
    if read_live(path) == text:
        return WriteResult(path=path, changed=False, checked_by=None)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise PxehookError(f"{folder}: cannot create a file: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        checked = check(tmp)
        os.replace(tmp, path)
        _fsync_dir(folder)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return WriteResult(path=path, changed=True, checked_by=checked)
