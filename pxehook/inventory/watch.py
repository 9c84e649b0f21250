"""Re-read the YAML inventory when it changes (watchdog), keeping the last good one on error."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

from pxehook.errors import ConfigError
from pxehook.fswatch import stop_all, watch_files
from pxehook.inventory import apply
from pxehook.store import Store

log = logging.getLogger("pxehook.inventory.watch")


class InventoryWatcher:
    """Watch one inventory file; sync each good version into the store.

    Editors replace files in many ways (write in place, write-and-rename, delete-and-create),
    so the watcher observes the parent directory and reacts to any event naming the file.
    A short debounce collapses the bursts one save produces. Each apply is incremental
    (``apply.sync_file``): a save that changed a few hosts parses and writes those hosts.
    """

    def __init__(
        self,
        path: str,
        store: Store,
        *,
        debounce: float = 0.2,
        dir_poll: float = 2.0,
        on_error: Callable[[ConfigError], None] | None = None,
    ) -> None:
        self.path = os.path.abspath(path)
        self._folder = os.path.dirname(self.path)
        self.dir_poll = dir_poll
        self._stopping = threading.Event()
        self.store = store
        self.debounce = debounce
        self.on_error = on_error
        self.last_error: ConfigError | None = None
        self.loads = 0
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self._applying = threading.Lock()
        self._observers: list = []
        self._first: threading.Thread | None = None

    def load_now(self) -> bool:
        """Parse and sync the file once (one apply at a time). Returns True when it was good."""
        with self._applying:
            return self._load()

    def _load(self) -> bool:
        if not os.path.exists(self.path):
            # a fresh machine: no inventory yet is no error (hosts may come by API); the
            # watched directory reports the file when it is created
            log.info("inventory %s does not exist (yet): watching for it", self.path)
            self.last_error = None
            return False
        try:
            outcome = apply.sync_file(self.path, self.store)
        except ConfigError as exc:
            self.last_error = exc
            log.error("inventory not applied, last good version stays in force: %s", exc)
            if self.on_error:
                self.on_error(exc)
            return False
        self.last_error = None
        self.loads += 1
        counts = outcome.counts()
        log.info(
            "inventory %s applied: %d created, %d updated, %d unchanged",
            self.path, counts["created"], counts["updated"], counts["unchanged"],
        )  # fmt: skip
        for note in outcome.notes:
            log.warning("inventory: %s", note)
        return True

    def changed(self) -> None:
        """The file was written or replaced: load it once the burst of events settles."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(self.debounce, self.load_now)
            self._timer.daemon = True
            self._timer.start()

    def start(self) -> None:
        """Watch the file's directory, and load the file once in a thread of its own: the
        store holds the last good inventory already, so serving need not wait for a large
        apply (a file as last applied takes no time at all). A directory that does not
        exist yet (``/etc/pxehook`` on a fresh machine) is looked for every
        ``dir_poll`` seconds until it appears, then watched."""
        self._stopping.clear()
        target = self._watch if os.path.isdir(self._folder) else self._await_folder
        self._first = threading.Thread(target=target, name="inventory-load", daemon=True)
        self._first.start()

    def _watch(self) -> None:
        if self._stopping.is_set():
            return
        self._observers = watch_files([self.path], self.changed)
        self.load_now()

    def _await_folder(self) -> None:
        log.info("inventory directory %s does not exist (yet): waiting for it", self._folder)
        while not self._stopping.wait(self.dir_poll):
            if os.path.isdir(self._folder):
                self._watch()
                return

    def alive(self) -> bool:
        """Still watching, or waiting for the directory? (The first apply runs in a thread
        of its own that ends.)"""
        if not self._observers:
            return self._first is not None and self._first.is_alive()
        return all(
            o.is_alive() and all(e.is_alive() for e in getattr(o, "emitters", ()))
            for o in self._observers
        )

    def wait_loaded(self, timeout: float | None = None) -> None:
        """Wait for the first load ``start`` began."""
        if self._first is not None:
            self._first.join(timeout)

    def stop(self) -> None:
        self._stopping.set()
        stop_all(self._observers)
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
