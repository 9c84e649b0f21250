"""Hook path, web worker and CLI writing the same database at once lose nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pxehook.store import open_store

WRITER = Path(__file__).parent / "harness" / "store_writer.py"


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_parallel_writers_lose_no_write_and_never_see_locked(tmp_path, request, backend):
    if backend == "sqlite":
        db = f"sqlite:///{tmp_path}/shared.db"
    else:
        db = request.getfixturevalue("pg_server").new_database()
    open_store(db)  # create + migrate once, as `pxehook db init` does
    # thousands of writes on SQLite (the embedded default); fewer on PostgreSQL, where each
    # write is a network round trip and the point is the same: nothing lost, no lock errors
    scale = 1 if backend == "sqlite" else 3
    counts = {"hook": 1500 // scale, "web": 1500 // scale, "cli": 200 // scale}
    procs = {
        role: subprocess.Popen(
            [sys.executable, str(WRITER), role, db, str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for role, n in counts.items()
    }
    results = {}
    for role, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        results[role] = json.loads(out.strip().splitlines()[-1])
        assert "locked" not in err.lower()
    for role, n in counts.items():
        assert results[role] == {"role": role, "done": n, "errors": [], "n_errors": 0}

    store = open_store(db)
    hosts = store.host_list()
    by_prefix = {p: [h for h in hosts if h.mac.startswith(p)] for p in ("02:aa", "02:bb", "02:cc")}
    assert [len(by_prefix[p]) for p in ("02:aa", "02:bb", "02:cc")] == list(counts.values())
    assert all(h.arch == 7 and h.ip for h in by_prefix["02:aa"])
    assert all(len(store.events(h.id)) == 2 for h in by_prefix["02:bb"])  # discovered + boot
    assert sorted(int(h.vars["i"]) for h in by_prefix["02:cc"]) == list(range(counts["cli"]))
