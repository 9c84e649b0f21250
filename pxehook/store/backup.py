"""``pxehook db backup``: a consistent copy of an SQLite database while pxehook serves.

SQLite's online backup API (``sqlite3.Connection.backup``, no ``sqlite3`` binary) copies
the database in one step under a read transaction: a snapshot of one moment, whatever the
writers do meanwhile (WAL mode lets them go on). The copy is written beside its
destination under a temporary name, checked, then renamed into place: a failed or
interrupted backup never leaves a half file under the name asked for. PostgreSQL is backed
up with its own tools (``pg_dump``), which this refuses to stand in for.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from dataclasses import dataclass

from pxehook import fsmodes
from pxehook.errors import ConfigError, InvalidInput, StoreError
from pxehook.store import sqlite_path

PG_DUMP_ADVICE = (
    "the database is PostgreSQL: back it up with its own tools, e.g. "
    "'pg_dump --format=custom --file=pxehook.dump DBNAME' (restore: pg_restore --clean)"
)


@dataclass(frozen=True)
class Backup:
    """What a backup wrote."""

    path: str
    size: int
    schema: int


def backup(database: str, destination: str, *, force: bool = False) -> Backup:
    """Copy the SQLite database ``database`` (a URL or path) to the file ``destination``
    (mode 0600; an existing file only with ``force``)."""
    source = sqlite_path(database)
    if source is None:
        raise ConfigError(PG_DUMP_ADVICE)
    if source == ":memory:" or not os.path.isfile(source):
        raise InvalidInput(f"no database file at {source}")
    target = os.path.abspath(destination)
    if os.path.isdir(target):
        raise InvalidInput(f"{destination} is a directory: name the backup file")
    if os.path.exists(target) and not force:
        raise InvalidInput(f"{destination} exists (--force replaces it)")
    if os.path.realpath(target) == os.path.realpath(source):
        raise InvalidInput("the backup cannot replace the database itself")
    fd, temp = tempfile.mkstemp(prefix=".pxehook-backup-", dir=os.path.dirname(target))
    os.fchmod(fd, fsmodes.DB_FILE)
    os.close(fd)
    try:
        schema = _copy(source, temp)
        os.replace(temp, target)
    except BaseException:
        os.unlink(temp)
        raise
    return Backup(target, os.path.getsize(target), schema)


def _copy(source: str, temp: str) -> int:
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(temp)
    try:
        src.backup(dst)  # pages=-1: one step, one snapshot
        dst.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
        ok = dst.execute("PRAGMA integrity_check").fetchone()[0]
        if ok != "ok":
            raise StoreError(f"the copy failed its integrity check: {ok}")
        return int(dst.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.Error as exc:
        raise StoreError(f"backup of {source} failed: {exc}") from exc
    finally:
        dst.close()
        src.close()
