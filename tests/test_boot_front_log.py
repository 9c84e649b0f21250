"""The nginx front's access log rotated and truncated under a real nginx: no hit lost.

``pxehook serve`` is held with SIGSTOP while the log is rotated or cut and hits arrive, so
its ingester meets the file exactly as a slow or busy one would; nginx keeps serving.
"""

from __future__ import annotations

import os
import shutil
import signal
import time

import pytest

from tests.conftest import require_tool
from tests.front_server import NODE02, Front, wait_for

pytestmark = pytest.mark.daemon

HIT = "/ipxe/52-54-00-12-34-02"


@pytest.fixture(scope="module")
def front(tmp_path_factory):  # type: ignore[no-untyped-def]
    require_tool("nginx", "curl")
    running = Front(tmp_path_factory.mktemp("frontlog"))
    yield running
    running.stop()


def hits(front: Front, n: int) -> None:
    assert front.fetch(*[HIT] * n) == [200] * n


def recorded_after(front: Front, before: int, expected: int) -> int:
    """Hits recorded since ``before``, once ``expected`` arrived (or the wait ran out),
    then a little longer: nothing may be recorded twice either."""
    wait_for(lambda: len(front.recorded(NODE02)) - before >= expected, timeout=20)
    time.sleep(1.0)
    return len(front.recorded(NODE02)) - before


def settled(front: Front) -> int:
    """Recorded hits once the ingester has caught up with everything sent so far."""
    last = -1
    while (now := len(front.recorded(NODE02))) != last:
        last = now
        time.sleep(1.0)
    return now


def test_logrotate_mv_then_usr1_loses_no_hit(front) -> None:  # type: ignore[no-untyped-def]
    """Before: the ingester jumped to the new file and lost what nginx had written to the
    renamed one since it last read (and flushed there on USR1): 400 of these 550."""
    hits(front, 50)
    before = settled(front)
    front.supervisor(signal.SIGSTOP)
    try:
        hits(front, 200)
        time.sleep(0.5)  # nginx flushes its log buffer every 200 ms
        os.rename(front.log, front.work / "access.log.1")
        hits(front, 200)  # still written to the renamed file
        front.reopen_logs()
        assert wait_for(front.log.exists)
        hits(front, 150)
        time.sleep(0.5)
    finally:
        front.supervisor(signal.SIGCONT)
    assert recorded_after(front, before, 550) == 550


def test_a_truncated_log_that_grew_again_is_read_from_its_start(front) -> None:  # type: ignore[no-untyped-def]
    """Before: the file was longer than the old offset again, so the ingester went on from
    there: it skipped the first new lines and began in the middle of one."""
    hits(front, 100)
    before = settled(front)
    front.supervisor(signal.SIGSTOP)
    try:
        os.truncate(front.log, 0)  # ': > access.log'
        hits(front, 300)
        time.sleep(0.5)
    finally:
        front.supervisor(signal.SIGCONT)
    assert recorded_after(front, before, 300) == 300


def test_copytruncate_loses_no_hit_written_before_the_copy(front) -> None:  # type: ignore[no-untyped-def]
    hits(front, 20)
    before = settled(front)
    front.supervisor(signal.SIGSTOP)
    try:
        hits(front, 120)
        time.sleep(0.5)
        shutil.copyfile(front.log, front.work / "access.log.2")  # logrotate copytruncate
        os.truncate(front.log, 0)
        hits(front, 80)
        time.sleep(0.5)
    finally:
        front.supervisor(signal.SIGCONT)
    assert recorded_after(front, before, 200) == 200
