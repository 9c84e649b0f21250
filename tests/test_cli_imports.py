"""A command against a SQLite database does not import PostgreSQL's driver (issue 13: it
cost ~180 ms of every command's start-up)."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
from pxehook.cli import main
for args in (["db", "init"], ["host", "list"]):
    try:
        main(["--database", sys.argv[1], *args])
    except SystemExit as exc:
        assert not exc.code, exc.code
print("psycopg" in sys.modules)
"""


def test_a_sqlite_command_never_imports_psycopg(tmp_path) -> None:  # type: ignore[no-untyped-def]
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, f"sqlite:///{tmp_path}/pxehook.db"],
        capture_output=True, text=True, timeout=60, check=True,
        env={"PATH": "/usr/bin:/bin", "PXEHOOK_STATE_DIR": str(tmp_path / "state")},
    )  # fmt: skip
    assert done.stdout.strip().splitlines()[-1] == "False", done.stdout + done.stderr
