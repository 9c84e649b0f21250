"""Timeline writes off the request path: events queued, written in batches by one thread.

A boot request costs a queue put instead of a write transaction (two gunicorn workers
fighting over SQLite's write lock made every request wait for the busy handler). The
writer flushes every ``interval`` seconds or ``batch`` rows, then calls
the resolver's ``BootHooks.on_boot_event`` for each recorded hit, and drains the queue at exit.

Every event it gets comes from a request of that host, so a batch also moves the hosts'
``last_seen`` (DHCP alone cannot be trusted to: pxehook may not see the DHCP traffic), but
coarsely: in the batch's transaction, and only where it is more than ``SEEN_EVERY``
seconds old (a host booting in a storm costs at most one row write a minute; the write is
not a change of the host: no version, no generation, no cache dropped).

While the database cannot take a batch (unreachable, locked past its busy time-out), the
rows are held and written with the next batch that gets through, retried with a back-off of
1 s doubling to 30 s: a database outage loses no boot event (docs/racks.md). At most
``HOLD_MAX`` rows are held; beyond that the oldest go, counted as ``boot_write_failed``.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
from typing import Any

from pxehook import counters
from pxehook.boot.hooks import BootHooks
from pxehook.context import Context
from pxehook.errors import StoreError
from pxehook.models import Host

log = logging.getLogger("pxehook.boot")

Row = tuple[Host, str, str, str, dict[str, Any], float, bool]

#: A boot request moves ``last_seen`` only if it is older than this many seconds.
SEEN_EVERY = 60.0
#: Hosts whose last touch a process remembers (then it forgets them all at once).
SEEN_MEMORY = 200_000
#: Rows held per process while the database cannot take them (then the oldest go).
HOLD_MAX = 50_000
#: Seconds between tries to write held rows: from the first, doubling up to the last.
RETRY_FIRST, RETRY_MOST = 1.0, 30.0


class EventRecorder:
    """Per-process batch writer (re-created after fork)."""

    def __init__(
        self, ctx: Context, hooks: BootHooks, *, interval: float = 0.02, batch: int = 2000
    ) -> None:
        self.ctx = ctx
        self.hooks = hooks
        self.interval = interval
        self.batch = batch
        self._queue: queue.SimpleQueue[Row] = queue.SimpleQueue()
        self._pid = 0
        self._lock = threading.Lock()
        self._pending = 0
        self._idle = threading.Condition()
        self._seen: dict[int, float] = {}  # host id -> last_seen this process wrote
        self._held: list[Row] = []  # rows the database could not take yet (writer thread)
        self._retry_at = 0.0
        self._backoff = 0.0

    def add(
        self, host: Host, kind: str, source: str, message: str, data: dict, *, hook: bool = True
    ) -> None:
        """Queue one event; ``hook`` also calls on_boot_event after it is written."""
        self._ensure_thread()
        with self._idle:
            self._pending += 1
        self._queue.put((host, kind, source, message, data, time.time(), hook))

    def _ensure_thread(self) -> None:
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid != os.getpid():
                self._queue = queue.SimpleQueue()
                self._pending = 0
                self._seen = {}
                threading.Thread(target=self._run, name="pxehook-events", daemon=True).start()
                atexit.register(self.flush)
                self._pid = os.getpid()

    def _drain(self, first: Row | None) -> list[Row]:
        rows = [first] if first else []
        while len(rows) < self.batch:
            try:
                rows.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return rows

    def _write(self, rows: list[Row]) -> None:
        if not rows and not self._held:
            return
        try:
            if self._held and time.monotonic() < self._retry_at:
                self._hold(rows)  # the database was away a moment ago: no try per batch
                return
            batch, self._held = self._held + rows, []
            try:
                self._store(batch)
                self._backoff = 0.0
            except StoreError as exc:
                self._backoff = min(max(self._backoff * 2, RETRY_FIRST), RETRY_MOST)
                self._retry_at = time.monotonic() + self._backoff
                self._hold(batch)
                log.warning("%d boot events held, next try in %.0f s: %s",
                            len(self._held), self._backoff, exc)  # fmt: skip
        except Exception:  # the timeline must never take a boot down
            log.exception("recording %d boot events failed", len(rows))
        finally:
            with self._idle:
                self._pending -= len(rows)
                self._idle.notify_all()

    def _store(self, rows: list[Row]) -> None:
        """One transaction for ``rows`` (events and ``last_seen``), then their hooks."""
        touches = self._touches(rows)
        self.ctx.store().event_add_many(
            [(h.id, k, s, m, d, at) for h, k, s, m, d, at, _ in rows if h.id is not None],
            seen=touches,
        )
        self._seen.update((host_id, at) for host_id, at, _older in touches)
        for host, kind, _s, _m, data, _at, hook in rows:
            if hook:
                self.hooks.on_boot_event(host, kind, data)

    def _hold(self, rows: list[Row]) -> None:
        self._held.extend(rows)
        if len(self._held) > HOLD_MAX:
            dropped = len(self._held) - HOLD_MAX
            del self._held[:dropped]
            counters.count("boot_write_failed", dropped)

    def _touches(self, rows: list[Row]) -> list[tuple[int, float, float]]:
        """(host id, at, older) for each host of ``rows`` whose ``last_seen`` (as read, or
        as this process last wrote it) is more than ``SEEN_EVERY`` seconds before its
        latest event here; the store checks the row's own value again."""
        latest: dict[int, tuple[Host, float]] = {}
        for host, _k, _s, _m, _d, at, _h in rows:
            if host.id is not None and at > latest.get(host.id, (host, 0.0))[1]:
                latest[host.id] = (host, at)
        if len(self._seen) > SEEN_MEMORY:
            self._seen.clear()  # bounded: at worst one more write per host
        touches = []
        for host_id, (host, at) in latest.items():
            known = max(host.last_seen or 0.0, self._seen.get(host_id, 0.0))
            if at - known > SEEN_EVERY:
                touches.append((host_id, at, at - SEEN_EVERY))
        return touches

    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=1.0)
            except queue.Empty:
                if self._held:
                    self._write([])  # the held rows' next try, when due
                continue
            time.sleep(self.interval)  # let a batch gather
            self._write(self._drain(first))

    def flush(self, timeout: float = 10.0) -> None:
        """Block until everything queued so far is written (tests, explain, exit)."""
        if self._pid != os.getpid():
            return
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending > 0 and time.monotonic() < deadline:
                self._idle.wait(0.05)
