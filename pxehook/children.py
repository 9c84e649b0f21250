"""Child processes that die with their parent, and servers a dead parent left behind.

``pxehook serve`` runs gunicorn as a child, and gunicorn forks its workers. If the
supervisor is killed (``kill -9``, OOM killer), an orphaned gunicorn would go on answering
boots without the background services and keep the port, so the next start failed with
"Connection in use". Each child therefore asks the kernel to kill it when its parent dies
(``PR_SET_PDEATHSIG``), and a new supervisor removes whatever an old one left running.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import time

PR_SET_PDEATHSIG = 1


def die_with_parent(expected_parent: int, sig: int = signal.SIGKILL) -> None:
    """Have the kernel send ``sig`` to this process when its parent dies.

    ``expected_parent`` closes the race where the parent died before the request was made:
    then this process is already an orphan and exits at once (0: do not check)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if expected_parent and os.getppid() != expected_parent:
        os.kill(os.getpid(), sig)


def children_of(pid: int) -> list[int]:
    """Direct children of ``pid`` (Linux /proc; empty when it is gone)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as fh:
            return [int(p) for p in fh.read().split()]
    except OSError:
        return []


def cmdline(pid: int) -> str:
    """The command line of ``pid`` ('' when it is gone)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def parent_of(pid: int) -> int:
    """The parent PID of ``pid`` (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def read_pid(path: str) -> int:
    """The PID a pid file names (0 when absent or unreadable)."""
    try:
        with open(path, encoding="ascii") as fh:
            return int(fh.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def remove_stale(pid_file: str, marker: str, owner: str, timeout: float = 5.0) -> int:
    """Kill the process tree ``pid_file`` names if it is still running, its command line
    holds ``marker`` and its parent is no longer an ``owner`` (a server an earlier
    supervisor left behind). Returns the PID (0: none).
    A server whose owner still runs is not stale: RuntimeError names the owner."""
    pid = read_pid(pid_file)
    if pid <= 1 or pid == os.getpid() or marker not in cmdline(pid):
        with contextlib.suppress(OSError):  # gone (or a zombie): gunicorn refuses the file
            os.unlink(pid_file)
        return 0
    parent = parent_of(pid)
    if parent > 1 and owner in cmdline(parent):
        raise RuntimeError(f"another server (pid {parent}) runs with {pid_file}")
    victims = [pid, *children_of(pid)]
    for victim in victims:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(marker in cmdline(v) for v in victims):
        time.sleep(0.05)
    with contextlib.suppress(OSError):
        os.unlink(pid_file)
    return pid
