"""Who may read pxehook's files: the one statement of their modes, and the check for loose ones.

The SQLite database (and its ``-wal``/``-shm``) holds the secret every deploy token is derived
from: only pxehook's user may read it. The DHCP hook runs as the DHCP daemon's account, which
shares a group with pxehook only to reach the spool: it may pass through the state directory
and write the spool, nothing else. Others get nothing.

SQLite creates ``-wal``, ``-shm`` and journals with the database file's own mode (it
``fchmod``s them to match), so the database file is created with its mode *before* SQLite
opens it; the process umask is left alone (it is shared by every thread, and nginx must still
read the pre-rendered files).
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterable

#: The database file (and, through SQLite, its -wal, -shm and journal): pxehook's user only.
DB_FILE = 0o600
#: pxehook's own directories (state_dir, the database's directory): the group may only pass
#: through (to reach the spool), never list or read; others nothing.
STATE_DIR = 0o710
#: The spool directory: the hook's group appends; setgid, so the files the hook creates keep
#: the directory's group and the ingester can read them.
SPOOL_DIR = 0o2770
#: Files next to the database that SQLite creates with the database's mode.
DB_COMPANIONS = ("", "-wal", "-shm", "-journal")


def make_dir(path: str | os.PathLike[str], mode: int) -> None:
    """Create ``path`` (and missing parents, as :data:`STATE_DIR`) with exactly ``mode``.

    An existing directory is left as it is (the operator may have chosen its mode);
    :func:`exposed` reports one that is open to others.
    """
    path = os.path.abspath(os.fspath(path))
    missing = []
    while not os.path.isdir(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    for i, folder in enumerate(reversed(missing)):
        want = mode if i == len(missing) - 1 else STATE_DIR
        try:
            os.mkdir(folder, want & 0o777)
        except FileExistsError:
            if os.path.isdir(folder):
                continue  # created meanwhile by another process: theirs to set
            raise
        os.chmod(folder, want)  # the umask must not widen or narrow it


def create_file(path: str | os.PathLike[str], mode: int) -> bool:
    """Create the empty file ``path`` with exactly ``mode`` unless it exists; True if created."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode & 0o777)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, mode)
    finally:
        os.close(fd)
    return True


def db_files(db_path: str) -> list[str]:
    """The database file and the companions SQLite created beside it that exist now."""
    return [db_path + suffix for suffix in DB_COMPANIONS if os.path.exists(db_path + suffix)]


def _who(mode: int) -> str:
    found = [who for who, bits in (("group", 0o070), ("others", 0o007)) if mode & bits]
    return " and ".join(found)


def exposed(secret_files: Iterable[str], dirs: Iterable[str] = ()) -> list[str]:
    """Warnings for secret files any account but pxehook's may open, and for directories
    others may enter; empty when all is tight. Missing paths are skipped."""
    out = []
    for path in secret_files:
        with contextlib.suppress(FileNotFoundError):
            mode = stat.S_IMODE(os.stat(path).st_mode)
            if mode & 0o077:
                out.append(
                    f"{path} is open to {_who(mode)} (mode {mode:04o}): it holds the "
                    f"secret deploy tokens are derived from; chmod {DB_FILE:o} {path}"
                )
    for path in dirs:
        with contextlib.suppress(FileNotFoundError):
            mode = stat.S_IMODE(os.stat(path).st_mode)
            if mode & 0o007:
                out.append(f"{path} is open to others (mode {mode:04o}); chmod o-rwx {path}")
    return out
