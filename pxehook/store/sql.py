"""The ``Store`` protocol written once, in SQL both back ends run, over a ``Dialect``.

Every method is one transaction: reads in a read transaction (one consistent snapshot, so
a host and its MACs, or ``host_all``'s two queries, always agree), writes in a write
transaction the dialect serialises. A transaction that meets a lock or a racing writer is
run again until ``busy_timeout_ms`` runs out (``transactions.py``); driver errors leave
as StoreError/Conflict. Anything that may change a boot answer bumps the ``generation``
once, as the last write of its transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from pxehook.errors import Conflict, NotFound, StoreError
from pxehook.models import Event, Host, Observation, Profile, State, now
from pxehook.store import migrations
from pxehook.store.dialect import Dialect, Tx, dump_json
from pxehook.store.merge import merged, observation_changes
from pxehook.store.transactions import Transactions

T = TypeVar("T")

_HOST_COLUMNS = (
    "id, name, uuid, arch, arch_source, ip, vendor_class, user_class, first_seen, last_seen, "
    "profile, state, state_changed, labels, vars, meta"
)
_BY_MAC = "id = (SELECT host_id FROM host_macs WHERE mac=?)"
_BY_ID = "id=?"


class SQLStore:
    """The ``Store`` protocol over one SQL database, through its ``Dialect``."""

    def __init__(self, dialect: Dialect, *, migrate: bool = True) -> None:
        self.dialect = dialect
        self._transactions = Transactions(dialect)
        if migrate:
            self.migrate()

    def close(self) -> None:
        self._transactions.close()

    def _read(self, fn: Callable[[Tx], T]) -> T:
        return self._transactions.run(fn, write=False)

    def _write(self, fn: Callable[[Tx], T]) -> T:
        return self._transactions.run(fn, write=True)

    # schema ---------------------------------------------------------------------------------
    def schema_version(self) -> int:
        return self._read(self.dialect.schema_version)

    def migrate(self) -> int:
        if self._check_version(self.schema_version()) < migrations.LATEST:
            self._write(self._apply_steps)
        return self.schema_version()

    def _check_version(self, version: int) -> int:
        if version > migrations.LATEST:
            raise StoreError(
                f"{self.dialect.label} has schema {version}, newer than this pxehook "
                f"({migrations.LATEST})",
                hint="upgrade pxehook",
            )
        return version

    def _apply_steps(self, tx: Tx) -> None:
        # under the migration lock, from the version in force now: another process may
        # have migrated since we looked
        version = self._check_version(self.dialect.lock_schema(tx))
        for step in range(version, migrations.LATEST):
            self.dialect.run_script(tx, migrations.render(migrations.STEPS[step], self.dialect))
            self.dialect.set_schema_version(tx, step + 1)

    # helpers --------------------------------------------------------------------------------
    def _host_where(
        self, tx: Tx, where: str, args: tuple[Any, ...], *, lock: bool = False
    ) -> Host | None:
        """The host a WHERE clause (a literal of this module) selects, with its MACs;
        ``lock`` holds its row until the transaction ends."""
        sql = f"SELECT {_HOST_COLUMNS} FROM hosts WHERE {where}"  # noqa: S608
        row = tx.one(sql + (self.dialect.for_update if lock else ""), args)
        return None if row is None else self._with_macs(tx, row)

    def _with_macs(self, tx: Tx, row: tuple[Any, ...]) -> Host:
        macs = tx.all("SELECT mac FROM host_macs WHERE host_id=? ORDER BY position, mac", (row[0],))
        return self._host_from_row(row, tuple(m for (m,) in macs))

    def _host_from_row(self, row: tuple[Any, ...], macs: tuple[str, ...]) -> Host:
        """A Host from a ``_HOST_COLUMNS`` row and its MACs."""
        json_value = self.dialect.json_value
        return Host(
            id=row[0], macs=macs, name=row[1], uuid=row[2], arch=row[3], arch_source=row[4],
            ip=row[5], vendor_class=row[6], user_class=row[7], first_seen=row[8],
            last_seen=row[9], profile=row[10], state=State(row[11]), state_changed=row[12],
            labels=json_value(row[13]), vars=json_value(row[14]), meta=json_value(row[15]),
        )  # fmt: skip

    def _reread(self, tx: Tx, host_id: int) -> Host:
        """The host as this transaction wrote it."""
        host = self._host_where(tx, _BY_ID, (host_id,))
        assert host is not None
        return host

    @staticmethod
    def _bump(tx: Tx) -> None:
        """Grow the generation: call once, as the last write of a transaction."""
        generation = "CAST(CAST(value AS BIGINT) + 1 AS TEXT)"
        tx.run(f"UPDATE server_values SET value = {generation} WHERE key='generation'")  # noqa: S608

    def _event(
        self, tx: Tx, host_id: int, kind: str, source: str, message: str,
        data: dict[str, Any] | None, at: float | None,
    ) -> Event:  # fmt: skip
        at = now() if at is None else at
        event_id = tx.insert(
            "INSERT INTO events(host_id, at, kind, source, message, data) VALUES (?,?,?,?,?,?)",
            (host_id, at, kind, source, message, self.dialect.json_param(data or {})),
        )
        return Event(id=event_id, host_id=host_id, at=at, kind=kind, source=source,
                     message=message, data=dict(data or {}))  # fmt: skip

    # hosts ----------------------------------------------------------------------------------
    def host_get(self, mac: str) -> Host | None:
        return self._read(lambda tx: self._host_where(tx, _BY_MAC, (mac,)))

    def host_by_id(self, host_id: int) -> Host | None:
        return self._read(lambda tx: self._host_where(tx, _BY_ID, (host_id,)))

    def host_by_ip(self, ip: str) -> Host | None:
        where = "ip=? ORDER BY last_seen DESC NULLS LAST LIMIT 1"
        return self._read(lambda tx: self._host_where(tx, where, (ip,)))

    def host_by_uuid(self, uuid: str) -> Host | None:
        where = "uuid=? AND uuid != '' LIMIT 1"
        return self._read(lambda tx: self._host_where(tx, where, (uuid.lower(),)))

    def host_list(
        self, *, state: str | None = None, profile: str | None = None,
        label: tuple[str, str] | None = None, limit: int | None = None,
    ) -> list[Host]:  # fmt: skip
        clauses: list[str] = []
        args: list[Any] = []
        if state:
            clauses.append("state=?")
            args.append(state)
        if profile:
            clauses.append("profile=?")
            args.append(profile)
        if label:
            clause, label_args = self.dialect.label_filter(*label)
            clauses.append(clause)
            args.extend(label_args)
        where = " AND ".join(clauses) or "1=1"
        sql = f"SELECT {_HOST_COLUMNS} FROM hosts WHERE {where} ORDER BY id"  # noqa: S608
        if limit:
            sql += f" LIMIT {int(limit)}"
        return self._read(lambda tx: [self._with_macs(tx, row) for row in tx.all(sql, args)])

    def host_all(self) -> list[Host]:
        def read(tx: Tx) -> list[Host]:
            macs: dict[int, list[str]] = {}
            for mac, host_id in tx.all(
                "SELECT mac, host_id FROM host_macs ORDER BY host_id, position, mac"
            ):
                macs.setdefault(host_id, []).append(mac)
            rows = tx.all(f"SELECT {_HOST_COLUMNS} FROM hosts ORDER BY id")  # noqa: S608
            return [self._host_from_row(row, tuple(macs.get(row[0], ()))) for row in rows]

        return self._read(read)

    def host_put(self, host: Host, *, source: str = "api", message: str = "") -> Host:
        if not host.macs:
            raise Conflict("a host needs at least one MAC address")
        json_param = self.dialect.json_param
        values = (
            host.name, host.uuid.lower(), host.arch, host.arch_source, host.ip,
            host.vendor_class, host.user_class, host.first_seen, host.last_seen, host.profile,
            str(host.state), host.state_changed, json_param(host.labels), json_param(host.vars),
            json_param(host.meta),
        )  # fmt: skip

        def put(tx: Tx) -> Host:
            for mac in host.macs:
                owner = tx.one("SELECT host_id FROM host_macs WHERE mac=?", (mac,))
                if owner and owner[0] != host.id:
                    raise Conflict(f"MAC {mac} already belongs to host {owner[0]}")
            if host.id is None:
                host_id = tx.insert(
                    "INSERT INTO hosts(name, uuid, arch, arch_source, ip, vendor_class, "
                    "user_class, first_seen, last_seen, profile, state, state_changed, labels, "
                    "vars, meta) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    values,
                )
                kind = "host.created"
            else:
                updated = tx.run(
                    "UPDATE hosts SET name=?, uuid=?, arch=?, arch_source=?, ip=?, "
                    "vendor_class=?, user_class=?, first_seen=?, last_seen=?, profile=?, "
                    "state=?, state_changed=?, labels=?, vars=?, meta=? WHERE id=?",
                    (*values, host.id),
                )
                if updated.rowcount == 0:
                    raise NotFound(f"host {host.id} does not exist")
                host_id, kind = host.id, "host.updated"
                tx.run("DELETE FROM host_macs WHERE host_id=?", (host_id,))
            tx.many(
                "INSERT INTO host_macs(mac, host_id, position) VALUES (?,?,?)",
                [(mac, host_id, i) for i, mac in enumerate(host.macs)],
            )
            self._event(tx, host_id, kind, source, message, None, None)
            self._bump(tx)
            return self._reread(tx, host_id)

        return self._write(put)

    def host_delete(self, host_id: int) -> None:
        def delete(tx: Tx) -> None:
            if tx.run("DELETE FROM hosts WHERE id=?", (host_id,)).rowcount == 0:
                raise NotFound(f"host {host_id} does not exist")
            self._bump(tx)

        self._write(delete)

    def observe(self, obs: Observation) -> tuple[Host, bool]:
        at = now() if obs.at is None else obs.at

        def merge(tx: Tx) -> tuple[Host, bool]:
            host = self._host_where(tx, _BY_MAC, (obs.mac,), lock=True)
            created = host is None
            if host is None:
                host_id = tx.insert(
                    "INSERT INTO hosts(first_seen, last_seen, state, state_changed) "
                    "VALUES (?,?,?,?)",
                    (at, at, str(State.NEW), at),
                )
                # two first sightings of one MAC at once: the second one's insert fails on
                # the key and its transaction runs again, finding the first one's host
                tx.run(
                    "INSERT INTO host_macs(mac, host_id, position) VALUES (?,?,0)",
                    (obs.mac, host_id),
                )
                host = self._reread(tx, host_id)
                message = f"first seen by {obs.source}"
                self._event(tx, host_id, "host.discovered", obs.source, message, None, at)
            changes = observation_changes(host, obs, at)
            if changes:
                sets = ", ".join(f"{column}=?" for column in changes)
                sql = f"UPDATE hosts SET {sets} WHERE id=?"  # noqa: S608 - names from merge
                tx.run(sql, (*changes.values(), host.id))
            if created or "arch" in changes:
                self._bump(tx)
            return self._reread(tx, host.id), created

        return self._write(merge)

    def set_state(
        self, host_id: int, state: State, *, expected: State | None = None, source: str,
        message: str = "", meta: dict[str, Any] | None = None,
    ) -> Host:  # fmt: skip
        def change(tx: Tx) -> Host:
            host = self._host_where(tx, _BY_ID, (host_id,), lock=True)
            if host is None:
                raise NotFound(f"host {host_id} does not exist")
            if expected is not None and host.state != expected:
                raise Conflict(f"host {host.mac} is {host.state}, not {expected}")
            at = now()
            tx.run(
                "UPDATE hosts SET state=?, state_changed=?, meta=? WHERE id=?",
                (str(state), at, self.dialect.json_param(merged(host.meta, meta or {})),
                 host_id),
            )  # fmt: skip
            self._event(tx, host_id, "state.changed", source,
                        message or f"{host.state} -> {state}",
                        {"from": str(host.state), "to": str(state)}, at)  # fmt: skip
            self._bump(tx)
            return self._reread(tx, host_id)

        return self._write(change)

    def update_meta(self, host_id: int, changes: dict[str, Any]) -> Host:
        def update(tx: Tx) -> Host:
            host = self._host_where(tx, _BY_ID, (host_id,), lock=True)
            if host is None:
                raise NotFound(f"host {host_id} does not exist")
            tx.run(
                "UPDATE hosts SET meta=? WHERE id=?",
                (self.dialect.json_param(merged(host.meta, changes)), host_id),
            )
            self._bump(tx)
            return self._reread(tx, host_id)

        return self._write(update)

    # events ---------------------------------------------------------------------------------
    def event_add(
        self, host_id: int, kind: str, source: str, message: str = "",
        data: dict[str, Any] | None = None, at: float | None = None,
    ) -> Event:  # fmt: skip
        return self._write(lambda tx: self._event(tx, host_id, kind, source, message, data, at))

    def event_add_many(self, rows: list[tuple[int, str, str, str, dict[str, Any], float]]) -> int:
        json_param = self.dialect.json_param
        payload = [
            (host_id, at, kind, source, message, json_param(data or {}), host_id)
            for host_id, kind, source, message, data, at in rows
        ]

        def insert(tx: Tx) -> int:
            # events of a host deleted meanwhile are dropped
            tx.many(
                "INSERT INTO events(host_id, at, kind, source, message, data) "
                "SELECT ?,?,?,?,?,? WHERE EXISTS (SELECT 1 FROM hosts WHERE id=?)",
                payload,
            )
            return len(payload)

        return self._write(insert) if payload else 0

    def events(self, host_id: int, *, since_id: int = 0, limit: int | None = None) -> list[Event]:
        sql = (
            "SELECT id, host_id, at, kind, source, message, data FROM events "
            "WHERE host_id=? AND id>? ORDER BY id"
        )
        if limit:
            sql += f" LIMIT {int(limit)}"
        json_value = self.dialect.json_value

        def read(tx: Tx) -> list[Event]:
            return [
                Event(id=r[0], host_id=r[1], at=r[2], kind=r[3], source=r[4], message=r[5],
                      data=json_value(r[6]))
                for r in tx.all(sql, (host_id, since_id))
            ]  # fmt: skip

        return self._read(read)

    # profiles -------------------------------------------------------------------------------
    def profiles_replace(self, profiles: Iterable[Profile]) -> None:
        wanted = {p.name: p.as_dict() for p in profiles}
        json_param, json_value = self.dialect.json_param, self.dialect.json_value

        def replace_all(tx: Tx) -> None:
            current = {n: json_value(d) for n, d in tx.all("SELECT name, data FROM profiles")}
            if dump_json(current) == dump_json(wanted):
                return  # nothing changed: no write, no generation bump
            tx.run("DELETE FROM profiles")
            tx.many(
                "INSERT INTO profiles(name, data) VALUES (?,?)",
                [(name, json_param(data)) for name, data in wanted.items()],
            )
            self._bump(tx)

        self._write(replace_all)

    def profile_get(self, name: str) -> Profile | None:
        row = self._read(lambda tx: tx.one("SELECT data FROM profiles WHERE name=?", (name,)))
        return Profile.from_dict(self.dialect.json_value(row[0])) if row else None

    def profile_list(self) -> list[Profile]:
        rows = self._read(lambda tx: tx.all("SELECT data FROM profiles ORDER BY name"))
        return [Profile.from_dict(self.dialect.json_value(data)) for (data,) in rows]

    # tokens ---------------------------------------------------------------------------------
    def token_put(self, name: str, digest: str, scope: str, created: float) -> None:
        def put(tx: Tx) -> None:
            # a name or digest already taken (even by a writer committing just now) inserts
            # nothing: no lock wait, no retry, the same answer on every database
            inserted = tx.run(
                "INSERT INTO tokens(name, digest, scope, created) VALUES (?,?,?,?) "
                "ON CONFLICT DO NOTHING",
                (name, digest, scope, created),
            )
            if inserted.rowcount == 0:
                if tx.one("SELECT 1 FROM tokens WHERE name=?", (name,)):
                    raise Conflict(f"a token named {name!r} already exists")
                raise Conflict("a token with the same secret already exists")

        self._write(put)

    def token_find(self, digest: str) -> dict[str, Any] | None:
        sql = "SELECT name, scope, created FROM tokens WHERE digest=?"
        row = self._read(lambda tx: tx.one(sql, (digest,)))
        return {"name": row[0], "scope": row[1], "created": row[2]} if row else None

    def token_list(self) -> list[dict[str, Any]]:
        sql = "SELECT name, scope, created FROM tokens ORDER BY name"
        rows = self._read(lambda tx: tx.all(sql))
        return [{"name": n, "scope": s, "created": c} for n, s, c in rows]

    def token_delete(self, name: str) -> None:
        def delete(tx: Tx) -> None:
            if tx.run("DELETE FROM tokens WHERE name=?", (name,)).rowcount == 0:
                raise NotFound(f"no token named {name!r}")

        self._write(delete)

    # housekeeping ---------------------------------------------------------------------------
    def server_value_get(self, key: str, default: str | None = None) -> str | None:
        row = self._read(lambda tx: tx.one("SELECT value FROM server_values WHERE key=?", (key,)))
        return row[0] if row else default

    def server_value_set(self, key: str, value: str) -> None:
        self._write(
            lambda tx: tx.run(
                "INSERT INTO server_values(key, value) VALUES (?,?) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (key, value),
            )
        )

    def server_value_setdefault(self, key: str, value: str) -> str:
        def setdefault(tx: Tx) -> str:
            tx.run(
                "INSERT INTO server_values(key, value) VALUES (?,?) ON CONFLICT(key) DO NOTHING",
                (key, value),
            )
            return str(tx.one("SELECT value FROM server_values WHERE key=?", (key,))[0])

        return self._write(setdefault)

    def generation(self) -> int:
        return int(self.server_value_get("generation", "0") or 0)
