"""SQLite: the embedded default.

Safe for the DHCP hook, several gunicorn workers and the CLI writing at once: WAL journal,
a busy timeout, every write in ``BEGIN IMMEDIATE`` (one writer at a time, so no row locks
are needed) with a bounded retry, connections from the store's per-process pool (never
used across ``fork``). The SQL itself is ``SQLStore``'s.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ClassVar

from pxehook import fsmodes
from pxehook.errors import Conflict, PxehookError, StoreError
from pxehook.store.dialect import Dialect, Retry, Tx
from pxehook.store.leader import FileLeaderLock, LeaderLock
from pxehook.store.sql import SQLStore
from pxehook.store.transactions import DEFAULT_POOL, PoolSettings

#: the change counter (``server_values`` 'host_changes'), read and moved by one stamped write
_CHANGES = "(SELECT CAST(value AS INTEGER) FROM server_values WHERE key = 'host_changes')"
_BUMP = (
    "UPDATE server_values SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) "
    "WHERE key = 'host_changes'"
)


def _stamp(table: str) -> str:
    """The trigger body stamping the written row ``NEW`` with the moved counter."""
    return f"{_BUMP};\n  UPDATE {table} SET changed = {_CHANGES} WHERE id = NEW.id;"  # noqa: S608


class SQLiteDialect(Dialect):
    """One SQLite file."""

    error = sqlite3.Error
    placeholder = "?"
    for_update = ""
    column_types: ClassVar[Mapping[str, str]] = {
        "id": "INTEGER PRIMARY KEY AUTOINCREMENT",
        "ref": "INTEGER",
        "real": "REAL",
        "json": "TEXT",
        "now": "((julianday('now') - 2440587.5) * 86400.0)",
    }

    def __init__(self, path: str, *, busy_timeout_ms: int = 5000) -> None:
        self.path = path
        self.label = f"database {path}"
        self.busy_timeout_ms = busy_timeout_ms

    def connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout_ms / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.OperationalError as exc:
            raise self._cannot_open(exc) from None
        try:
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}")
            journal_mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if journal_mode != "wal" and self.path != ":memory:":
                raise StoreError(f"database {self.path}: cannot switch to WAL (got {journal_mode})")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.OperationalError as exc:
            conn.close()
            raise self._cannot_open(exc) from None
        except BaseException:  # not a database at all, …: reported by the caller
            conn.close()
            raise
        return conn

    def _cannot_open(self, exc: sqlite3.Error) -> StoreError:
        return StoreError(
            f"cannot open database {self.path}: {exc}",
            hint="check the path exists and is writable by this user",
        )

    @contextmanager
    def transaction(self, conn: sqlite3.Connection, *, write: bool) -> Iterator[Any]:
        # BEGIN IMMEDIATE takes the write lock up front (no deadlock between two readers
        # upgrading); a deferred BEGIN reads one WAL snapshot until COMMIT
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def retry(self, exc: Exception) -> Retry:
        return Retry.BUSY if _is_locked(exc) else Retry.NO

    def translate(self, exc: Exception) -> PxehookError:
        if isinstance(exc, sqlite3.IntegrityError):
            return Conflict(f"conflicting write: {exc}")
        if _is_locked(exc):
            return StoreError(f"database {self.path} stayed locked for {self.busy_timeout_ms} ms")
        text = str(exc).lower()
        if "readonly" in text or "unable to open" in text:
            return StoreError(f"database {self.path} is not writable: {exc}")
        return StoreError(f"database {self.path}: {exc}")

    def label_filter(self, key: str, value: str) -> tuple[str, list[Any]]:
        return "json_extract(labels, ?) = ?", [f'$."{key}"', value]

    def json_text(self, column: str, key: str) -> str:
        return f"json_extract({column}, '$.{key}')"

    def insert_id(self, cursor: sqlite3.Connection, sql: str, args: tuple[Any, ...]) -> int:
        return int(cursor.execute(sql, args).lastrowid or 0)

    def new_ids(self, tx: Tx, table: str, n: int) -> list[int]:
        # the transaction holds the only write lock (BEGIN IMMEDIATE): the next ids are free
        # until it ends; AUTOINCREMENT's record covers ids of rows deleted since
        last = tx.one(
            "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = ?), 0), "  # noqa: S608
            f"COALESCE((SELECT MAX(id) FROM {table}), 0))",
            (table,),
        )[0]
        return list(range(int(last) + 1, int(last) + 1 + n))

    def schema_version(self, tx: Tx) -> int:
        return int(tx.one("PRAGMA user_version")[0])

    def lock_schema(self, tx: Tx) -> int:
        return self.schema_version(tx)  # BEGIN IMMEDIATE already excludes other writers

    def set_schema_version(self, tx: Tx, version: int) -> None:
        tx.run(f"PRAGMA user_version={int(version)}")

    def run_script(self, tx: Tx, script: str) -> None:
        # not executescript(): it would COMMIT the transaction first
        for statement in split_sql(script):
            tx.cursor.execute(statement)

    def append_only_trigger(self, table: str) -> str:
        return (
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE ON {table}\n"
            f"BEGIN SELECT RAISE(ABORT, '{table} are append-only'); END;"
        )

    # writers take turns (BEGIN IMMEDIATE): one counter, moved by each stamped write
    change_cursor = f"SELECT {_CHANGES} + 1"

    def change_stamp_trigger(self, table: str) -> str:
        stamp = _stamp(table)
        return (
            f"CREATE TRIGGER {table}_changed_insert AFTER INSERT ON {table}\n"  # noqa: S608
            f"BEGIN\n  {stamp}\nEND;\n"
            # the stamp's own UPDATE moves ``changed``: it never fires this trigger again
            f"CREATE TRIGGER {table}_changed_update AFTER UPDATE ON {table}\n"
            f"WHEN NEW.changed = OLD.changed\nBEGIN\n  {stamp}\nEND;\n"
            f"CREATE TRIGGER {table}_changed_delete AFTER DELETE ON {table}\n"
            f"BEGIN\n  {_BUMP};\n  UPDATE server_values SET value = (SELECT value FROM "
            f"server_values WHERE key = 'host_changes') WHERE key = '{table}_removed';\nEND;"
        )

    def insert_stamp_ddl(self, table: str) -> str:
        # the trigger's stamp was an UPDATE of the row just inserted and of the counter, and
        # even a trigger that does nothing costs a third of a plain insert: writers stamp
        return f"DROP TRIGGER {table}_changed_insert;"

    def insert_stamp(self, tx: Tx) -> int:
        tx.run(_BUMP)
        return int(tx.one(f"SELECT {_CHANGES}")[0])

    def leader_lock(self) -> LeaderLock:
        return FileLeaderLock(self.path) if self.path != ":memory:" else OnlyProcess()


class OnlyProcess:
    """The leader lock of an in-memory database: its only process always leads."""

    error = ""

    def hold(self) -> bool:
        return True

    def release(self) -> None:
        pass


class SQLiteStore(SQLStore):
    """The ``Store`` protocol over one SQLite file."""

    def __init__(
        self,
        path: str,
        *,
        busy_timeout_ms: int = 5000,
        create: bool = True,
        migrate: bool = True,
        pool: PoolSettings = DEFAULT_POOL,
        rack: str = "",
    ) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        if path != ":memory:":
            _check_path(path, create=create)
        dialect = SQLiteDialect(path, busy_timeout_ms=busy_timeout_ms)
        super().__init__(dialect, migrate=migrate, pool=pool, rack=rack)


def _check_path(path: str, *, create: bool) -> None:
    """Create the database's directory and file if allowed (modes: ``pxehook.fsmodes``);
    refuse a missing file unless ``create``.

    The file is created here, before SQLite opens it, so that SQLite gives its ``-wal`` and
    ``-shm`` the same owner-only mode (an empty file is a valid empty database).
    """
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        if not create:
            raise StoreError(f"database directory {parent} does not exist")
        try:
            fsmodes.make_dir(parent, fsmodes.STATE_DIR)
        except OSError as exc:
            raise StoreError(f"cannot create database directory {parent}: {exc.strerror}") from None
    if not create and not os.path.exists(path):
        raise StoreError(f"database {path} does not exist", hint="run 'pxehook db init'")
    if create:
        try:
            fsmodes.create_file(path, fsmodes.DB_FILE)
        except OSError as exc:
            raise StoreError(f"cannot create database {path}: {exc.strerror}") from None


def _is_locked(exc: Exception) -> bool:
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def split_sql(script: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies (BEGIN … END;) whole."""
    statements, current = [], []
    for line in script.strip().splitlines():
        current.append(line)
        text = "\n".join(current).strip()
        if text.endswith(";") and sqlite3.complete_statement(text):
            statements.append(text)
            current = []
    if "".join(current).strip():
        statements.append("\n".join(current))
    return statements
