"""What a transfer sends: a rendered config (bytes) or a file under ``tftp_root``.

Files are read block by block with ``pread`` and never memory-mapped: a loader truncated
or rewritten in place while a machine downloads it (what ``cp new.efi grubx64.efi`` does)
would make a mapped read raise SIGBUS and kill the whole process. A short read (the file
shrank) is noticed at once; the size and modification time are compared with those the
file had when the transfer began every ``CHECK_EVERY`` blocks and before the last block, so
a file rewritten in place never reaches a client as one complete file. A file that changed
raises ``SourceChanged`` and only that transfer ends. A file replaced by rename (``mv``,
``install``) is not a change: the transfer goes on with the file it opened.
"""

from __future__ import annotations

import os
import stat
import time
from typing import Protocol

#: blocks between two checks of the file's size and modification time (one ``fstat``)
CHECK_EVERY = 32


class SourceChanged(Exception):
    """The file changed while it was being sent."""


class Source(Protocol):
    size: int

    def read(self, offset: int, length: int) -> bytes: ...

    def close(self) -> None: ...


class BytesSource:
    """A body already in memory (a rendered config)."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.size = len(body)

    def read(self, offset: int, length: int) -> bytes:
        return self.body[offset : offset + length]

    def close(self) -> None:
        return None


class FileSource:
    """A regular file, open for the whole transfer."""

    def __init__(self, path: str) -> None:
        # O_NONBLOCK: a FIFO swapped in for the file must not block the server on open
        self.fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
        try:
            st = os.fstat(self.fd)
            if not stat.S_ISREG(st.st_mode):
                raise IsADirectoryError(path)
        except BaseException:
            os.close(self.fd)
            raise
        self.size = st.st_size
        self._stamp = (st.st_size, st.st_mtime_ns)
        self._reads = 0

    def read(self, offset: int, length: int) -> bytes:
        """``length`` bytes at ``offset`` (fewer at the end); SourceChanged when the file
        is no longer the one the transfer began with."""
        data = os.pread(self.fd, length, offset)
        self._reads += 1
        if len(data) != max(0, min(length, self.size - offset)):
            raise SourceChanged("file changed during transfer")
        if self._reads % CHECK_EVERY == 0 or offset + length >= self.size:
            st = os.fstat(self.fd)
            if (st.st_size, st.st_mtime_ns) != self._stamp:
                raise SourceChanged("file changed during transfer")
        return data

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class Root:
    """``tftp_root``: which file a cleaned relative path names, symlinks resolved and the
    result checked to stay under the root. Answers are kept for ``TTL`` seconds, so a burst
    of requests for one loader resolves it once."""

    TTL = 1.0
    KEEP = 4096  # names remembered at most (only names of existing files are)

    def __init__(self, path: str) -> None:
        self.path = os.path.realpath(path)
        self._known: dict[str, tuple[str, float]] = {}

    def resolve(self, relative: str) -> str | None:
        """The file's real path, or None when there is no such file under the root."""
        now = time.monotonic()
        known = self._known.get(relative)
        if known is not None and known[1] > now:
            return known[0]
        full = os.path.realpath(os.path.join(self.path, relative))
        if not full.startswith(self.path + os.sep) or not os.path.isfile(full):
            return None
        if len(self._known) >= self.KEEP:
            self._known.clear()
        self._known[relative] = (full, now + self.TTL)
        return full
