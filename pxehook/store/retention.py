"""How long the timeline keeps events, and pruning it: ``pxehook db prune`` and the pruner
``pxehook serve`` runs in the background.

Which events may go is the store's rule (``sql_prune.py``): older than ``max_age_days`` or
beyond a host's newest ``per_host``, except its state changes since the start of its
``keep_deployments``-th newest deployment. Here the database is walked in small batches:
each read picks at most ``BATCH`` events (a read transaction: no writer waits for it),
each delete is one short write transaction, with a pause between so that the hook
ingester, the boot recorder and the API get the database in between.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pxehook.config import Settings
from pxehook.errors import PxehookError
from pxehook.store.base import Store

log = logging.getLogger("pxehook.retention")

#: Events one read picks and one delete transaction removes.
BATCH = 500
#: Hosts one read of the count pass looks at.
HOST_BATCH = 200
DAY = 86400.0


@dataclass(frozen=True)
class Retention:
    """The retention settings: 0 turns a limit off."""

    max_age_days: int = 90
    per_host: int = 1000
    keep_deployments: int = 3

    @classmethod
    def from_settings(cls, settings: Settings) -> Retention:
        return cls(
            max_age_days=settings.event_retention_days,
            per_host=settings.event_retention_per_host,
            keep_deployments=settings.event_keep_deployments,
        )

    @property
    def active(self) -> bool:
        return bool(self.max_age_days or self.per_host)

    def describe(self) -> str:
        age = f"{self.max_age_days} days" if self.max_age_days else "no age limit"
        count = f"{self.per_host} per host" if self.per_host else "no count limit"
        return f"{age}, {count}, state changes of the last {self.keep_deployments} deployments"


@dataclass
class Pruned:
    """What one prune did (or, dry, would do)."""

    by_age: int = 0
    by_count: int = 0
    seconds: float = 0.0
    #: the newest event id when the prune started: the next count pass starts there
    high_water: int = 0
    dry_run: bool = False
    stopped: bool = False

    @property
    def total(self) -> int:
        return self.by_age + self.by_count

    def as_dict(self) -> dict[str, Any]:
        return {"by_age": self.by_age, "by_count": self.by_count, "total": self.total,
                "seconds": round(self.seconds, 3), "dry_run": self.dry_run}  # fmt: skip


@dataclass
class _Walk:
    store: Store
    rule: Retention
    dry_run: bool
    pause: float
    stop: Callable[[], bool]
    result: Pruned = field(default_factory=Pruned)

    def drop(self, ids: list[int]) -> int:
        if self.dry_run or not ids:
            return len(ids)
        gone = self.store.events_delete(ids)
        if self.pause:
            time.sleep(self.pause)
        return gone


def prune(
    store: Store, rule: Retention, *, now: float | None = None, since_id: int = 0,
    dry_run: bool = False, pause: float = 0.0, stop: Callable[[], bool] = lambda: False,
) -> Pruned:  # fmt: skip
    """Remove (``dry_run``: count) the events ``rule`` lets go; ``since_id``: the count
    pass looks only at hosts with events newer than it (a previous prune's high water)."""
    started = time.monotonic()
    walk = _Walk(store, rule, dry_run, pause, stop)
    walk.result.dry_run = dry_run
    walk.result.high_water = int(store.event_stats(count=False)["last_id"])
    moment = time.time() if now is None else now
    older_than = moment - rule.max_age_days * DAY if rule.max_age_days else None
    if older_than is not None:
        _by_age(walk, older_than)
    if rule.per_host:
        _by_count(walk, older_than, since_id)
    walk.result.stopped = stop()
    walk.result.seconds = time.monotonic() - started
    return walk.result


def _by_age(walk: _Walk, older_than: float) -> None:
    cursor: tuple[float, int] | None = None
    while not walk.stop():
        ids, cursor = walk.store.events_aged(
            older_than, walk.rule.keep_deployments, after=cursor, limit=BATCH
        )
        walk.result.by_age += walk.drop(ids)
        if cursor is None:
            return


def _by_count(walk: _Walk, older_than: float | None, since_id: int) -> None:
    rule, after_host = walk.rule, 0
    while not walk.stop():
        hosts = walk.store.event_hosts_over(
            rule.per_host, not_older_than=older_than, since_id=since_id, after_host=after_host,
            limit=HOST_BATCH,
        )  # fmt: skip
        for host_id in hosts:
            after: int | None = 0
            while after is not None and not walk.stop():
                ids, after = walk.store.events_beyond(
                    host_id, rule.per_host, rule.keep_deployments, not_older_than=older_than,
                    after_id=after, limit=BATCH,
                )  # fmt: skip
                walk.result.by_count += walk.drop(ids)
        if len(hosts) < HOST_BATCH:
            return
        after_host = hosts[-1]


class Pruner:
    """The background prune of ``pxehook serve``: one pass soon after start, then one every
    ``interval`` seconds; each pass after the first looks at the count limit only for
    hosts with new events."""

    name = "event-pruner"

    def __init__(
        self, store: Store, rule: Retention, interval: float, *, first_delay: float = 30.0,
        pause: float = 0.02,
    ) -> None:  # fmt: skip
        self.store, self.rule, self.interval = store, rule, interval
        self.first_delay, self.pause = first_delay, pause
        self.high_water = 0
        self.last: Pruned | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)

    def start(self) -> None:
        log.info("pruning the timeline every %ds: %s", self.interval, self.rule.describe())
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def alive(self) -> bool:
        return self._thread.is_alive()

    def run_once(self) -> Pruned:
        result = prune(
            self.store, self.rule, since_id=self.high_water, pause=self.pause,
            stop=self._stop.is_set,
        )  # fmt: skip
        if not result.stopped:
            self.high_water = result.high_water
        self.last = result
        if result.total:
            log.info(
                "pruned %d timeline events (%d by age, %d by count) in %.1fs",
                result.total, result.by_age, result.by_count, result.seconds,
            )  # fmt: skip
        return result

    def _run(self) -> None:
        wait = self.first_delay
        while not self._stop.wait(wait):
            wait = self.interval
            try:
                self.run_once()
            except PxehookError as exc:  # the database away for a while: try next time
                log.warning("pruning the timeline failed: %s", exc)
