"""Follow a log file line by line, each line once, across rotation, truncation and restarts.

The position — (inode, offset, length and hash of the last line read) — is saved after the
caller has used the lines (:meth:`LogFollower.commit`), so a restart goes on where it stopped.

* **Rotation** (``mv access.log access.log.1`` then ``kill -USR1`` nginx): the writer keeps
  appending to the renamed file until it reopens, and flushes its buffer into it then. The
  follower keeps its file open and reads it to the end; only once that file has been quiet
  for ``grace`` seconds since the rename was seen does it switch to the new file, from its
  start. A restart finds a renamed file again by its inode among its siblings.
* **Truncation** (``copytruncate``, ``: > access.log``): the file is cut and grows again,
  perhaps past the old offset. The saved hash of the last line read no longer matches the
  bytes before the offset, so the follower knows; it finishes the old lines from the copy
  (a sibling holding that same last line at that offset), then reads the file from its start
  — never from the middle of a line, never skipping the lines written since the cut.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import time
from dataclasses import dataclass
from typing import BinaryIO

log = logging.getLogger("pxehook.boot.logfollow")

#: a renamed log is read until it has been quiet this long (the writer reopens on USR1)
ROTATE_GRACE = 1.0


@dataclass(frozen=True)
class Position:
    """Where reading stopped: ``tail`` is the hash of the ``tail_len`` bytes before
    ``offset`` (the last line read, with its newline)."""

    inode: int = 0
    offset: int = 0
    tail_len: int = 0
    tail: str = ""

    def line(self) -> str:
        return f"{self.inode} {self.offset} {self.tail_len} {self.tail}\n"


def _hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=8).hexdigest()


def _tail_matches(fh: BinaryIO, pos: Position) -> bool:
    """Do the bytes before ``pos.offset`` still end with the last line read?"""
    if pos.offset == 0 or not pos.tail:
        return True
    if pos.tail_len > pos.offset:
        return False
    return _hash(os.pread(fh.fileno(), pos.tail_len, pos.offset - pos.tail_len)) == pos.tail


class LogFollower:
    """Complete new lines of ``path``; the position is kept in ``state_file``."""

    def __init__(self, path: str, state_file: str, *, grace: float = ROTATE_GRACE) -> None:
        self.path, self.state_file, self.grace = path, state_file, grace
        self.pos = self._load()
        self.fh: BinaryIO | None = None
        self._committed = self.pos
        self._moved_at: float | None = None  # when ``path`` was first seen to be another file
        self._grew_at = 0.0

    # position ---------------------------------------------------------------------------
    def _load(self) -> Position:
        try:
            with open(self.state_file, encoding="ascii") as fh:
                parts = fh.read().split()
            if len(parts) == 2:  # written before the hash was kept: trust the offset
                return Position(int(parts[0]), int(parts[1]))
            return Position(int(parts[0]), int(parts[1]), int(parts[2]), parts[3])
        except (OSError, ValueError, IndexError):
            return Position()

    def commit(self) -> None:
        """Save the position after the lines read so far (call once they are used)."""
        if self.pos == self._committed:
            return
        os.makedirs(os.path.dirname(self.state_file) or ".", exist_ok=True)
        tmp = f"{self.state_file}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="ascii") as fh:
            fh.write(self.pos.line())
        os.replace(tmp, self.state_file)
        self._committed = self.pos

    def rewind(self) -> None:
        """Forget the lines read since the last commit: the next read returns them again."""
        if self.fh is not None and os.fstat(self.fh.fileno()).st_ino != self._committed.inode:
            self.close()  # read on into another file: reopen the committed one by its inode
        self.pos = self._committed

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()
            self.fh = None

    # reading ----------------------------------------------------------------------------
    def read(self, limit: int = 4 << 20) -> list[bytes]:
        """Up to about ``limit`` bytes of complete new lines (without their newline)."""
        if self.fh is None and not self._open():
            return []
        assert self.fh is not None
        self._check_truncated()
        lines = self._read_lines(limit)
        if not lines and self._switch_if_rotated():
            lines = self._read_lines(limit)
        return lines

    def _open(self) -> bool:
        """Open the file the saved position belongs to (found by inode if it was renamed)."""
        try:
            current = open(self.path, "rb")  # noqa: SIM115 - kept open while followed
        except FileNotFoundError:
            current = None
        saved = self.pos.inode
        if current is not None and os.fstat(current.fileno()).st_ino == saved:
            self.fh = current
            return True
        renamed = self._sibling(lambda st, _path: st.st_ino == saved) if saved else None
        if renamed is not None:
            log.info("%s: finishing the rotated file %s first", self.path, renamed.name)
            if current is not None:
                current.close()
            self.fh = renamed
            return True
        if current is None:
            return False
        if saved:
            log.warning("%s: the file read last (inode %d) is gone; reading the new one from "
                        "its start", self.path, saved)  # fmt: skip
        self.fh, self.pos = current, Position(os.fstat(current.fileno()).st_ino)
        return True

    def _sibling(self, wanted) -> BinaryIO | None:  # type: ignore[no-untyped-def]
        """Open the first file next to ``path`` for which ``wanted(stat, path)`` holds."""
        folder = os.path.dirname(os.path.abspath(self.path))
        with contextlib.suppress(OSError), os.scandir(folder) as entries:
            for entry in entries:
                with contextlib.suppress(OSError):
                    if entry.is_file(follow_symlinks=False) and wanted(entry.stat(), entry.path):
                        return open(entry.path, "rb")
        return None

    def _check_truncated(self) -> None:
        """The open file was cut (and maybe grew again): finish from a copy, then restart."""
        assert self.fh is not None
        st = os.fstat(self.fh.fileno())
        if st.st_size >= self.pos.offset and _tail_matches(self.fh, self.pos):
            return
        pos, inode = self.pos, st.st_ino

        def copy(other: os.stat_result, path: str) -> bool:
            if other.st_ino == inode or other.st_size < pos.offset or path.endswith(".gz"):
                return False
            with open(path, "rb") as fh:
                return _tail_matches(fh, pos)

        found = self._sibling(copy) if pos.offset else None
        if found is not None:
            log.warning("%s was truncated: reading its last lines from %s", self.path, found.name)
            self.fh.close()
            copied = os.fstat(found.fileno()).st_ino
            self.fh, self.pos = found, Position(copied, pos.offset, pos.tail_len, pos.tail)
            self._moved_at = time.monotonic() - self.grace  # a copy does not grow: no wait
            return
        log.warning("%s was truncated: reading it again from its start", self.path)
        self.pos = Position(inode)

    def _read_lines(self, limit: int) -> list[bytes]:
        assert self.fh is not None
        chunk = os.pread(self.fh.fileno(), limit, self.pos.offset)
        end = chunk.rfind(b"\n") + 1
        if end == 0 and len(chunk) == limit:
            end = limit  # no newline in ``limit`` bytes: not a log line, skipped whole
            log.warning("%s: %d bytes without a newline skipped", self.path, limit)
        if end == 0:
            return []
        lines = chunk[:end].split(b"\n")[:-1]
        last = end - (chunk.rfind(b"\n", 0, end - 1) + 1)
        offset = self.pos.offset + end
        self.pos = Position(self.pos.inode, offset, last, _hash(chunk[end - last : end]))
        self._grew_at = time.monotonic()
        return lines

    def _switch_if_rotated(self) -> bool:
        """At the end of a file that ``path`` no longer names: switch once it is quiet."""
        assert self.fh is not None
        try:
            current = os.stat(self.path).st_ino
        except FileNotFoundError:
            current = None  # renamed, the writer has not reopened yet: keep reading the old
        if current == os.fstat(self.fh.fileno()).st_ino:
            self._moved_at = None
            return False
        now = time.monotonic()
        self._moved_at = self._moved_at or now
        if current is None or now - max(self._moved_at, self._grew_at) < self.grace:
            return False
        self.close()
        self._moved_at = None
        return self._open_new()

    def _open_new(self) -> bool:
        try:
            fh = open(self.path, "rb")  # noqa: SIM115 - kept open while followed
        except FileNotFoundError:
            return False
        self.fh, self.pos = fh, Position(os.fstat(fh.fileno()).st_ino)
        return True
