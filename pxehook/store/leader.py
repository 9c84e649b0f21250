"""The fleet's leader lock: held by one process of all those sharing a database, and lost
with that process.

Several ``pxehook serve`` (racks) share one database; work done once per fleet (inventory
apply, the life-cycle sweep, pruning) runs only where this lock is held. PostgreSQL: a
session advisory lock on a connection of its own, so it goes when the holder's session
goes (process killed, host gone: PostgreSQL ends the session when TCP says so, within the
keepalive set here). SQLite: ``flock`` on a file beside the database (one host only), gone
when the holding process exits however it dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from typing import Any, Protocol

from pxehook.store.pgdriver import pg

#: the advisory lock key ("pxld"); the migration lock is another key
LEADER_KEY = 0x70786C64
#: how long the lock's connection may go unanswered before it counts as lost (seconds);
#: PostgreSQL drops a vanished holder's session after about as long
LOST_AFTER = 3


class LeaderLock(Protocol):
    """One per process that wants to lead."""

    #: why the last try failed ("" when the database answered)
    error: str

    def hold(self) -> bool:
        """Take the lock if free, or check that we still hold it; True while held. Never
        raises: a database that does not answer means "not held"."""

    def release(self) -> None:
        """Give the lock up (and its connection)."""


class PostgresLeaderLock:
    """``pg_try_advisory_lock`` on a dedicated connection; checked with a query each time."""

    def __init__(self, dsn: str, *, connect_timeout: int = LOST_AFTER) -> None:
        self.dsn = dsn
        self.connect_timeout = connect_timeout
        self.error = ""
        self._conn: Any = None
        self._held = False
        self._pid = os.getpid()

    def _connect(self) -> Any:
        lost_ms = LOST_AFTER * 1000
        conn = pg().connect(
            self.dsn, autocommit=True, connect_timeout=self.connect_timeout,
            keepalives=1, keepalives_idle=1, keepalives_interval=1, keepalives_count=LOST_AFTER,
            tcp_user_timeout=lost_ms, application_name="pxehook-leader",
        )  # fmt: skip
        # the server side gives up on a silent holder as fast (TCP only; no-ops on a socket)
        conn.execute(f"SET statement_timeout = {lost_ms}")
        conn.execute("SET tcp_keepalives_idle = 1")
        conn.execute("SET tcp_keepalives_interval = 1")
        conn.execute(f"SET tcp_keepalives_count = {LOST_AFTER}")
        return conn

    def hold(self) -> bool:
        if self._pid != os.getpid():  # a fork's copy: the parent holds it, not us
            self._conn, self._held, self._pid = None, False, os.getpid()
        try:
            if self._conn is None or self._conn.closed or self._conn.broken:
                self._drop()
                self._conn = self._connect()
            if self._held:
                self._conn.execute("SELECT 1").fetchone()  # the session lives: still ours
            else:
                row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (LEADER_KEY,))
                self._held = bool(row.fetchone()[0])
            self.error = ""
        except pg().Error as exc:
            self.error = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            self._drop()
        return self._held

    def _drop(self) -> None:
        conn, self._conn, self._held = self._conn, None, False
        if conn is not None:
            with contextlib.suppress(pg().Error):
                conn.close()

    def release(self) -> None:
        if self._pid == os.getpid():
            self._drop()


class FileLeaderLock:
    """``flock`` on ``<database>.leader``: for SQLite (all its processes share one host)."""

    def __init__(self, path: str) -> None:
        self.path = path + ".leader"
        self.error = ""
        self._fd: int | None = None

    def hold(self) -> bool:
        if self._fd is not None:
            return True
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            self.error = f"{self.path}: {exc.strerror}"
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            self.error = ""
            return False
        self._fd, self.error = fd, ""
        return True

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor releases the lock
