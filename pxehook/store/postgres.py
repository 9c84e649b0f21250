"""PostgreSQL back end (``database: postgresql://…``), same protocol as SQLite.

For sites that already run PostgreSQL or put several pxehook servers on one database.
Needs the ``postgres`` extra (psycopg 3). Every method is one transaction; conflicts between
concurrent writers (two first sightings of one MAC, serialisation failures, lock time-outs)
are retried until ``busy_timeout_ms`` runs out, then reported as StoreError.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from pxehook.errors import Conflict, NotFound, StoreError
from pxehook.models import Event, Host, Observation, Profile, State, now
from pxehook.store.merge import merged, observation_changes
from pxehook.store.migrations import PG_LATEST, PG_STEPS

try:  # optional dependency: pip install 'pxehook[postgres]'
    import psycopg
    from psycopg import errors as pgerrors
    from psycopg.conninfo import conninfo_to_dict
except ImportError:  # pragma: no cover - exercised only without the extra
    psycopg = None  # type: ignore[assignment]

T = TypeVar("T")

_HOST_COLUMNS = (
    "id, name, uuid, arch, arch_source, ip, vendor_class, user_class, first_seen, last_seen, "
    "profile, state, state_changed, labels, vars, meta"
)
_MIGRATION_LOCK = 0x70786568  # advisory lock key ("pxeh")


def safe_dsn(dsn: str) -> str:
    """The DSN without its password, for messages."""
    try:
        parts = conninfo_to_dict(dsn)
    except Exception:  # a malformed DSN is reported by connect()
        return "<unparsable DSN>"
    parts.pop("password", None)
    return " ".join(f"{k}={v}" for k, v in sorted(parts.items()))


class PostgresStore:
    """The ``Store`` protocol over a PostgreSQL database."""

    def __init__(self, dsn: str, *, busy_timeout_ms: int = 5000, migrate: bool = True) -> None:
        if psycopg is None:
            raise StoreError(
                "database: PostgreSQL needs psycopg", hint="pip install 'pxehook[postgres]'"
            )
        self.dsn = dsn
        self.where = safe_dsn(dsn)
        self.busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        if migrate:
            self.migrate()

    # connections -------------------------------------------------------------------
    def _conn(self) -> psycopg.Connection:
        local = self._local
        conn = getattr(local, "conn", None)
        if conn is not None and not conn.closed and getattr(local, "pid", None) == os.getpid():
            return conn
        timeout = max(1, self.busy_timeout_ms // 1000)
        try:
            conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=timeout)
            conn.execute(f"SET lock_timeout = {int(self.busy_timeout_ms)}")
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot connect to PostgreSQL ({self.where}): {str(exc).strip()}"
            ) from None
        local.conn, local.pid = conn, os.getpid()
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _tx(self, fn: Callable[[psycopg.Cursor], T]) -> T:
        deadline = time.monotonic() + max(self.busy_timeout_ms, 100) / 1000
        delay = 0.005
        while True:
            conn = self._conn()
            try:
                with conn.transaction(), conn.cursor() as cur:
                    return fn(cur)
            except (
                pgerrors.SerializationFailure,
                pgerrors.DeadlockDetected,
                pgerrors.LockNotAvailable,
                pgerrors.UniqueViolation,
            ) as exc:
                if time.monotonic() >= deadline:
                    if isinstance(exc, pgerrors.UniqueViolation):
                        raise Conflict(f"conflicting write: {exc.diag.message_primary}") from None
                    raise StoreError(
                        f"database ({self.where}) stayed locked for {self.busy_timeout_ms} ms"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.1)
            except psycopg.OperationalError as exc:
                self.close()
                raise StoreError(f"PostgreSQL ({self.where}): {str(exc).strip()}") from None

    # schema ------------------------------------------------------------------------
    def schema_version(self) -> int:
        def read(cur: psycopg.Cursor) -> int:
            cur.execute("SELECT to_regclass('pxehook_schema') IS NOT NULL")
            row = cur.fetchone()
            if not row or not row[0]:
                return 0
            cur.execute("SELECT version FROM pxehook_schema")
            row = cur.fetchone()
            return int(row[0]) if row else 0

        return self._tx(read)

    def migrate(self) -> int:
        def apply(cur: psycopg.Cursor) -> int:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            cur.execute("CREATE TABLE IF NOT EXISTS pxehook_schema (version INTEGER NOT NULL)")
            cur.execute("SELECT version FROM pxehook_schema")
            row = cur.fetchone()
            version = int(row[0]) if row else 0
            if row is None:
                cur.execute("INSERT INTO pxehook_schema(version) VALUES (0)")
            if version > PG_LATEST:
                raise StoreError(
                    f"database ({self.where}) has schema {version}, newer than this pxehook "
                    f"({PG_LATEST})",
                    hint="upgrade pxehook",
                )
            for step in range(version, PG_LATEST):
                cur.execute(PG_STEPS[step])
                cur.execute("UPDATE pxehook_schema SET version=%s", (step + 1,))
            return PG_LATEST

        return self._tx(apply)

    # helpers -------------------------------------------------------------------------
    @staticmethod
    def _host(cur: psycopg.Cursor, row: tuple[Any, ...] | None) -> Host | None:
        if row is None:
            return None
        cur.execute("SELECT mac FROM host_macs WHERE host_id=%s ORDER BY position, mac", (row[0],))
        return _row_host(row, tuple(m for (m,) in cur.fetchall()))

    def _host_where(
        self, cur: psycopg.Cursor, where: str, args: tuple[Any, ...], lock: bool = False
    ) -> Host | None:
        # where is always a literal from this module; values are bound parameters
        sql = f"SELECT {_HOST_COLUMNS} FROM hosts WHERE {where}"  # noqa: S608
        cur.execute(sql + (" FOR UPDATE" if lock else ""), args)
        return self._host(cur, cur.fetchone())

    @staticmethod
    def _bump(cur: psycopg.Cursor) -> None:
        cur.execute("UPDATE meta SET value = (value::bigint + 1)::text WHERE key='generation'")

    @staticmethod
    def _event(
        cur: psycopg.Cursor, host_id: int, kind: str, source: str, message: str,
        data: dict[str, Any] | None, at: float | None,
    ) -> Event:  # fmt: skip
        at = now() if at is None else at
        cur.execute(
            "INSERT INTO events(host_id, at, kind, source, message, data) "
            "VALUES (%s,%s,%s,%s,%s,%s::jsonb) RETURNING id",
            (host_id, at, kind, source, message, json.dumps(data or {}, sort_keys=True)),
        )
        row = cur.fetchone()
        return Event(id=row[0] if row else None, host_id=host_id, at=at, kind=kind,
                     source=source, message=message, data=dict(data or {}))  # fmt: skip

    _BY_MAC = "id = (SELECT host_id FROM host_macs WHERE mac=%s)"

    # hosts ---------------------------------------------------------------------------
    def host_get(self, mac: str) -> Host | None:
        return self._tx(lambda cur: self._host_where(cur, self._BY_MAC, (mac,)))

    def host_by_id(self, host_id: int) -> Host | None:
        return self._tx(lambda cur: self._host_where(cur, "id=%s", (host_id,)))

    def host_by_ip(self, ip: str) -> Host | None:
        where = "ip=%s ORDER BY last_seen DESC NULLS LAST LIMIT 1"
        return self._tx(lambda cur: self._host_where(cur, where, (ip,)))

    def host_by_uuid(self, uuid: str) -> Host | None:
        where = "uuid=%s AND uuid != '' LIMIT 1"
        return self._tx(lambda cur: self._host_where(cur, where, (uuid.lower(),)))

    def host_list(
        self, *, state: str | None = None, profile: str | None = None,
        label: tuple[str, str] | None = None, limit: int | None = None,
    ) -> list[Host]:  # fmt: skip
        clauses, args = [], []
        if state:
            clauses.append("state=%s")
            args.append(state)
        if profile:
            clauses.append("profile=%s")
            args.append(profile)
        if label:
            clauses.append("labels ->> %s = %s")
            args.extend(label)
        where = " AND ".join(clauses) or "TRUE"
        sql = f"SELECT {_HOST_COLUMNS} FROM hosts WHERE {where} ORDER BY id"  # noqa: S608
        if limit:
            sql += f" LIMIT {int(limit)}"

        def query(cur: psycopg.Cursor) -> list[Host]:
            cur.execute(sql, args)
            rows = cur.fetchall()
            return [h for h in (self._host(cur, r) for r in rows) if h]

        return self._tx(query)

    def host_all(self) -> list[Host]:
        def query(cur: psycopg.Cursor) -> list[Host]:
            cur.execute("SELECT mac, host_id FROM host_macs ORDER BY host_id, position, mac")
            macs: dict[int, list[str]] = {}
            for mac, host_id in cur.fetchall():
                macs.setdefault(host_id, []).append(mac)
            cur.execute(f"SELECT {_HOST_COLUMNS} FROM hosts ORDER BY id")  # noqa: S608
            return [_row_host(r, tuple(macs.get(r[0], ()))) for r in cur.fetchall()]

        return self._tx(query)

    def host_put(self, host: Host, *, source: str = "api", message: str = "") -> Host:
        if not host.macs:
            raise Conflict("a host needs at least one MAC address")

        def put(cur: psycopg.Cursor) -> Host:
            for mac in host.macs:
                cur.execute("SELECT host_id FROM host_macs WHERE mac=%s", (mac,))
                owner = cur.fetchone()
                if owner and owner[0] != host.id:
                    raise Conflict(f"MAC {mac} already belongs to host {owner[0]}")
            values = (
                host.name, host.uuid.lower(), host.arch, host.arch_source, host.ip,
                host.vendor_class, host.user_class, host.first_seen, host.last_seen,
                host.profile, str(host.state), host.state_changed,
                json.dumps(host.labels, sort_keys=True), json.dumps(host.vars, sort_keys=True),
                json.dumps(host.meta, sort_keys=True),
            )  # fmt: skip
            if host.id is None:
                cur.execute(
                    "INSERT INTO hosts(name, uuid, arch, arch_source, ip, vendor_class, "
                    "user_class, first_seen, last_seen, profile, state, state_changed, labels, "
                    "vars, meta) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s::jsonb,"
                    "%s::jsonb,%s::jsonb) RETURNING id",
                    values,
                )
                row = cur.fetchone()
                assert row is not None
                host_id, kind = int(row[0]), "host.created"
            else:
                cur.execute(
                    "UPDATE hosts SET name=%s, uuid=%s, arch=%s, arch_source=%s, ip=%s, "
                    "vendor_class=%s, user_class=%s, first_seen=%s, last_seen=%s, profile=%s, "
                    "state=%s, state_changed=%s, labels=%s::jsonb, vars=%s::jsonb, "
                    "meta=%s::jsonb WHERE id=%s",
                    (*values, host.id),
                )
                if cur.rowcount == 0:
                    raise NotFound(f"host {host.id} does not exist")
                host_id, kind = host.id, "host.updated"
                cur.execute("DELETE FROM host_macs WHERE host_id=%s", (host_id,))
            cur.executemany(
                "INSERT INTO host_macs(mac, host_id, position) VALUES (%s,%s,%s)",
                [(mac, host_id, i) for i, mac in enumerate(host.macs)],
            )
            self._event(cur, host_id, kind, source, message, None, None)
            self._bump(cur)
            result = self._host_where(cur, "id=%s", (host_id,))
            assert result is not None
            return result

        return self._tx(put)

    def host_delete(self, host_id: int) -> None:
        def delete(cur: psycopg.Cursor) -> None:
            cur.execute("DELETE FROM hosts WHERE id=%s", (host_id,))
            if cur.rowcount == 0:
                raise NotFound(f"host {host_id} does not exist")
            self._bump(cur)

        self._tx(delete)

    def observe(self, obs: Observation) -> tuple[Host, bool]:
        at = now() if obs.at is None else obs.at

        def merge(cur: psycopg.Cursor) -> tuple[Host, bool]:
            host = self._host_where(cur, self._BY_MAC, (obs.mac,), lock=True)
            created = host is None
            if host is None:
                cur.execute(
                    "INSERT INTO hosts(first_seen, last_seen, state, state_changed) "
                    "VALUES (%s,%s,%s,%s) RETURNING id",
                    (at, at, str(State.NEW), at),
                )
                row = cur.fetchone()
                assert row is not None
                # a concurrent first sighting makes this a UniqueViolation: retried by _tx
                cur.execute(
                    "INSERT INTO host_macs(mac, host_id, position) VALUES (%s,%s,0)",
                    (obs.mac, row[0]),
                )
                host = self._host_where(cur, "id=%s", (row[0],))
                assert host is not None
                self._event(cur, row[0], "host.discovered", obs.source,
                            f"first seen by {obs.source}", None, at)  # fmt: skip
                self._bump(cur)
            changes = observation_changes(host, obs, at)
            if "arch" in changes:
                self._bump(cur)
            if changes:
                sets = ", ".join(f"{k}=%s" for k in changes)
                sql = f"UPDATE hosts SET {sets} WHERE id=%s"  # noqa: S608 - names from code
                cur.execute(sql, (*changes.values(), host.id))
            result = self._host_where(cur, "id=%s", (host.id,))
            assert result is not None
            return result, created

        return self._tx(merge)

    def set_state(
        self, host_id: int, state: State, *, expected: State | None = None, source: str,
        message: str = "", meta: dict[str, Any] | None = None,
    ) -> Host:  # fmt: skip
        def change(cur: psycopg.Cursor) -> Host:
            host = self._host_where(cur, "id=%s", (host_id,), lock=True)
            if host is None:
                raise NotFound(f"host {host_id} does not exist")
            if expected is not None and host.state != expected:
                raise Conflict(f"host {host.mac} is {host.state}, not {expected}")
            at = now()
            cur.execute(
                "UPDATE hosts SET state=%s, state_changed=%s, meta=%s::jsonb WHERE id=%s",
                (str(state), at, json.dumps(merged(host.meta, meta or {}), sort_keys=True),
                 host_id),
            )  # fmt: skip
            self._event(cur, host_id, "state.changed", source,
                        message or f"{host.state} -> {state}",
                        {"from": str(host.state), "to": str(state)}, at)  # fmt: skip
            self._bump(cur)
            result = self._host_where(cur, "id=%s", (host_id,))
            assert result is not None
            return result

        return self._tx(change)

    def update_meta(self, host_id: int, changes: dict[str, Any]) -> Host:
        def update(cur: psycopg.Cursor) -> Host:
            host = self._host_where(cur, "id=%s", (host_id,), lock=True)
            if host is None:
                raise NotFound(f"host {host_id} does not exist")
            cur.execute(
                "UPDATE hosts SET meta=%s::jsonb WHERE id=%s",
                (json.dumps(merged(host.meta, changes), sort_keys=True), host_id),
            )
            self._bump(cur)
            result = self._host_where(cur, "id=%s", (host_id,))
            assert result is not None
            return result

        return self._tx(update)

    # events ----------------------------------------------------------------------------
    def event_add(
        self, host_id: int, kind: str, source: str, message: str = "",
        data: dict[str, Any] | None = None, at: float | None = None,
    ) -> Event:  # fmt: skip
        return self._tx(lambda cur: self._event(cur, host_id, kind, source, message, data, at))

    def event_add_many(self, rows: list[tuple[int, str, str, str, dict[str, Any], float]]) -> int:
        payload = [
            (host_id, at, kind, source, message, json.dumps(data or {}, sort_keys=True), host_id)
            for host_id, kind, source, message, data, at in rows
        ]

        def insert(cur: psycopg.Cursor) -> int:
            # events for a host deleted meanwhile are dropped, as on SQLite
            cur.executemany(
                "INSERT INTO events(host_id, at, kind, source, message, data) "
                "SELECT %s,%s,%s,%s,%s,%s::jsonb WHERE EXISTS (SELECT 1 FROM hosts WHERE id=%s)",
                payload,
            )
            return len(payload)

        return self._tx(insert) if payload else 0

    def events(self, host_id: int, *, since_id: int = 0, limit: int | None = None) -> list[Event]:
        sql = (
            "SELECT id, host_id, at, kind, source, message, data FROM events "
            "WHERE host_id=%s AND id>%s ORDER BY id"
        )
        if limit:
            sql += f" LIMIT {int(limit)}"

        def query(cur: psycopg.Cursor) -> list[Event]:
            cur.execute(sql, (host_id, since_id))
            return [Event(id=r[0], host_id=r[1], at=r[2], kind=r[3], source=r[4],
                          message=r[5], data=r[6]) for r in cur.fetchall()]  # fmt: skip

        return self._tx(query)

    # profiles ----------------------------------------------------------------------------
    def profiles_replace(self, profiles: Iterable[Profile]) -> None:
        wanted = {p.name: p.as_dict() for p in profiles}

        def replace_all(cur: psycopg.Cursor) -> None:
            cur.execute("SELECT name, data FROM profiles")
            if dict(cur.fetchall()) == wanted:
                return
            cur.execute("DELETE FROM profiles")
            cur.executemany(
                "INSERT INTO profiles(name, data) VALUES (%s, %s::jsonb)",
                [(n, json.dumps(d, sort_keys=True)) for n, d in wanted.items()],
            )
            self._bump(cur)

        self._tx(replace_all)

    def profile_get(self, name: str) -> Profile | None:
        def query(cur: psycopg.Cursor) -> Profile | None:
            cur.execute("SELECT data FROM profiles WHERE name=%s", (name,))
            row = cur.fetchone()
            return Profile.from_dict(row[0]) if row else None

        return self._tx(query)

    def profile_list(self) -> list[Profile]:
        def query(cur: psycopg.Cursor) -> list[Profile]:
            cur.execute("SELECT data FROM profiles ORDER BY name")
            return [Profile.from_dict(d) for (d,) in cur.fetchall()]

        return self._tx(query)

    # tokens ------------------------------------------------------------------------------
    def token_put(self, name: str, digest: str, scope: str, created: float) -> None:
        def put(cur: psycopg.Cursor) -> None:
            cur.execute("SELECT 1 FROM tokens WHERE name=%s", (name,))
            if cur.fetchone():
                raise Conflict(f"a token named {name!r} already exists")
            cur.execute(
                "INSERT INTO tokens(name, digest, scope, created) VALUES (%s,%s,%s,%s)",
                (name, digest, scope, created),
            )

        self._tx(put)

    def token_find(self, digest: str) -> dict[str, Any] | None:
        def query(cur: psycopg.Cursor) -> dict[str, Any] | None:
            cur.execute("SELECT name, scope, created FROM tokens WHERE digest=%s", (digest,))
            row = cur.fetchone()
            return {"name": row[0], "scope": row[1], "created": row[2]} if row else None

        return self._tx(query)

    def token_list(self) -> list[dict[str, Any]]:
        def query(cur: psycopg.Cursor) -> list[dict[str, Any]]:
            cur.execute("SELECT name, scope, created FROM tokens ORDER BY name")
            return [{"name": n, "scope": s, "created": c} for n, s, c in cur.fetchall()]

        return self._tx(query)

    def token_delete(self, name: str) -> None:
        def delete(cur: psycopg.Cursor) -> None:
            cur.execute("DELETE FROM tokens WHERE name=%s", (name,))
            if cur.rowcount == 0:
                raise NotFound(f"no token named {name!r}")

        self._tx(delete)

    # housekeeping ------------------------------------------------------------------------
    def meta_get(self, key: str, default: str | None = None) -> str | None:
        def query(cur: psycopg.Cursor) -> str | None:
            cur.execute("SELECT value FROM meta WHERE key=%s", (key,))
            row = cur.fetchone()
            return row[0] if row else default

        return self._tx(query)

    def meta_set(self, key: str, value: str) -> None:
        self._tx(lambda cur: cur.execute(
            "INSERT INTO meta(key, value) VALUES (%s,%s) ON CONFLICT(key) DO UPDATE SET "
            "value=excluded.value", (key, value)))  # fmt: skip

    def meta_setdefault(self, key: str, value: str) -> str:
        def setdefault(cur: psycopg.Cursor) -> str:
            cur.execute(
                "INSERT INTO meta(key, value) VALUES (%s,%s) ON CONFLICT(key) DO NOTHING",
                (key, value),
            )
            cur.execute("SELECT value FROM meta WHERE key=%s", (key,))
            return str(cur.fetchone()[0])

        return self._tx(setdefault)

    def generation(self) -> int:
        return int(self.meta_get("generation", "0") or 0)


def _row_host(r: tuple[Any, ...], macs: tuple[str, ...]) -> Host:
    """A Host from a row of ``_HOST_COLUMNS`` and its MACs."""
    return Host(
        id=r[0], macs=macs, name=r[1], uuid=r[2], arch=r[3], arch_source=r[4], ip=r[5],
        vendor_class=r[6], user_class=r[7], first_seen=r[8], last_seen=r[9], profile=r[10],
        state=State(r[11]), state_changed=r[12], labels=r[13], vars=r[14], meta=r[15],
    )  # fmt: skip
