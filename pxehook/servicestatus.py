"""What ``pxehook serve``'s supervisor publishes about its services, and what is wrong.

The supervisor runs the background services; the gunicorn workers answer ``/healthz``. The
supervisor writes ``<state_dir>/services.json`` atomically whenever a service's status
changes; a worker reads it and reports unhealthy when the supervisor is gone, a service is
not running, or the inventory in force is not the file on disk. Plain files and JSON only:
both sides import this module, neither imports the other.
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any

FILE = "services.json"
RUNNING, DOWN = "running", "down"
#: a rack's role in its fleet (docs/racks.md); a fleet-wide service on a rack that does not
#: lead is STANDBY, which is not a problem
LEADER, STANDBY = "leader", "standby"


def path(state_dir: str) -> str:
    return os.path.join(state_dir, FILE)


def write(state_dir: str, data: dict[str, Any]) -> None:
    """Replace the status file atomically (temp file in the same directory, rename)."""
    os.makedirs(state_dir, exist_ok=True)
    tmp = path(state_dir) + f".{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, sort_keys=True)
    os.replace(tmp, path(state_dir))


def read(state_dir: str) -> dict[str, Any] | None:
    """The published status, or None when no supervisor publishes one."""
    try:
        with open(path(state_dir), encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def remove(state_dir: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path(state_dir))


def file_signature(file: str) -> list[int] | None:
    """What identifies one version of a file on disk (device, inode, size, mtime), or None."""
    try:
        st = os.stat(file)
    except OSError:
        return None
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns]


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists (ours or not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def problems(data: dict[str, Any]) -> dict[str, str]:
    """What is wrong, by part ({} when all is well)."""
    found: dict[str, str] = {}
    pid = int(data.get("supervisor") or 0)
    if pid and not alive(pid):
        return {"supervisor": f"pid {pid} is not running"}
    for name, info in sorted((data.get("services") or {}).items()):
        if info.get("status") not in (RUNNING, STANDBY):
            found[name] = f"{info.get('status', 'unknown')}: {info.get('error') or 'no reason'}"
    inventory = data.get("inventory")
    if inventory:
        if inventory.get("error"):
            found["inventory"] = "the last edit was not applied: " + str(inventory["error"])
        elif inventory.get("applied") != file_signature(str(inventory.get("path", ""))):
            found["inventory"] = "the file on disk is not the version in force (yet)"
    return found
