"""The lease-file watcher's status file: written by the watcher, read by ``/metrics``.

The watcher runs in ``pxehook serve``'s supervisor (or alone, ``pxehook watch-leases``);
``/metrics`` answers in a gunicorn worker. They share ``<state_dir>/lease-files.json``: one
object per watched file (kind, path, leases, bad_lines, busy_reads, pending_deletions).
"""

from __future__ import annotations

import json
import os
from typing import Any

FILE_NAME = "lease-files.json"


def path_in(state_dir: str) -> str:
    return os.path.join(state_dir, FILE_NAME)


def write(path: str, files: list[dict[str, Any]]) -> None:
    """Replace the status atomically. Raises OSError."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(files, fh)
    os.replace(tmp, path)


def read(state_dir: str) -> list[dict[str, Any]]:
    """The status last written under ``state_dir``; [] when none (no watcher configured)."""
    try:
        with open(path_in(state_dir), encoding="utf-8") as fh:
            files = json.load(fh)
    except (OSError, ValueError):
        return []
    return [f for f in files if isinstance(f, dict)] if isinstance(files, list) else []
