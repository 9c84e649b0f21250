"""The append-only hook spool: parse records, remember how far they were applied, rotate.

Format: see ``hooks/pxehook-hook.c`` and docs/capture.md. The position is kept in
``<spool>.pos`` (JSON: byte offset plus a fingerprint of the file's first header, written
atomically and fsync'd), so a restarted ingester resumes exactly where it stopped and a new
spool file (after rotation) is recognised even when the file system reuses the inode.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pxehook import fsmodes

log = logging.getLogger("pxehook.capture.spool")

SPOOL_NAME = "hook.spool"
MAGIC = b"PXH1 "
HEADER_LEN = 23
_HEADER = re.compile(rb"PXH1 ([0-9a-f]{8}) ([0-9a-f]{8})\n")
#: Rotate a fully consumed spool once it is at least this big.
ROTATE_BYTES = 4 * 1024 * 1024


def spool_file(spool_dir: str | os.PathLike[str]) -> Path:
    """The spool the hooks append to inside ``spool_dir``."""
    return Path(spool_dir) / SPOOL_NAME


@dataclass(frozen=True)
class Record:
    """One hook invocation as written by the hook."""

    offset: int
    end: int
    at: float
    args: tuple[bytes, ...]
    env: dict[str, bytes] = field(default_factory=dict)
    truncated: bool = False
    crc: str = ""

    @property
    def rid(self) -> str:
        """A stable id for the record (time + checksum): de-duplicates a replay."""
        return f"{self.at:.6f}-{self.crc}"

    def arg(self, index: int) -> str:
        """argv[index + 1] as text (invalid bytes escaped), '' when absent."""
        if index >= len(self.args):
            return ""
        return self.args[index].decode("utf-8", "backslashreplace")


def parse_payload(offset: int, end: int, crc: str, payload: bytes) -> Record:
    """Decode the NUL-framed items of one record."""
    at, args, env, truncated = 0.0, [], {}, False
    for raw in payload.split(b"\x00")[:-1]:
        kind, text = raw[:1], raw[1:]
        if kind == b"t":
            with contextlib.suppress(ValueError):
                at = float(text)
        elif kind == b"a":
            args.append(text)
        elif kind == b"e" and b"=" in text:
            name, _, value = text.partition(b"=")
            env[name.decode("ascii", "replace")] = value
        elif kind == b"x":
            truncated = True
    return Record(offset, end, at, tuple(args), env, truncated, crc)


@dataclass
class Chunk:
    """What one read of the spool found."""

    records: list[Record]
    end: int  # offset after the last complete record (or skipped garbage)
    skipped: int = 0  # bytes of damaged data skipped
    partial: int = 0  # bytes of an incomplete record still being written at the tail


def parse(data: bytes, base: int = 0) -> Chunk:
    """Parse complete records from ``data`` (which starts at file offset ``base``).

    A damaged record (bad header or checksum: a torn write after a crash or a full disk)
    is skipped up to the next ``PXH1`` header and counted; an incomplete record at the
    end is left for the next read.
    """
    records: list[Record] = []
    pos, skipped = 0, 0
    while pos < len(data):
        match = _HEADER.match(data, pos)
        if match is None:
            if len(data) - pos < HEADER_LEN and MAGIC.startswith(data[pos : pos + 5]):
                break  # header still being written
            nxt = data.find(MAGIC, pos + 1)
            nxt = len(data) if nxt < 0 else nxt
            skipped += nxt - pos
            pos = nxt
            continue
        size, crc = int(match.group(1), 16), match.group(2).decode()
        start = pos + HEADER_LEN
        stop = start + size
        if stop + 1 > len(data):
            nxt = data.find(MAGIC, start)
            if nxt < 0:
                break  # incomplete tail: wait for the writer
            skipped += nxt - pos  # a later record started inside this one: torn write
            pos = nxt
            continue
        payload = data[start:stop]
        if data[stop : stop + 1] != b"\n" or f"{zlib.crc32(payload) & 0xFFFFFFFF:08x}" != crc:
            nxt = data.find(MAGIC, pos + 1)
            nxt = len(data) if nxt < 0 else nxt
            skipped += nxt - pos
            pos = nxt
            continue
        records.append(parse_payload(base + pos, base + stop + 1, crc, payload))
        pos = stop + 1
    return Chunk(records, base + pos, skipped, len(data) - pos)


@dataclass
class Position:
    """How far the spool was applied: byte offset + fingerprint of the file's first bytes."""

    offset: int = 0
    head: str = ""

    @classmethod
    def load(cls, path: Path) -> Position:
        try:
            data = json.loads(path.read_text())
            return cls(int(data["offset"]), str(data["head"]))
        except FileNotFoundError:
            return cls()
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("%s is damaged (%s): starting from the beginning of the spool", path, exc)
            return cls()

    def save(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "w", encoding="ascii") as fh:
            json.dump({"offset": self.offset, "head": self.head}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _head(data: bytes) -> str:
    return data[:HEADER_LEN].hex()


class Spool:
    """Reader side of one spool file: read new records, commit the position, rotate."""

    def __init__(self, spool_dir: str | os.PathLike[str], rotate_bytes: int = ROTATE_BYTES):
        self.path = spool_file(spool_dir)
        self.pos_path = self.path.with_name(self.path.name + ".pos")
        self.rotate_bytes = rotate_bytes
        self.rotations = 0
        fsmodes.make_dir(self.path.parent, fsmodes.SPOOL_DIR)
        self.position = Position.load(self.pos_path)

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[bool]:
        """Hold the ingester lock (``hook.spool.lock``) if free; yields whether we got it.

        Only one ingester (``pxehook serve`` or ``pxehook spool replay``) applies the spool at
        a time; each pass re-reads the saved position under this lock.
        """
        fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o660)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            self.position = Position.load(self.pos_path)
            yield True
        finally:
            os.close(fd)

    def _start(self, fh) -> int:  # type: ignore[no-untyped-def]
        """Offset to read from: the saved one when this is the same file, else 0."""
        first = fh.read(HEADER_LEN)
        size = os.fstat(fh.fileno()).st_size
        if not self.position.head or _head(first) != self.position.head:
            if self.position.offset:
                log.info("spool %s is a new file: reading it from the start", self.path)
            self.position = Position(0, _head(first) if len(first) == HEADER_LEN else "")
        if self.position.offset > size:
            log.warning("spool %s is shorter than the saved position: rereading", self.path)
            self.position = Position(0, _head(first))
        return self.position.offset

    def read(self, limit: int = 1 << 20) -> Chunk:
        """Complete records after the saved position (up to about ``limit`` bytes)."""
        try:
            fh = open(self.path, "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            return Chunk([], self.position.offset)
        with fh:
            offset = self._start(fh)
            fh.seek(offset)
            data = fh.read(limit)
        chunk = parse(data, offset)
        if len(data) == limit and not chunk.records and chunk.partial:
            chunk = parse(data + self._read_rest(offset + len(data)), offset)
        return chunk

    def _read_rest(self, offset: int) -> bytes:
        with open(self.path, "rb") as fh:
            fh.seek(offset)
            return fh.read()

    def commit(self, offset: int) -> None:
        """Durably record that everything before ``offset`` has been applied."""
        if not self.position.head:
            with contextlib.suppress(FileNotFoundError), open(self.path, "rb") as fh:
                self.position.head = _head(fh.read(HEADER_LEN))
        self.position.offset = offset
        self.position.save(self.pos_path)

    def pending_bytes(self) -> int:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return 0
        with open(self.path, "rb") as fh:
            start = self._start(fh)
        return max(0, size - start)

    def maybe_rotate(self) -> bool:
        """Unlink the spool when fully applied and big; writers then create a new one."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            if os.fstat(fd).st_size < self.rotate_bytes:
                return False
            if _head(os.pread(fd, HEADER_LEN, 0)) != self.position.head:
                return False  # not the file the saved position describes
            fcntl.flock(fd, fcntl.LOCK_EX)  # waits for hooks inside their write
            if os.fstat(fd).st_size != self.position.offset:
                return False  # something new arrived: apply it first
            os.unlink(self.path)
            self.position = Position()
            self.position.save(self.pos_path)
            self.rotations += 1
            log.info("rotated spool %s", self.path)
            return True
        finally:
            os.close(fd)
