"""Timeline, profiles, API tokens and server values of the SQL store."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pxehook.errors import Conflict, NotFound
from pxehook.models import Event, Profile
from pxehook.store.dialect import EventData, Tx, dump_json
from pxehook.store.sqlcore import SQLCore

#: The generation (see ``Store.generation``), one statement; ``boot/changes.py`` runs it too.
GENERATION_QUERY = "SELECT value FROM server_values WHERE key='generation'"
_EVENT_COLUMNS = "id, host_id, at, kind, source, message, data, rack"


class RecordSQL(SQLCore):
    """The timeline, profile, token and server-value half of the ``Store`` protocol."""

    # events ---------------------------------------------------------------------------------
    def event_add(
        self, host_id: int, kind: str, source: str, message: str = "",
        data: dict[str, Any] | None = None, at: float | None = None,
    ) -> Event:  # fmt: skip
        return self._write(lambda tx: self._event(tx, host_id, kind, source, message, data, at))

    def event_add_many(
        self,
        rows: list[tuple[int, str, str, str, EventData, float]],
        *,
        seen: Sequence[tuple[int, float, float]] = (),
    ) -> int:
        json_param = self.dialect.json_param
        rack = self.rack
        payload = [
            (host_id, at, kind, source, message, json_param(data or {}), rack, host_id)
            for host_id, kind, source, message, data, at in rows
        ]
        touches = [(at, host_id, older) for host_id, at, older in seen]

        def insert(tx: Tx) -> int:
            # events of a host deleted meanwhile are dropped
            tx.many(
                "INSERT INTO events(host_id, at, kind, source, message, data, rack) "
                "SELECT ?,?,?,?,?,?,? WHERE EXISTS (SELECT 1 FROM hosts WHERE id=?)",
                payload,
            )
            if touches:  # not a change of the host (no version, no generation)
                tx.many(
                    "UPDATE hosts SET last_seen=? WHERE id=? "
                    "AND (last_seen IS NULL OR last_seen < ?)",
                    touches,
                )
            return len(payload)

        return self._write(insert) if payload or touches else 0

    def events(self, host_id: int, *, since_id: int = 0, limit: int | None = None) -> list[Event]:
        sql = f"SELECT {_EVENT_COLUMNS} FROM events WHERE host_id=? AND id>? ORDER BY id"  # noqa: S608
        if limit:
            sql += f" LIMIT {int(limit)}"
        return self._read(lambda tx: self._events_of(tx.all(sql, (host_id, since_id))))

    def events_page(self, host_id: int, *, before_id: int | None = None, limit: int) -> list[Event]:
        before = "" if before_id is None else " AND id<?"
        sql = (
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE host_id=?{before} "  # noqa: S608
            f"ORDER BY id DESC LIMIT {int(limit)}"
        )
        args = (host_id,) if before_id is None else (host_id, before_id)
        return self._read(lambda tx: self._events_of(tx.all(sql, args)))

    def _events_of(self, rows: list[Any]) -> list[Event]:
        json_value = self.dialect.json_value
        return [
            Event(id=r[0], host_id=r[1], at=r[2], kind=r[3], source=r[4], message=r[5],
                  data=json_value(r[6]), rack=r[7])
            for r in rows
        ]  # fmt: skip

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
        row = self._read(lambda tx: tx.one(GENERATION_QUERY))
        return int(row[0] or 0) if row else 0
