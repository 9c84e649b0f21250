"""The ingester: applies the hook spool to the store, in order, off the DHCP path.

Records are applied strictly in spool order (so per-MAC order holds). The position is
committed durably after each batch; when the store is locked or unreachable the ingester
stops at that record and retries later, so nothing is lost or reordered. After a crash at
most one batch may be re-read; those records are de-duplicated by their record id.

Runs as a background service of ``pxehook serve`` (watchdog on the spool directory plus
a periodic poll) and by ``pxehook spool replay``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from pxehook.capture.apply import apply_sighting
from pxehook.capture.readers import from_record
from pxehook.capture.spool import Spool
from pxehook.errors import StoreError
from pxehook.fswatch import stop_all, watch_files
from pxehook.store import Store

log = logging.getLogger("pxehook.capture.ingest")

BATCH = 200
POLL_SECONDS = 2.0
MAX_BACKOFF = 2.0


@dataclass
class Pass:
    """What one pass over the spool did."""

    records: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    skipped_bytes: int = 0
    blocked: str = ""  # store error that stopped the pass ('' = none)
    more: bool = False  # records remain (batch limit or blocked)


class Ingester:
    """Reads ``<spool_dir>/hook.spool`` and applies it to ``store``."""

    def __init__(self, store: Store, spool_dir: str, *, batch: int = BATCH) -> None:
        self.store = store
        self.spool = Spool(spool_dir)
        self.batch = batch
        self._dedupe_left = batch  # records that may have been applied before a restart
        self.totals: Counter[str] = Counter()

    def run_once(self) -> Pass:
        """Apply up to ``batch`` records; commit the position; rotate when done."""
        with self.spool.exclusive() as mine:
            if not mine:
                return Pass(blocked="another ingester is applying the spool", more=True)
            return self._pass()

    def _pass(self) -> Pass:
        result = Pass()
        chunk = self.spool.read()
        result.skipped_bytes = chunk.skipped
        if chunk.skipped:
            log.warning("spool: skipped %d damaged bytes", chunk.skipped)
        end = chunk.records[0].offset if chunk.records else chunk.end
        for n, rec in enumerate(chunk.records):
            if n >= self.batch:
                result.more = True
                break
            try:
                for sighting in from_record(rec):
                    outcome = apply_sighting(self.store, sighting, dedupe=self._dedupe_left > 0)
                    result.outcomes[outcome] += 1
            except StoreError as exc:
                result.blocked, result.more = str(exc), True
                break
            except Exception:  # a poison record must not stop the queue
                log.exception("spool record at offset %d could not be applied", rec.offset)
                result.outcomes["failed"] += 1
            self._dedupe_left = max(0, self._dedupe_left - 1)
            result.records += 1
            end = rec.end
        else:
            end = chunk.end  # includes skipped damaged bytes
        if end != self.spool.position.offset:
            self.spool.commit(end)
        if not result.more and not chunk.partial:
            self.spool.maybe_rotate()
        self.totals.update(result.outcomes)
        self.totals["records"] += result.records
        self.totals["blocked"] += bool(result.blocked)
        return result

    def drain(self, timeout: float = 60.0) -> Pass:
        """Apply everything pending (retrying a locked store) until done or ``timeout``."""
        total = Pass()
        deadline = time.monotonic() + timeout
        delay = 0.2
        while True:
            one = self.run_once()
            total.records += one.records
            total.outcomes.update(one.outcomes)
            total.skipped_bytes += one.skipped_bytes
            total.blocked = one.blocked
            if not one.more or time.monotonic() >= deadline:
                total.more = one.more
                return total
            if one.blocked:
                time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
                delay = min(delay * 2, MAX_BACKOFF)
            else:
                delay = 0.2


class IngestService:
    """Background thread: wakes on spool changes (watchdog) or every POLL_SECONDS."""

    name = "spool-ingester"

    def __init__(self, store: Store, spool_dir: str, poll: float = POLL_SECONDS) -> None:
        self.ingester = Ingester(store, spool_dir)
        self.poll = poll
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._observers: list = []
        #: Passes run so far (an idle service must not keep counting: tests check it).
        self.passes = 0

    def start(self) -> None:
        self._observers = watch_files([self.ingester.spool.path], self._wake.set)
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        stop_all(self._observers)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        delay = 0.2
        while not self._stop.is_set():
            self.passes += 1
            try:
                result = self.ingester.run_once()
            except Exception:  # disk errors etc.: log, retry later, never die
                log.exception("spool ingest pass failed")
                result = Pass(blocked="error", more=True)
            if result.blocked:
                log.warning("store unavailable, will retry: %s", result.blocked)
                self._stop.wait(delay)
                delay = min(delay * 2, MAX_BACKOFF)
                continue
            delay = 0.2
            if result.more:
                continue
            self._wake.wait(self.poll)
            self._wake.clear()
