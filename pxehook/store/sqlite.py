"""SQLite back end: the embedded default.

Safe for the DHCP hook, several gunicorn workers and the CLI writing at once: WAL journal,
a busy timeout, every write in ``BEGIN IMMEDIATE`` with a bounded retry, one connection per
process and thread (re-opened after ``fork``).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from pxehook.errors import Conflict, NotFound, StoreError
from pxehook.models import Event, Host, Observation, Profile, State, now
from pxehook.store import migrations
from pxehook.store.merge import merged, observation_changes

T = TypeVar("T")

_HOST_COLUMNS = (
    "id, name, uuid, arch, arch_source, ip, vendor_class, user_class, first_seen, last_seen, "
    "profile, state, state_changed, labels, vars, meta"
)


def _is_locked(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class SQLiteStore:
    """The ``Store`` protocol over one SQLite file."""

    def __init__(
        self, path: str, *, busy_timeout_ms: int = 5000, create: bool = True, migrate: bool = True
    ) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        if path != ":memory:":
            parent = os.path.dirname(os.path.abspath(path))
            if not os.path.isdir(parent):
                if not create:
                    raise StoreError(f"database directory {parent} does not exist")
                try:
                    os.makedirs(parent, exist_ok=True)
                except OSError as exc:
                    raise StoreError(
                        f"cannot create database directory {parent}: {exc.strerror}"
                    ) from None
            if not create and not os.path.exists(path):
                raise StoreError(f"database {path} does not exist", hint="run 'pxehook db init'")
        if migrate:
            self.migrate()

    # connections ---------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        local = self._local
        conn = getattr(local, "conn", None)
        if conn is not None and getattr(local, "pid", None) == os.getpid():
            return conn
        try:
            conn = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout_ms / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}")
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode != "wal" and self.path != ":memory:":
                raise StoreError(f"database {self.path}: cannot switch to WAL (got {mode})")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.OperationalError as exc:
            raise StoreError(
                f"cannot open database {self.path}: {exc}",
                hint="check the path exists and is writable by this user",
            ) from None
        local.conn, local.pid = conn, os.getpid()
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _retry(self, fn: Callable[[sqlite3.Connection], T], *, write: bool) -> T:
        """Run ``fn`` in one transaction; retry while the file is locked, up to the timeout."""
        deadline = time.monotonic() + max(self.busy_timeout_ms, 100) / 1000
        delay = 0.005
        while True:
            conn = self._conn()
            try:
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    result = fn(conn)
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
                return result
            except sqlite3.OperationalError as exc:
                if _is_locked(exc) and time.monotonic() < deadline:
                    time.sleep(delay)
                    delay = min(delay * 2, 0.1)
                    continue
                if _is_locked(exc):
                    raise StoreError(
                        f"database {self.path} stayed locked for {self.busy_timeout_ms} ms"
                    ) from None
                if "readonly" in str(exc).lower() or "unable to open" in str(exc).lower():
                    raise StoreError(f"database {self.path} is not writable: {exc}") from None
                raise StoreError(f"database {self.path}: {exc}") from None

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        yield self._conn()

    # schema --------------------------------------------------------------------
    def schema_version(self) -> int:
        try:
            return int(self._conn().execute("PRAGMA user_version").fetchone()[0])
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"database {self.path}: {exc}") from None

    def migrate(self) -> int:
        version = self.schema_version()
        if version > migrations.LATEST:
            raise StoreError(
                f"database {self.path} has schema {version}, newer than this "
                f"pxehook ({migrations.LATEST})",
                hint="upgrade pxehook",
            )
        for step in range(version, migrations.LATEST):
            sql = migrations.STEPS[step]

            def apply(conn: sqlite3.Connection, sql: str = sql, step: int = step) -> None:
                if int(conn.execute("PRAGMA user_version").fetchone()[0]) != step:
                    return  # another process migrated meanwhile
                for statement in _split_sql(sql):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version={step + 1}")

            self._retry(apply, write=True)
        return self.schema_version()

    # helpers --------------------------------------------------------------------
    @staticmethod
    def _row_host(conn: sqlite3.Connection, row: tuple[Any, ...] | None) -> Host | None:
        if row is None:
            return None
        macs = tuple(
            m
            for (m,) in conn.execute(
                "SELECT mac FROM host_macs WHERE host_id=? ORDER BY position, mac", (row[0],)
            )
        )
        return _host_from_row(row, macs)

    def _host_where(
        self, conn: sqlite3.Connection, where: str, args: tuple[Any, ...]
    ) -> Host | None:
        # where is always a literal from this module; values are bound parameters
        sql = f"SELECT {_HOST_COLUMNS} FROM hosts WHERE {where}"  # noqa: S608
        row = conn.execute(sql, args).fetchone()
        return self._row_host(conn, row)

    @staticmethod
    def _bump(conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key='generation'")

    @staticmethod
    def _event(
        conn: sqlite3.Connection,
        host_id: int,
        kind: str,
        source: str,
        message: str,
        data: dict[str, Any] | None,
        at: float | None,
    ) -> Event:
        at = now() if at is None else at
        payload = json.dumps(data or {}, sort_keys=True)
        cur = conn.execute(
            "INSERT INTO events(host_id, at, kind, source, message, data) VALUES (?,?,?,?,?,?)",
            (host_id, at, kind, source, message, payload),
        )
        return Event(
            id=cur.lastrowid,
            host_id=host_id,
            at=at,
            kind=kind,
            source=source,
            message=message,
            data=dict(data or {}),
        )

    # hosts ------------------------------------------------------------------------
    def host_get(self, mac: str) -> Host | None:
        with self._read() as conn:
            return self._host_where(
                conn, "id = (SELECT host_id FROM host_macs WHERE mac=?)", (mac,)
            )

    def host_by_id(self, host_id: int) -> Host | None:
        with self._read() as conn:
            return self._host_where(conn, "id=?", (host_id,))

    def host_by_ip(self, ip: str) -> Host | None:
        with self._read() as conn:
            return self._host_where(conn, "ip=? ORDER BY last_seen DESC NULLS LAST LIMIT 1", (ip,))

    def host_by_uuid(self, uuid: str) -> Host | None:
        with self._read() as conn:
            return self._host_where(conn, "uuid=? AND uuid != '' LIMIT 1", (uuid.lower(),))

    def host_list(
        self,
        *,
        state: str | None = None,
        profile: str | None = None,
        label: tuple[str, str] | None = None,
        limit: int | None = None,
    ) -> list[Host]:
        clauses, args = [], []
        if state:
            clauses.append("state=?")
            args.append(state)
        if profile:
            clauses.append("profile=?")
            args.append(profile)
        if label:
            clauses.append("json_extract(labels, ?) = ?")
            args.extend([f'$."{label[0]}"', label[1]])
        where = " AND ".join(clauses) or "1=1"
        sql = f"SELECT {_HOST_COLUMNS} FROM hosts WHERE {where} ORDER BY id"  # noqa: S608
        if limit:
            sql += f" LIMIT {int(limit)}"
        with self._read() as conn:
            return [h for h in (self._row_host(conn, r) for r in conn.execute(sql, args)) if h]

    def host_all(self) -> list[Host]:
        with self._read() as conn:
            conn.execute("BEGIN")
            try:
                macs: dict[int, list[str]] = {}
                for mac, host_id in conn.execute(
                    "SELECT mac, host_id FROM host_macs ORDER BY host_id, position, mac"
                ):
                    macs.setdefault(host_id, []).append(mac)
                sql = f"SELECT {_HOST_COLUMNS} FROM hosts ORDER BY id"  # noqa: S608
                rows = conn.execute(sql).fetchall()
            finally:
                conn.execute("COMMIT")
        return [_host_from_row(row, tuple(macs.get(row[0], ()))) for row in rows]

    def host_put(self, host: Host, *, source: str = "api", message: str = "") -> Host:
        if not host.macs:
            raise Conflict("a host needs at least one MAC address")

        def put(conn: sqlite3.Connection) -> Host:
            for mac in host.macs:
                owner = conn.execute("SELECT host_id FROM host_macs WHERE mac=?", (mac,)).fetchone()
                if owner and owner[0] != host.id:
                    raise Conflict(f"MAC {mac} already belongs to host {owner[0]}")
            values = (
                host.name,
                host.uuid.lower(),
                host.arch,
                host.arch_source,
                host.ip,
                host.vendor_class,
                host.user_class,
                host.first_seen,
                host.last_seen,
                host.profile,
                str(host.state),
                host.state_changed,
                json.dumps(host.labels, sort_keys=True),
                json.dumps(host.vars, sort_keys=True),
                json.dumps(host.meta, sort_keys=True),
            )
            if host.id is None:
                cur = conn.execute(
                    "INSERT INTO hosts(name, uuid, arch, arch_source, ip, vendor_class, "
                    "user_class, first_seen, last_seen, profile, state, state_changed, labels, "
                    "vars, meta) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    values,
                )
                host_id = int(cur.lastrowid or 0)
                kind = "host.created"
            else:
                cur = conn.execute(
                    "UPDATE hosts SET name=?, uuid=?, arch=?, arch_source=?, ip=?, "
                    "vendor_class=?, user_class=?, first_seen=?, last_seen=?, profile=?, "
                    "state=?, state_changed=?, labels=?, vars=?, meta=? WHERE id=?",
                    (*values, host.id),
                )
                if cur.rowcount == 0:
                    raise NotFound(f"host {host.id} does not exist")
                host_id = host.id
                kind = "host.updated"
                conn.execute("DELETE FROM host_macs WHERE host_id=?", (host_id,))
            conn.executemany(
                "INSERT INTO host_macs(mac, host_id, position) VALUES (?,?,?)",
                [(mac, host_id, i) for i, mac in enumerate(host.macs)],
            )
            self._event(conn, host_id, kind, source, message, None, None)
            self._bump(conn)
            result = self._host_where(conn, "id=?", (host_id,))
            assert result is not None
            return result

        return self._retry(put, write=True)

    def host_delete(self, host_id: int) -> None:
        def delete(conn: sqlite3.Connection) -> None:
            if conn.execute("DELETE FROM hosts WHERE id=?", (host_id,)).rowcount == 0:
                raise NotFound(f"host {host_id} does not exist")
            self._bump(conn)

        self._retry(delete, write=True)

    def observe(self, obs: Observation) -> tuple[Host, bool]:
        at = now() if obs.at is None else obs.at

        def merge(conn: sqlite3.Connection) -> tuple[Host, bool]:
            host = self._host_where(
                conn, "id = (SELECT host_id FROM host_macs WHERE mac=?)", (obs.mac,)
            )
            created = host is None
            if host is None:
                cur = conn.execute(
                    "INSERT INTO hosts(first_seen, last_seen, state, state_changed) "
                    "VALUES (?,?,?,?)",
                    (at, at, str(State.NEW), at),
                )
                host_id = int(cur.lastrowid or 0)
                conn.execute(
                    "INSERT INTO host_macs(mac, host_id, position) VALUES (?,?,0)",
                    (obs.mac, host_id),
                )
                host = self._host_where(conn, "id=?", (host_id,))
                assert host is not None
                self._event(
                    conn,
                    host_id,
                    "host.discovered",
                    obs.source,
                    f"first seen by {obs.source}",
                    None,
                    at,
                )
            changes = observation_changes(host, obs, at)
            if "arch" in changes:
                self._bump(conn)
            if changes:
                sets = ", ".join(f"{k}=?" for k in changes)
                # column names come from this function, values are bound
                sql = f"UPDATE hosts SET {sets} WHERE id=?"  # noqa: S608
                conn.execute(sql, (*changes.values(), host.id))
            if created:
                self._bump(conn)
            result = self._host_where(conn, "id=?", (host.id,))
            assert result is not None
            return result, created

        return self._retry(merge, write=True)

    def set_state(
        self,
        host_id: int,
        state: State,
        *,
        expected: State | None = None,
        source: str,
        message: str = "",
        meta: dict[str, Any] | None = None,
    ) -> Host:
        def change(conn: sqlite3.Connection) -> Host:
            host = self._host_where(conn, "id=?", (host_id,))
            if host is None:
                raise NotFound(f"host {host_id} does not exist")
            if expected is not None and host.state != expected:
                raise Conflict(f"host {host.mac} is {host.state}, not {expected}")
            new_meta = merged(host.meta, meta or {})
            at = now()
            conn.execute(
                "UPDATE hosts SET state=?, state_changed=?, meta=? WHERE id=?",
                (str(state), at, json.dumps(new_meta, sort_keys=True), host_id),
            )
            self._event(
                conn,
                host_id,
                "state.changed",
                source,
                message or f"{host.state} -> {state}",
                {"from": str(host.state), "to": str(state)},
                at,
            )
            self._bump(conn)
            result = self._host_where(conn, "id=?", (host_id,))
            assert result is not None
            return result

        return self._retry(change, write=True)

    def update_meta(self, host_id: int, changes: dict[str, Any]) -> Host:
        def update(conn: sqlite3.Connection) -> Host:
            host = self._host_where(conn, "id=?", (host_id,))
            if host is None:
                raise NotFound(f"host {host_id} does not exist")
            conn.execute(
                "UPDATE hosts SET meta=? WHERE id=?",
                (json.dumps(merged(host.meta, changes), sort_keys=True), host_id),
            )
            self._bump(conn)
            result = self._host_where(conn, "id=?", (host_id,))
            assert result is not None
            return result

        return self._retry(update, write=True)

    # events ---------------------------------------------------------------------------
    def event_add(
        self,
        host_id: int,
        kind: str,
        source: str,
        message: str = "",
        data: dict[str, Any] | None = None,
        at: float | None = None,
    ) -> Event:
        return self._retry(
            lambda c: self._event(c, host_id, kind, source, message, data, at), write=True
        )

    def event_add_many(self, rows: list[tuple[int, str, str, str, dict[str, Any], float]]) -> int:
        payload = [
            (host_id, at, kind, source, message, json.dumps(data or {}, sort_keys=True))
            for host_id, kind, source, message, data, at in rows
        ]

        def insert(conn: sqlite3.Connection) -> int:
            conn.executemany(
                "INSERT INTO events(host_id, at, kind, source, message, data) "
                "SELECT ?,?,?,?,?,? WHERE EXISTS (SELECT 1 FROM hosts WHERE id=?1)",
                payload,
            )
            return len(payload)

        return self._retry(insert, write=True) if payload else 0

    def events(self, host_id: int, *, since_id: int = 0, limit: int | None = None) -> list[Event]:
        sql = (
            "SELECT id, host_id, at, kind, source, message, data FROM events "
            "WHERE host_id=? AND id>? ORDER BY id"
        )
        if limit:
            sql += f" LIMIT {int(limit)}"
        with self._read() as conn:
            return [
                Event(
                    id=r[0],
                    host_id=r[1],
                    at=r[2],
                    kind=r[3],
                    source=r[4],
                    message=r[5],
                    data=json.loads(r[6]),
                )
                for r in conn.execute(sql, (host_id, since_id))
            ]

    # profiles -------------------------------------------------------------------------
    def profiles_replace(self, profiles: Iterable[Profile]) -> None:
        rows = [(p.name, json.dumps(p.as_dict(), sort_keys=True)) for p in profiles]

        def replace_all(conn: sqlite3.Connection) -> None:
            current = dict(conn.execute("SELECT name, data FROM profiles"))
            if current == dict(rows):
                return
            conn.execute("DELETE FROM profiles")
            conn.executemany("INSERT INTO profiles(name, data) VALUES (?,?)", rows)
            self._bump(conn)

        self._retry(replace_all, write=True)

    def profile_get(self, name: str) -> Profile | None:
        with self._read() as conn:
            row = conn.execute("SELECT data FROM profiles WHERE name=?", (name,)).fetchone()
        return Profile.from_dict(json.loads(row[0])) if row else None

    def profile_list(self) -> list[Profile]:
        with self._read() as conn:
            return [
                Profile.from_dict(json.loads(d))
                for (d,) in conn.execute("SELECT data FROM profiles ORDER BY name")
            ]

    # tokens ---------------------------------------------------------------------------
    def token_put(self, name: str, digest: str, scope: str, created: float) -> None:
        def put(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    "INSERT INTO tokens(name, digest, scope, created) VALUES (?,?,?,?)",
                    (name, digest, scope, created),
                )
            except sqlite3.IntegrityError:
                raise Conflict(f"a token named {name!r} already exists") from None

        self._retry(put, write=True)

    def token_find(self, digest: str) -> dict[str, Any] | None:
        with self._read() as conn:
            row = conn.execute(
                "SELECT name, scope, created FROM tokens WHERE digest=?", (digest,)
            ).fetchone()
        return {"name": row[0], "scope": row[1], "created": row[2]} if row else None

    def token_list(self) -> list[dict[str, Any]]:
        with self._read() as conn:
            return [
                {"name": n, "scope": s, "created": c}
                for n, s, c in conn.execute("SELECT name, scope, created FROM tokens ORDER BY name")
            ]

    def token_delete(self, name: str) -> None:
        def delete(conn: sqlite3.Connection) -> None:
            if conn.execute("DELETE FROM tokens WHERE name=?", (name,)).rowcount == 0:
                raise NotFound(f"no token named {name!r}")

        self._retry(delete, write=True)

    # housekeeping ----------------------------------------------------------------------
    def meta_get(self, key: str, default: str | None = None) -> str | None:
        with self._read() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else default

    def meta_set(self, key: str, value: str) -> None:
        self._retry(
            lambda c: c.execute(
                "INSERT INTO meta(key, value) VALUES (?,?) ON CONFLICT(key) DO UPDATE SET "
                "value=excluded.value",
                (key, value),
            ),
            write=True,
        )

    def meta_setdefault(self, key: str, value: str) -> str:
        def setdefault(conn: sqlite3.Connection) -> str:
            conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES (?,?)", (key, value))
            return str(conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()[0])

        return self._retry(setdefault, write=True)

    def generation(self) -> int:
        return int(self.meta_get("generation", "0") or 0)


def _host_from_row(row: tuple[Any, ...], macs: tuple[str, ...]) -> Host:
    """A Host from a ``_HOST_COLUMNS`` row and its MACs."""
    return Host(
        id=row[0],
        macs=macs,
        name=row[1],
        uuid=row[2],
        arch=row[3],
        arch_source=row[4],
        ip=row[5],
        vendor_class=row[6],
        user_class=row[7],
        first_seen=row[8],
        last_seen=row[9],
        profile=row[10],
        state=State(row[11]),
        state_changed=row[12],
        labels=json.loads(row[13]),
        vars=json.loads(row[14]),
        meta=json.loads(row[15]),
    )


def _split_sql(script: str) -> list[str]:
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
