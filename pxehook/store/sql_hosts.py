"""Host queries and writes of the SQL store: hosts, their MACs, observations, states."""

from __future__ import annotations

from typing import Any

from pxehook.errors import Conflict, NotFound
from pxehook.models import Host, Observation, State, now
from pxehook.store.dialect import Tx
from pxehook.store.merge import merged, observation_changes
from pxehook.store.sqlcore import BY_ID, BY_MAC, HOST_COLUMNS, SQLCore

#: MACs per query when reading many hosts at once (below every database's parameter limit)
CHUNK = 500


class HostSQL(SQLCore):
    """The host half of the ``Store`` protocol."""

    # hosts ----------------------------------------------------------------------------------
    def host_get(self, mac: str) -> Host | None:
        return self._read(lambda tx: self._host_where(tx, BY_MAC, (mac,)))

    def host_by_id(self, host_id: int) -> Host | None:
        return self._read(lambda tx: self._host_where(tx, BY_ID, (host_id,)))

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
        sql = f"SELECT {HOST_COLUMNS} FROM hosts WHERE {where} ORDER BY id"  # noqa: S608
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
            rows = tx.all(f"SELECT {HOST_COLUMNS} FROM hosts ORDER BY id")  # noqa: S608
            return [self._host_from_row(row, tuple(macs.get(row[0], ()))) for row in rows]

        return self._read(read)

    def host_page(self, after_id: int, limit: int) -> list[Host]:
        def read(tx: Tx) -> list[Host]:
            sql = f"SELECT {HOST_COLUMNS} FROM hosts WHERE id > ? ORDER BY id LIMIT ?"  # noqa: S608
            rows = tx.all(sql, (after_id, limit))
            if not rows:
                return []
            macs: dict[int, list[str]] = {}
            for mac, host_id in tx.all(
                "SELECT mac, host_id FROM host_macs WHERE host_id BETWEEN ? AND ? "
                "ORDER BY host_id, position, mac",
                (rows[0][0], rows[-1][0]),
            ):
                macs.setdefault(host_id, []).append(mac)
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

    def hosts_by_mac(self, macs: list[str]) -> dict[str, Host]:
        found = self._read(lambda tx: self._hosts_of(tx, macs))
        return {mac: found[mac] for mac in macs if mac in found}

    def _hosts_of(self, tx: Tx, macs: list[str], *, lock: bool = False) -> dict[str, Host]:
        """MAC -> host for every MAC of the hosts owning one of ``macs`` (chunked reads)."""
        found: dict[str, Host] = {}
        wanted = sorted(set(macs))
        for start in range(0, len(wanted), CHUNK):
            part = wanted[start : start + CHUNK]
            marks = ",".join("?" * len(part))
            ids = f"SELECT host_id FROM host_macs WHERE mac IN ({marks})"  # noqa: S608
            sql = f"SELECT {HOST_COLUMNS} FROM hosts WHERE id IN ({ids}) ORDER BY id"  # noqa: S608
            rows = tx.all(sql + (self.dialect.for_update if lock else ""), part)
            if not rows:
                continue
            owned: dict[int, list[str]] = {}
            id_marks = ",".join("?" * len(rows))
            for mac, host_id in tx.all(
                f"SELECT mac, host_id FROM host_macs WHERE host_id IN ({id_marks}) "  # noqa: S608
                "ORDER BY host_id, position, mac",
                [row[0] for row in rows],
            ):
                owned.setdefault(host_id, []).append(mac)
            for row in rows:
                host = self._host_from_row(row, tuple(owned.get(row[0], ())))
                found.update((mac, host) for mac in host.macs)
        return found

    def observe(self, obs: Observation) -> tuple[Host, bool]:
        return self.observe_many([obs])[0]

    def observe_many(self, observations: list[Observation]) -> list[tuple[Host, bool]]:
        def merge(tx: Tx) -> list[tuple[Host, bool]]:
            hosts = self._hosts_of(tx, [obs.mac for obs in observations], lock=True)
            out: list[tuple[Host, bool]] = []
            discovered: list[tuple[Any, ...]] = []
            bump = False
            for obs in observations:
                at = now() if obs.at is None else obs.at
                host = hosts.get(obs.mac)
                created = host is None
                changes: dict[str, Any] = {}
                if host is None:
                    host = self._insert_observed(tx, obs, at)
                    discovered.append((host.id, at, obs.source, f"first seen by {obs.source}"))
                else:
                    changes = observation_changes(host, obs, at)
                if changes:
                    sets = ", ".join(f"{column}=?" for column in changes)
                    sql = f"UPDATE hosts SET {sets} WHERE id=?"  # noqa: S608 - names from merge
                    tx.run(sql, (*changes.values(), host.id))
                    host = host.with_(**changes)
                hosts.update((mac, host) for mac in host.macs)
                bump = bump or created or "arch" in changes
                out.append((host, created))
            if discovered:
                # two first sightings of one MAC at once: the second one's insert fails on
                # the key and its transaction runs again, finding the first one's host
                tx.many(
                    "INSERT INTO host_macs(mac, host_id, position) VALUES (?,?,0)",
                    [(host.mac, host.id) for host, created in out if created],
                )
                empty = self.dialect.json_param({})
                tx.many(
                    "INSERT INTO events(host_id, at, kind, source, message, data) "
                    "VALUES (?,?,'host.discovered',?,?,?)",
                    [(*row, empty) for row in discovered],
                )
            if bump:
                self._bump(tx)
            return out

        return self._write(merge)

    def _insert_observed(self, tx: Tx, obs: Observation, at: float) -> Host:
        """The host row of a MAC's first sighting: ``new``, with what was observed (its MAC
        and ``host.discovered`` event are written by ``observe_many`` for the batch)."""
        blank = Host(None, (obs.mac,), first_seen=at, last_seen=at, state=State.NEW,
                     state_changed=at)  # fmt: skip
        fields = {"first_seen": at, "last_seen": at, "state": str(State.NEW),
                  "state_changed": at, **observation_changes(blank, obs, at)}  # fmt: skip
        marks = ",".join("?" * len(fields))
        host_id = tx.insert(
            f"INSERT INTO hosts({', '.join(fields)}) VALUES ({marks})",  # noqa: S608
            tuple(fields.values()),
        )
        return Host(host_id, (obs.mac,), **{**fields, "state": State.NEW})

    def set_state(
        self, host_id: int, state: State, *, expected: State | None = None, source: str,
        message: str = "", meta: dict[str, Any] | None = None,
    ) -> Host:  # fmt: skip
        def change(tx: Tx) -> Host:
            host = self._host_where(tx, BY_ID, (host_id,), lock=True)
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
            host = self._host_where(tx, BY_ID, (host_id,), lock=True)
            if host is None:
                raise NotFound(f"host {host_id} does not exist")
            tx.run(
                "UPDATE hosts SET meta=? WHERE id=?",
                (self.dialect.json_param(merged(host.meta, changes)), host_id),
            )
            self._bump(tx)
            return self._reread(tx, host_id)

        return self._write(update)
