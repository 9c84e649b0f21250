"""Wake a background service when named files change, and only then.

inotify (through watchdog) also reports opens and closes, including the ones the woken
service makes when it reads the file. Waking on those makes a service wake itself forever
(an idle ``pxehook serve`` once burned a core that way), so only events that can change
a file's content or name, and only for the watched names, reach the callback.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

#: Events that cannot change what a reader would see (metadata-only changes included).
READ_ONLY_EVENTS = frozenset({"opened", "closed_no_write", "attrib"})


def event_paths(event: FileSystemEvent) -> set[str]:
    """The absolute paths an event names (source, and destination for a move)."""
    paths = {os.path.abspath(os.fsdecode(event.src_path))}
    dest = getattr(event, "dest_path", "")
    if dest:
        paths.add(os.path.abspath(os.fsdecode(dest)))
    return paths


def is_change(event: FileSystemEvent, watched: set[str]) -> bool:
    """True when ``event`` may have changed one of the ``watched`` absolute paths."""
    if event.event_type == "events_lost":
        return True  # the kernel queue overflowed: anything may have changed
    if event.is_directory or event.event_type in READ_ONLY_EVENTS:
        return False
    return bool(event_paths(event) & watched)


class _Handler(FileSystemEventHandler):
    def __init__(self, watched: set[str], callback: Callable[[], None]) -> None:
        self.watched = watched
        self.callback = callback

    def on_any_event(self, event: FileSystemEvent) -> None:
        if is_change(event, self.watched):
            self.callback()


def watch_files(paths: Iterable[str | os.PathLike[str]], callback: Callable[[], None]):  # type: ignore[no-untyped-def]
    """Start one daemon observer per folder; call ``callback()`` when a file in ``paths``
    is written, created, deleted or renamed. Returns the observers (``stop()`` + ``join()``)."""
    watched = {os.path.abspath(os.fspath(p)) for p in paths}
    observers = []
    for folder in sorted({os.path.dirname(p) for p in watched}):
        if not os.path.isdir(folder):
            continue
        observer = Observer()
        observer.schedule(_Handler(watched, callback), folder, recursive=False)
        observer.daemon = True
        observer.start()
        observers.append(observer)
    return observers


def stop_all(observers: Iterable) -> None:  # type: ignore[type-arg]
    """Stop and join observers started by :func:`watch_files`."""
    for observer in observers:
        observer.stop()
        observer.join(timeout=5)
