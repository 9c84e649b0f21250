"""Has the fleet changed since? The one question the resolver asks on every boot request.

The store's ``generation`` grows with every change that may change a boot answer (hosts,
profiles, states; never the timeline). Every cache of boot answers is keyed by it, so
asking must cost next to nothing:

* SQLite (``SQLiteChanges``): a connection of this process's own, read-only, outside the
  store's pool. ``PRAGMA data_version`` on it tells without touching a table whether any
  other connection committed anything since it last looked (a few microseconds, no
  transaction); only then is the generation read again, on the same connection, in one
  statement (no BEGIN/COMMIT). The timeline's own batches also move data_version, so under
  load the generation is read about once per timeline batch, not once per request.
* PostgreSQL (``store.pg_changes.PostgresChanges``): the generation kept in memory, moved
  by LISTEN/NOTIFY, polled while the listener is down (docs/racks.md).
* An in-memory database (``PolledChanges``): the store's ``generation()`` on each request.

No staleness: a change committed before a request starts is seen by that request.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable
from typing import Protocol

from pxehook.store import Store, sqlite_path
from pxehook.store.pg_changes import PostgresChanges
from pxehook.store.sql_records import GENERATION_QUERY


class Changes(Protocol):
    """What the resolver's caches ask (one per process, thread-safe)."""

    def generation(self) -> int:
        """The store's generation now: equal to an earlier answer iff nothing changed."""
        ...


class PolledChanges:
    """The generation read through the store on every call (any database)."""

    def __init__(self, store: Callable[[], Store]) -> None:
        self.store = store

    def generation(self) -> int:
        return self.store().generation()


class SQLiteChanges:
    """The generation, re-read only when SQLite says another connection committed."""

    def __init__(self, store: Callable[[], Store], path: str) -> None:
        self.fallback = PolledChanges(store)
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._version = -1
        self._generation = -1
        self._lock = threading.Lock()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():  # never use one across fork
            uri = f"file:{self.path}?mode=ro"
            self._conn = sqlite3.connect(
                uri, uri=True, isolation_level=None, check_same_thread=False
            )
            self._pid, self._version = os.getpid(), -1
        return self._conn

    def generation(self) -> int:
        with self._lock:
            try:
                conn = self._connection()
                version = int(conn.execute("PRAGMA data_version").fetchone()[0])
                if version != self._version:
                    row = conn.execute(GENERATION_QUERY).fetchone()
                    self._generation, self._version = int(row[0]) if row else 0, version
                return self._generation
            except sqlite3.Error:  # not there yet, locked schema change, …: ask the store
                self._conn = None
                return self.fallback.generation()


def changes_for(store: Callable[[], Store], database: str) -> Changes:
    """The cheapest change feed for the ``database`` setting."""
    path = sqlite_path(database)
    if path is None:
        return PostgresChanges(store, database)
    if path == ":memory:":
        return PolledChanges(store)
    return SQLiteChanges(store, path)
