"""``pxehook db backup``: a consistent SQLite copy taken while another process writes, that
restores (the database replaced by it opens, migrates and shows what the copy held)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from pxehook.models import Host
from pxehook.store import open_store

# A writer in its own process: each transaction appends a pair of events to one host.
WRITER = textwrap.dedent(
    """
    import sys, time
    from pxehook.store import open_store
    store = open_store(sys.argv[1])
    host_id, stop = int(sys.argv[2]), time.monotonic() + float(sys.argv[3])
    print("go", flush=True)
    n = 0
    while time.monotonic() < stop:
        store.event_add_many([(host_id, "boot.config", "w", f"pair {n}", {"pad": "x" * 500},
                               time.time())] * 2)
        n += 1
    print(n, flush=True)
    """
)


def test_backup_while_writing_is_consistent_and_restores(cli, store, env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    host = store.host_put(Host(id=None, macs=("52:54:00:00:20:01",), name="busy"), source="t")
    store.event_add_many([(host.id, "boot.config", "t", "", None, 1.0)] * 2000)
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, env["PXEHOOK_DATABASE"], str(host.id), "4"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert writer.stdout is not None and writer.stdout.readline().strip() == "go"
    copies = []
    for i in range(3):
        time.sleep(0.3)
        out = cli("db", "backup", str(tmp_path / f"copy{i}.db"))
        assert out.code == 0, out
        assert "schema" in out.out
        copies.append(tmp_path / f"copy{i}.db")
    pairs = int(writer.communicate(timeout=60)[0].strip())
    assert writer.returncode == 0 and pairs > 0

    counts = []
    for copy in copies:
        assert stat.S_IMODE(os.stat(copy).st_mode) == 0o600
        assert not Path(f"{copy}-wal").exists()  # a single self-contained file
        restored = open_store(f"sqlite:///{copy}", create=False)
        n = len(restored.events(host.id))
        restored.close()
        assert n % 2 == 1, n  # host.created + whole pairs: never half a transaction
        counts.append(n)
    assert counts == sorted(counts) and counts[0] > 2001  # taken while the writer wrote

    # restore: the server stopped, the copy put in place of the database and its WAL
    database = env["PXEHOOK_DATABASE"][len("sqlite:///") - 1 :]
    store.close()
    for suffix in ("", "-wal", "-shm"):
        Path(database + suffix).unlink(missing_ok=True)
    shutil.copy(copies[1], database)
    shown = cli("host", "events", "busy", "--last", "1", "--json")
    assert shown.code == 0, shown
    status = cli("db", "status", "--json")
    assert json.loads(status.out)["hosts"] == 1
    reopened = open_store(env["PXEHOOK_DATABASE"], create=False)
    assert len(reopened.events(host.id)) == counts[1]
    reopened.close()


def test_backup_refuses_to_overwrite_or_replace_itself(cli, store, env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "b.db"
    target.write_text("precious")
    out = cli("db", "backup", str(target))
    assert out.code != 0 and "exists (--force replaces it)" in out.err
    assert target.read_text() == "precious"
    assert cli("db", "backup", "--force", str(target)).code == 0
    assert open_store(f"sqlite:///{target}", create=False).schema_version() > 0
    itself = env["PXEHOOK_DATABASE"][len("sqlite:///") - 1 :]
    same = cli("db", "backup", "--force", itself)
    assert same.code != 0 and "cannot replace the database itself" in same.err
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".pxehook-backup")] == []


def test_backup_of_postgres_points_at_pg_dump(cli) -> None:  # type: ignore[no-untyped-def]
    out = cli("db", "backup", "x.db", extra_env={"PXEHOOK_DATABASE": "postgresql:///pxehook"})
    assert out.code != 0 and "pg_dump" in out.err
    assert not Path("x.db").exists()
