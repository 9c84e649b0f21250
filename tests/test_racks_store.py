"""The store's parts of racks, against the real databases: every event names its rack, the
fleet's leader lock (PostgreSQL advisory lock, flock for SQLite), and the PostgreSQL change
feed (LISTEN/NOTIFY) that spares the hot path a query per request (docs/racks.md)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from pxehook.models import Observation, State
from pxehook.store import open_store
from pxehook.store.leader import FileLeaderLock, PostgresLeaderLock
from pxehook.store.pg_changes import APPLICATION, PostgresChanges
from pxehook.store.writes import HostPatch, HostWrite
from tests.harness.racks import wait_until


@pytest.fixture(params=["sqlite", "postgres"])
def database(request, tmp_path: Path) -> str:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/racks.db"
    return request.getfixturevalue("pg_server").new_database()


# --- the rack on every event ----------------------------------------------------------------
def test_every_event_names_the_rack_whose_store_wrote_it(database: str) -> None:
    a, b = open_store(database, rack="rack-a"), open_store(database, rack="rack-b")
    try:
        host, _ = a.observe(Observation(mac="52:54:00:00:00:01", source="dhcp", ip="192.0.2.5"))
        a.observe_many([Observation(mac="52:54:00:00:00:02", source="dhcp")])
        host = b.set_state(host.id, State.READY, source="api")
        b.host_writes([HostWrite(host_id=host.id, version=host.version,
                                 patch=HostPatch(vars={"k": "v"}), source="api")])  # fmt: skip
        a.event_add(host.id, "boot.config", "http", "served")
        b.event_add_many([(host.id, "boot.kernel", "tftp", "fetched", {}, time.time())])
        seen = [(e.kind, e.rack) for e in a.events(host.id)]
        assert seen[0] == ("host.discovered", "rack-a")
        assert ("state.changed", "rack-b") in seen
        assert ("host.updated", "rack-b") in seen
        assert seen[-2:] == [("boot.config", "rack-a"), ("boot.kernel", "rack-b")]
        assert all(rack for _, rack in seen), seen
        assert a.events(host.id)[0].as_dict()["rack"] == "rack-a"  # the API's JSON
    finally:
        a.close()
        b.close()


# --- the leader lock --------------------------------------------------------------------------
def _backend(dsn: str, application: str) -> list[int]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name=%s", (application,)
        ).fetchall()
    return [pid for (pid,) in rows]


def _terminate(dsn: str, application: str) -> None:
    """What an operator's pg_terminate_backend (or a pooler dropping a session) does."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for pid in _backend(dsn, application):
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))


def test_one_process_holds_the_postgres_leader_lock_and_loses_it_with_its_session(
    pg_server,  # type: ignore[no-untyped-def]
) -> None:
    dsn = pg_server.new_database()
    first, second = PostgresLeaderLock(dsn), PostgresLeaderLock(dsn)
    try:
        assert first.hold() and first.hold()  # taken, then confirmed
        assert not second.hold()
        _terminate(dsn, "pxehook-leader")  # the holder's session ends
        assert not first.hold(), "a holder whose session ended must know it lost the lock"
        # the server frees a lock when the session's backend has exited: soon, not at once
        wait_until(second.hold, 5, "the lock to be free once its session ended")
        assert not first.hold()
        second.release()
        wait_until(first.hold, 5, "the lock to be free once released")
    finally:
        first.release()
        second.release()


def test_the_postgres_leader_lock_is_free_once_its_holder_is_killed(pg_server) -> None:  # type: ignore[no-untyped-def]
    dsn = pg_server.new_database()
    holder = _holding_child(f"PostgresLeaderLock({dsn!r})")
    other = PostgresLeaderLock(dsn)
    try:
        assert not other.hold()
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=5)
        wait_until(other.hold, 5, "the lock to be free after SIGKILL")
    finally:
        other.release()


def test_the_sqlite_leader_lock_is_one_holder_per_file_and_dies_with_it(tmp_path: Path) -> None:
    path = str(tmp_path / "pxehook.db")
    holder = _holding_child(f"FileLeaderLock({path!r})")
    mine = FileLeaderLock(path)
    assert not mine.hold()
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=5)
    assert mine.hold()
    assert not FileLeaderLock(path).hold()
    mine.release()
    assert FileLeaderLock(path).hold()


def _holding_child(lock: str) -> subprocess.Popen[bytes]:
    """A separate process that takes ``lock`` and then sleeps until killed."""
    code = (
        "import sys, time\n"
        "from pxehook.store.leader import FileLeaderLock, PostgresLeaderLock\n"
        f"lock = {lock}\n"
        "assert lock.hold(), lock.error\n"
        "print('held', flush=True)\n"
        "time.sleep(600)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert child.stdout is not None and child.stdout.readline() == b"held\n"
    return child


# --- the change feed --------------------------------------------------------------------------
def _transactions(dsn: str) -> int:
    """Transactions PostgreSQL counted in this database (its own statistics)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database "
            "WHERE datname = current_database()"
        ).fetchone()
    return int(row[0])


def test_a_change_reaches_the_feed_without_a_query_per_call(pg_server) -> None:  # type: ignore[no-untyped-def]
    dsn = pg_server.new_database()
    writer, reader = open_store(dsn, rack="rack-a"), open_store(dsn, rack="rack-b")
    changes = PostgresChanges(lambda: reader, dsn)
    try:
        before = changes.generation()
        wait_until(lambda: changes.listening, 5, "the listener")
        writer.observe(Observation(mac="52:54:00:00:00:09", source="dhcp"))
        took = wait_until(lambda: changes.generation() > before, 2, "the change at rack B")
        print(f"a change at rack A reached rack B's feed in {took * 1000:.0f} ms")
        assert changes.generation() == writer.generation()
        # an unchanged fleet: thousands of boot requests, no transaction for any of them
        time.sleep(1.2)  # PostgreSQL flushes backends' counts at most once a second
        counted = _transactions(dsn)
        for _ in range(5000):
            changes.generation()
        time.sleep(1.2)
        spent = _transactions(dsn) - counted
        assert spent <= 3, f"{spent} transactions for 5000 unchanged-fleet requests"
    finally:
        changes.close()
        writer.close()
        reader.close()


def test_the_feed_answers_while_its_listener_is_down_and_recovers(pg_server) -> None:  # type: ignore[no-untyped-def]
    dsn = pg_server.new_database()
    writer = open_store(dsn, rack="rack-a")
    changes = PostgresChanges(lambda: writer, dsn)
    try:
        changes.generation()
        wait_until(lambda: changes.listening, 5, "the listener")
        _terminate(dsn, APPLICATION)  # the listener's session is gone
        wait_until(lambda: not changes.listening, 5, "the listener to notice")
        writer.observe(Observation(mac="52:54:00:00:00:0a", source="dhcp"))
        # no listener: polling still brings the change
        wait_until(lambda: changes.generation() == writer.generation(), 2, "a poll")
        wait_until(lambda: changes.listening, 10, "the listener to reconnect")
        writer.observe(Observation(mac="52:54:00:00:00:0b", source="dhcp"))
        wait_until(lambda: changes.generation() == writer.generation(), 2, "a notification")
    finally:
        changes.close()
        writer.close()


def test_the_feed_works_in_a_forked_worker_without_touching_the_parents_listener(
    pg_server,  # type: ignore[no-untyped-def]
) -> None:
    dsn = pg_server.new_database()
    writer = open_store(dsn, rack="rack-a")
    changes = PostgresChanges(lambda: writer, dsn)
    try:
        changes.generation()
        wait_until(lambda: changes.listening, 5, "the parent's listener")
        pid = os.fork()
        if pid == 0:  # the worker: its own listener, its own connection
            code = 1
            try:
                start = changes.generation()
                deadline = time.monotonic() + 5
                while not changes.listening and time.monotonic() < deadline:
                    time.sleep(0.05)
                own = open_store(dsn, rack="worker")
                own.observe(Observation(mac="52:54:00:00:00:0c", source="dhcp"))
                while changes.generation() == start and time.monotonic() < deadline:
                    time.sleep(0.05)
                code = 0 if changes.listening and changes.generation() > start else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert changes.listening, "the worker must not have closed the parent's connection"
        writer.observe(Observation(mac="52:54:00:00:00:0d", source="dhcp"))
        wait_until(lambda: changes.generation() == writer.generation(), 2, "the parent's feed")
    finally:
        changes.close()
        writer.close()
