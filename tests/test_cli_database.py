"""Only ``db init`` and the servers create a database; read commands refuse a missing one.

Before: ``host list --database <typo>`` created an empty database there and printed an
empty fleet with exit 0.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.mark.parametrize(
    "args",
    [
        ("host", "list"),
        ("host", "show", "52:54:00:00:00:01"),
        ("profile", "list"),
        ("db", "status"),
        ("db", "migrate"),
        ("token", "list"),
    ],
)
def test_read_commands_refuse_a_missing_database(cli, tmp_path: Path, args) -> None:  # type: ignore[no-untyped-def]
    typo = tmp_path / "pxehok.db"
    result = cli("--database", f"sqlite:///{typo}", *args)
    assert result.code != 0 and result.out == "", result
    assert result.err.splitlines() == [
        f"pxehook: error: database {typo} does not exist (run 'pxehook db init')"
    ]
    assert not typo.exists() and list(tmp_path.glob("pxehok.db*")) == []


def test_an_empty_file_is_not_a_database_to_read(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    empty = tmp_path / "empty.db"
    empty.touch()
    result = cli("--database", f"sqlite:///{empty}", "host", "list")
    assert result.code != 0 and "has no pxehook schema" in result.err, result
    assert len(result.err.splitlines()) == 1


def test_db_init_creates_and_then_reads_work(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "new" / "pxehook.db"
    url = f"sqlite:///{path}"
    assert cli("--database", url, "db", "init", "--no-inventory").code == 0
    listed = cli("--database", url, "host", "list", "--json")
    assert (listed.code, listed.out.strip()) == (0, "[]"), listed
