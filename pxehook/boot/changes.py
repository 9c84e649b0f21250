"""Has anything that changes a boot answer changed? Asked on every boot request, cheaply.

The store's ``generation`` grows with every such change, but reading it is a transaction
(a third of a cached answer's cost). On SQLite, ``PRAGMA data_version`` on a connection of
our own tells without touching a table whether any other connection committed anything
since we last looked; only then is the generation read again. The timeline's own writes
also move data_version, so under load the generation is read once per timeline batch, not
once per request. Other databases read the generation each time.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable

from pxehook.store import Store, sqlite_path


class Changes:
    """The store's generation, re-read only when the database may have changed."""

    def __init__(self, store: Callable[[], Store], database: str) -> None:
        self.store = store
        self.path = sqlite_path(database)
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._version: int | None = None
        self._generation = -1
        self._lock = threading.Lock()

    def _data_version(self) -> int | None:
        """SQLite's data_version on our own connection (None: not SQLite, or unusable)."""
        if self.path is None:
            return None
        try:
            if self._conn is None:
                uri = f"file:{self.path}?mode=ro"
                self._conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
            return int(self._conn.execute("PRAGMA data_version").fetchone()[0])
        except sqlite3.Error:
            self._conn = None
            return None

    def generation(self) -> int:
        with self._lock:
            version = self._data_version()
            if version is None or version != self._version:
                self._generation = self.store().generation()
                self._version = version
            return self._generation
