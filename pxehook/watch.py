"""Re-read the YAML inventory when it changes (watchdog), keeping the last good one on error."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from . import inventory
from .errors import ConfigError
from .store import Store

log = logging.getLogger("pxehook.watch")


class InventoryWatcher(FileSystemEventHandler):
    """Watch one inventory file; sync each good version into the store.

    Editors replace files in many ways (write in place, write-and-rename, delete-and-create),
    so the watcher observes the parent directory and reacts to any event naming the file.
    A short debounce collapses the bursts one save produces.
    """

    def __init__(
        self,
        path: str,
        store: Store,
        *,
        debounce: float = 0.2,
        on_error: Callable[[ConfigError], None] | None = None,
    ) -> None:
        self.path = os.path.abspath(path)
        self.store = store
        self.debounce = debounce
        self.on_error = on_error
        self.last_error: ConfigError | None = None
        self.loads = 0
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self._observer: Observer | None = None  # type: ignore[valid-type]

    def load_now(self) -> bool:
        """Parse and sync the file once. Returns True when it was good."""
        try:
            inv = inventory.load(self.path)
            inventory.sync(inv, self.store)
        except ConfigError as exc:
            self.last_error = exc
            log.error("inventory not applied, last good version stays in force: %s", exc)
            if self.on_error:
                self.on_error(exc)
            return False
        self.last_error = None
        self.loads += 1
        log.info("inventory %s applied", self.path)
        return True

    def on_any_event(self, event: FileSystemEvent) -> None:
        paths = {os.path.abspath(str(event.src_path))}
        dest = getattr(event, "dest_path", "")
        if dest:
            paths.add(os.path.abspath(str(dest)))
        if self.path not in paths or event.event_type in ("opened", "closed_no_write"):
            return
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(self.debounce, self.load_now)
            self._timer.daemon = True
            self._timer.start()

    def start(self) -> None:
        """Load once, then watch the file's directory in a background thread."""
        self.load_now()
        observer = Observer()
        observer.schedule(self, os.path.dirname(self.path), recursive=False)
        observer.daemon = True
        observer.start()
        self._observer = observer

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
