"""Running one transaction: a bounded pool of connections shared by all threads, and the
retry loop.

A transaction borrows a connection for its length and gives it back, so a process holds
at most ``pool_size`` connections however many threads it runs (a TFTP server answering
256 machines at once holds ``pool_size``, not 256). A caller that finds every connection
in use waits up to ``busy_timeout_ms``, then gets a StoreError ("all N database
connections are busy") — a 503 on HTTP, an ERROR packet on TFTP. Connections unused for
``idle_timeout`` seconds are closed; a connection inherited across ``fork`` is never used.
Which errors are worth another try, and what to report otherwise, is the dialect's call;
the loop is written once.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pxehook.config.table import BY_NAME
from pxehook.errors import StoreError
from pxehook.store.dialect import Dialect, Retry, Tx

T = TypeVar("T")

#: how often a transaction that lost a race for a unique key is run in all
RACE_ATTEMPTS = 4


@dataclass(frozen=True)
class PoolSettings:
    """How many connections a process may hold (``db_pool_size``) and how long an unused
    one stays open (``db_pool_idle_timeout``, seconds)."""

    size: int = BY_NAME["db_pool_size"].default
    idle_timeout: float = BY_NAME["db_pool_idle_timeout"].default


DEFAULT_POOL = PoolSettings()


class Pool:
    """At most ``size`` connections to ``dialect``'s database, lent one at a time."""

    def __init__(self, dialect: Dialect, size: int, idle_timeout: float) -> None:
        self.dialect = dialect
        self.size = size
        self.idle_timeout = idle_timeout
        self._cond = threading.Condition()
        self._idle: list[tuple[Any, float]] = []  # (connection, returned at), newest last
        self._open = 0
        self._pid = os.getpid()
        self._reaper: threading.Thread | None = None

    def acquire(self, deadline: float) -> Any:
        """A connection (an idle one, else a new one while fewer than ``size`` are open);
        StoreError when none is free before ``deadline`` (``time.monotonic()``)."""
        with self._cond:
            self._after_fork()
            while True:
                if self._idle:
                    conn, _ = self._idle.pop()
                    if self.dialect.is_open(conn):
                        return conn
                    self._discard(conn)
                    continue
                if self._open < self.size:
                    self._open += 1
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise StoreError(
                        f"{self.dialect.label}: all {self.size} database connections of this "
                        f"process are busy (waited {self.dialect.busy_timeout_ms} ms)",
                        hint="raise db_pool_size (within the database's max_connections)",
                    )
                self._cond.wait(remaining)
        try:
            conn = self.dialect.connect()
        except BaseException:
            with self._cond:
                self._open -= 1
                self._cond.notify()
            raise
        self._start_reaper()
        return conn

    def release(self, conn: Any, *, broken: bool = False) -> None:
        """Give ``conn`` back (closed instead when ``broken``)."""
        with self._cond:
            if self._pid != os.getpid():
                return  # borrowed before a fork: the parent's, not ours
            if broken or not self.dialect.is_open(conn):
                self._discard(conn)
            else:
                self._idle.append((conn, time.monotonic()))
            self._cond.notify()

    def close_idle(self, older_than: float = 0.0) -> int:
        """Close idle connections returned more than ``older_than`` seconds ago."""
        limit = time.monotonic() - older_than
        with self._cond:
            if self._pid != os.getpid():
                return 0
            stale = [conn for conn, at in self._idle if at <= limit]
            self._idle = [(conn, at) for conn, at in self._idle if at > limit]
            for conn in stale:
                self._discard(conn)
            return len(stale)

    @property
    def in_use(self) -> int:
        return self._open - len(self._idle)

    def _discard(self, conn: Any) -> None:
        self._open -= 1
        with contextlib.suppress(self.dialect.error):  # already broken: nothing to close
            conn.close()

    def _after_fork(self) -> None:
        if self._pid != os.getpid():  # the parent's connections are not ours to use or close
            self._idle, self._open, self._pid, self._reaper = [], 0, os.getpid(), None

    def _start_reaper(self) -> None:
        with self._cond:
            if self._reaper is not None:
                return
            self._reaper = threading.Thread(
                target=_reap, args=(weakref.ref(self),), name="pxehook-db-idle", daemon=True
            )
            self._reaper.start()

    def reap(self) -> bool:
        """Close connections idle longer than ``idle_timeout``; False (and the reaper
        ends) once none is open."""
        self.close_idle(self.idle_timeout)
        with self._cond:
            if self._open == 0 or self._pid != os.getpid():
                self._reaper = None
                return False
            return True


def _reap(ref: weakref.ref[Pool]) -> None:
    """The reaper thread: runs while the pool lives and has connections open."""
    while True:
        pool = ref()
        if pool is None or not pool.reap():
            return
        interval = max(0.05, pool.idle_timeout / 2)
        del pool  # no strong reference while asleep
        time.sleep(interval)


class Transactions:
    """Runs functions in transactions on ``dialect``'s database."""

    def __init__(self, dialect: Dialect, pool: PoolSettings = DEFAULT_POOL) -> None:
        self.dialect = dialect
        self.pool = Pool(dialect, pool.size, pool.idle_timeout)

    def close(self) -> None:
        """Close the idle connections (the next transaction opens a new one)."""
        self.pool.close_idle()

    def run(self, fn: Callable[[Tx], T], *, write: bool) -> T:
        """``fn`` in one transaction, run again while the database says "try later";
        a driver error leaves as the dialect's StoreError or Conflict."""
        dialect = self.dialect
        deadline = time.monotonic() + max(dialect.busy_timeout_ms, 100) / 1000
        delay, attempt = 0.005, 0
        while True:
            attempt += 1
            conn, broken = None, False
            try:
                conn = self.pool.acquire(deadline)  # a failed connect is retried alike
                with dialect.transaction(conn, write=write) as cursor:
                    return fn(Tx(cursor, dialect))
            except dialect.error as exc:
                retry = dialect.retry(exc)
                if not (
                    (retry is Retry.BUSY and time.monotonic() < deadline)
                    or (retry is Retry.RACE and attempt < RACE_ATTEMPTS)
                ):
                    broken = dialect.broken(exc)
                    raise dialect.translate(exc) from None
            finally:
                if conn is not None:
                    self.pool.release(conn, broken=broken)
            time.sleep(delay)  # the connection is back in the pool meanwhile
            delay = min(delay * 2, 0.1)
