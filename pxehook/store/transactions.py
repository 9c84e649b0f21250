"""Running one transaction: a connection per thread and process, and the retry loop.

Which errors are worth another try, and what to report otherwise, is the dialect's call;
the loop is written once.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from pxehook.store.dialect import Dialect, Retry, Tx

T = TypeVar("T")

#: how often a transaction that lost a race for a unique key is run in all
RACE_ATTEMPTS = 4


class Transactions:
    """Runs functions in transactions on ``dialect``'s database."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._local = threading.local()

    def connection(self) -> Any:
        """This thread's connection, opened again after ``fork`` or a broken link."""
        local = self._local
        conn = getattr(local, "conn", None)
        if conn is not None and local.pid == os.getpid() and self.dialect.is_open(conn):
            return conn
        conn = self.dialect.connect()
        local.conn, local.pid = conn, os.getpid()
        return conn

    def close(self) -> None:
        """Close this thread's connection (the next transaction opens a new one)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def run(self, fn: Callable[[Tx], T], *, write: bool) -> T:
        """``fn`` in one transaction, run again while the database says "try later";
        a driver error leaves as the dialect's StoreError or Conflict."""
        dialect = self.dialect
        deadline = time.monotonic() + max(dialect.busy_timeout_ms, 100) / 1000
        delay, attempt = 0.005, 0
        while True:
            attempt += 1
            try:
                with dialect.transaction(self.connection(), write=write) as cursor:
                    return fn(Tx(cursor, dialect))
            except dialect.error as exc:
                retry = dialect.retry(exc)
                if (retry is Retry.BUSY and time.monotonic() < deadline) or (
                    retry is Retry.RACE and attempt < RACE_ATTEMPTS
                ):
                    time.sleep(delay)
                    delay = min(delay * 2, 0.1)
                    continue
                if dialect.broken(exc):
                    self.close()
                raise dialect.translate(exc) from None
