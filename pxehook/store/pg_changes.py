"""The store's generation on PostgreSQL, without a query per boot request: LISTEN/NOTIFY.

A transaction that grows the generation NOTIFYs ``GENERATION_CHANNEL`` at commit with the new
value (``PostgresDialect.generation_moved``). :class:`PostgresChanges` keeps the generation
in memory; a thread of its own LISTENs on a dedicated connection and moves it, so
``generation()`` is a memory read while the listener is up. A change made at any rack then
reaches every rack's answers as fast as PostgreSQL delivers the notification.

While the listener is down (starting, the database restarting, the session killed) it
reconnects with a back-off, and ``generation()`` polls the store instead, at most once per
``poll_every`` seconds and never more than one caller at a time: the others get the last
value seen. When the database does not answer, that last value stays in force (stale but
safe: answers stay those of the last state seen; docs/racks.md). Safe across ``fork``
(gunicorn workers): a process that did not start the listener starts its own on first use,
and never touches the connection of the process it was forked from.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from pxehook.errors import StoreError
from pxehook.store.base import Store
from pxehook.store.pgdriver import pg
from pxehook.store.postgres import GENERATION_CHANNEL

log = logging.getLogger("pxehook.store.changes")

#: while the listener is down: seconds between polls of the store
POLL_EVERY = 0.5
#: seconds without a notification after which the listener checks its connection
KEEPALIVE = 5.0
#: the listener's longest wait between reconnection attempts (seconds)
MAX_BACKOFF = 5.0
#: shown in pg_stat_activity for the listener's connection
APPLICATION = "pxehook-changes"


class PostgresChanges:
    """The generation, moved by NOTIFY; polled while the listener is down."""

    def __init__(
        self, store: Callable[[], Store], dsn: str, *, poll_every: float = POLL_EVERY,
        keepalive: float = KEEPALIVE,
    ) -> None:  # fmt: skip
        self.store = store
        self.dsn = dsn
        self.poll_every = poll_every
        self.keepalive = keepalive
        self._generation = -1
        self._listening = False
        self._polled_at = -poll_every
        self._poll = threading.Lock()
        self._start = threading.Lock()
        self._pid = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def listening(self) -> bool:
        """True while notifications keep the generation current."""
        return self._listening and self._pid == os.getpid()

    def generation(self) -> int:
        """The store's generation now (the last one seen while the database is away)."""
        if self._pid != os.getpid():
            self._start_listener()
        if self._listening:
            return self._generation
        if self._poll.acquire(blocking=False):  # one poller; the others use the last value
            try:
                if time.monotonic() - self._polled_at >= self.poll_every:
                    self._polled_at = time.monotonic()
                    self._generation = self.store().generation()
            except StoreError as exc:
                log.debug("generation not read (%s): the last one seen stays in force", exc)
            finally:
                self._poll.release()
        return self._generation

    def close(self) -> None:
        """Stop the listener (it ends at its next wake-up)."""
        self._stop.set()

    # the listener -----------------------------------------------------------------------
    def _start_listener(self) -> None:
        with self._start:
            if self._pid == os.getpid():
                return
            # a fork's copy: the parent's thread and connection are not ours
            self._pid, self._listening, self._polled_at = os.getpid(), False, -self.poll_every
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=self._listen, args=(self._stop,), name="pxehook-changes", daemon=True
            )
            self._thread.start()

    def _listen(self, stop: threading.Event) -> None:
        backoff = 0.2
        while not stop.is_set():
            try:
                with self._connect() as conn:
                    conn.execute(f"LISTEN {GENERATION_CHANNEL}")
                    self._generation = _read(conn)  # after LISTEN: no change falls between
                    self._listening, backoff = True, 0.2
                    log.info("listening for generation changes")
                    while not stop.is_set():
                        for note in conn.notifies(timeout=self.keepalive):
                            self._generation = int(note.payload)
                        self._generation = _read(conn)  # quiet for a while: still there?
            except (pg().Error, ValueError) as exc:
                if self._listening:
                    log.warning("generation listener lost (%s): polling meanwhile", _line(exc))
            finally:
                self._listening = False
            stop.wait(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    def _connect(self) -> Any:
        return pg().connect(
            self.dsn, autocommit=True, connect_timeout=3, application_name=APPLICATION,
            keepalives=1, keepalives_idle=2, keepalives_interval=1, keepalives_count=3,
            tcp_user_timeout=3000,
        )  # fmt: skip


def _read(conn: Any) -> int:
    row = conn.execute("SELECT value FROM server_values WHERE key='generation'").fetchone()
    return int(row[0]) if row else 0


def _line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
