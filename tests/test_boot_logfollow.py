"""Following a log with real files: each line once, across rotation, cuts and restarts."""

from __future__ import annotations

import os
import time
from pathlib import Path

from pxehook.boot.logfollow import LogFollower


class Writer:
    """Appends like nginx: O_APPEND on one open file, which a rename does not change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fh = open(path, "ab", buffering=0)  # noqa: SIM115 - closed by the test's end

    def lines(self, tag: str, n: int) -> list[bytes]:
        out = [f"{tag}{i}".encode() for i in range(n)]
        self.fh.write(b"".join(line + b"\n" for line in out))
        return out

    def reopen(self) -> None:
        self.fh.close()
        self.fh = open(self.path, "ab", buffering=0)  # noqa: SIM115


def drain(follower: LogFollower, seconds: float = 0.5) -> list[bytes]:
    out: list[bytes] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        out += follower.read()
        follower.commit()
        time.sleep(0.02)
    return out


def test_a_restart_finds_the_rotated_file_by_inode_and_finishes_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    log, state = tmp_path / "access.log", str(tmp_path / "state" / "pos")
    writer = Writer(log)
    first = LogFollower(str(log), state, grace=0.1)
    written = writer.lines("a", 3)
    assert drain(first) == written
    first.close()  # pxehook stops; meanwhile the log is rotated
    late = writer.lines("b", 2)
    os.rename(log, tmp_path / "access.log-20261207")
    late += writer.lines("c", 2)  # the writer has not reopened yet
    writer.reopen()
    new = writer.lines("d", 2)
    again = LogFollower(str(log), state, grace=0.1)
    assert drain(again) == late + new


def test_a_cut_file_is_read_from_its_start_and_its_copy_finished(tmp_path) -> None:  # type: ignore[no-untyped-def]
    log, state = tmp_path / "access.log", str(tmp_path / "pos")
    writer = Writer(log)
    follower = LogFollower(str(log), state, grace=0.1)
    drain(follower, 0.1)
    writer.lines("a", 5)
    assert len(drain(follower, 0.1)) == 5
    unread = writer.lines("b", 4)
    (tmp_path / "access.log.1").write_bytes(log.read_bytes())  # copytruncate: copy, then cut
    os.truncate(log, 0)
    after = writer.lines("c-longer-than-before-", 30)
    assert drain(follower) == unread + after
    os.truncate(log, 0)  # cut again, no copy this time: from the start, never mid-line
    assert drain(follower, 0.1) == []
    written = writer.lines("d", 50)
    assert drain(follower) == written


def test_a_position_saved_before_the_hash_was_kept_is_still_used(tmp_path) -> None:  # type: ignore[no-untyped-def]
    log, state = tmp_path / "access.log", tmp_path / "pos"
    log.write_bytes(b"old1\nold2\n")
    state.write_text(f"{log.stat().st_ino} 5\n")  # inode and offset only
    with log.open("ab") as fh:
        fh.write(b"new1\n")
    assert drain(LogFollower(str(log), str(state)), 0.1) == [b"old2", b"new1"]


def test_a_line_without_end_is_not_read_until_it_ends(tmp_path) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "access.log"
    log.write_bytes(b"one\ntw")
    follower = LogFollower(str(log), str(tmp_path / "pos"))
    assert follower.read() == [b"one"] and follower.read() == []
    with log.open("ab") as fh:
        fh.write(b"o\n")
    assert follower.read() == [b"two"]
