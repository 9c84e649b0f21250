"""Host queries and writes of the SQL store: hosts, their MACs, observations, states."""

from __future__ import annotations

from typing import Any

from pxehook.errors import Conflict, NotFound
from pxehook.models import TRUSTED_IP_SOURCES, Host, Observation, State, now, usable_uuid
from pxehook.store.dialect import Tx
from pxehook.store.merge import merged, observation_changes
from pxehook.store.sqlcore import BY_ID, BY_MAC, HOST_COLUMNS, SQLCore

#: SQL list of the trusted IP sources (fixed words from models.TRUSTED_IP_SOURCES).
_TRUSTED = ", ".join(f"'{source}'" for source in sorted(TRUSTED_IP_SOURCES))


class HostSQL(SQLCore):
    """The host half of the ``Store`` protocol."""

    # hosts ----------------------------------------------------------------------------------
    def host_get(self, mac: str) -> Host | None:
        return self._read(lambda tx: self._host_where(tx, BY_MAC, (mac,)))

    def host_by_id(self, host_id: int) -> Host | None:
        return self._read(lambda tx: self._host_where(tx, BY_ID, (host_id,)))

    def host_by_ip(self, ip: str) -> Host | None:
        if not ip:
            return None
        where = f"ip=? AND ip_source IN ({_TRUSTED}) ORDER BY last_seen DESC NULLS LAST LIMIT 1"
        return self._read(lambda tx: self._host_where(tx, where, (ip,)))

    def host_by_uuid(self, uuid: str) -> Host | None:
        wanted = usable_uuid(uuid)
        if not wanted:
            return None
        return self._read(lambda tx: self._host_where(tx, "uuid=?", (wanted,)))

    def host_by_name(self, name: str) -> Host | None:
        if not name:
            return None
        return self._read(lambda tx: self._host_where(tx, "name=?", (name,)))

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

    def host_count(self, *, state: str | None = None, seen_since: float | None = None) -> int:
        clauses, args = ["1=1"], []  # type: list[str], list[Any]
        if state:
            clauses.append("state=?")
            args.append(state)
        if seen_since is not None:
            clauses.append("first_seen >= ?")
            args.append(seen_since)
        sql = "SELECT COUNT(*) FROM hosts WHERE " + " AND ".join(clauses)  # noqa: S608
        return self._read(lambda tx: int(tx.one(sql, args)[0]))

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

    def host_put(self, host: Host, *, source: str = "api", message: str = "") -> Host:
        if not host.macs:
            raise Conflict("a host needs at least one MAC address")
        json_param = self.dialect.json_param
        values = (
            host.name, host.uuid.lower(), host.arch, host.arch_source, host.ip,
            host.vendor_class, host.user_class, host.first_seen, host.last_seen, host.profile,
            str(host.state), host.state_changed, json_param(host.labels), json_param(host.vars),
            json_param(host.meta), str(host.ip_source), host.dhcp_hostname,
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
                    "vars, meta, ip_source, dhcp_hostname) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    values,
                )
                kind = "host.created"
            else:
                updated = tx.run(
                    "UPDATE hosts SET name=?, uuid=?, arch=?, arch_source=?, ip=?, "
                    "vendor_class=?, user_class=?, first_seen=?, last_seen=?, profile=?, "
                    "state=?, state_changed=?, labels=?, vars=?, meta=?, ip_source=?, "
                    "dhcp_hostname=? WHERE id=?",
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
            host = self._host_where(tx, BY_MAC, (obs.mac,), lock=True)
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
            changes = observation_changes(host, obs, at)
            if "uuid" in changes and self._uuid_holder(tx, changes["uuid"], host.id):
                del changes["uuid"]  # another machine's identity: never a second holder
            if changes:
                sets = ", ".join(f"{column}=?" for column in changes)
                sql = f"UPDATE hosts SET {sets} WHERE id=?"  # noqa: S608 - names from merge
                tx.run(sql, (*changes.values(), host.id))
            after = self._reread(tx, host.id)
            ip_moved = "ip" in changes or "ip_source" in changes
            if created:
                message = f"first seen by {obs.source}"
                if after.ip:
                    message += f" at {after.ip}" + ("" if after.trusted_ip else " (not trusted)")
                data = _ip_data(host, after) if after.ip else None
                self._event(tx, after.id, "host.discovered", obs.source, message, data, at)
            elif ip_moved:
                self._event(tx, after.id, *_ip_event(host, after, obs), at)
            if ip_moved and after.trusted_ip:
                self._take_ip(tx, after, obs, at)
            if created or "arch" in changes:
                self._bump(tx)
            return after, created

        return self._write(merge)

    def _uuid_holder(self, tx: Tx, uuid: str, host_id: int) -> int | None:
        """The id of another host that holds ``uuid``, if any."""
        row = tx.one("SELECT id FROM hosts WHERE uuid=? AND id<>?", (uuid, host_id))
        return None if row is None else int(row[0])

    def _take_ip(self, tx: Tx, lessee: Host, obs: Observation, at: float) -> None:
        """A trusted lease of an IP takes it from every other host that still shows it (one
        address, one lessee), with an ``ip.changed`` event on each."""
        rows = tx.all("SELECT id FROM hosts WHERE ip=? AND id<>?", (lessee.ip, lessee.id))
        for (other,) in rows:
            tx.run("UPDATE hosts SET ip='', ip_source='' WHERE id=?", (other,))
            note = f"IP {lessee.ip} -> none: now leased to {obs.mac} ({obs.source})"
            data = {"from": lessee.ip, "to": "", "ip_source": "", "trusted": False}
            self._event(tx, other, "ip.changed", obs.source, note, data, at)

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


def _ip_data(before: Host, after: Host) -> dict[str, Any]:
    """An IP event's data: from, to, the new IP's source and whether it is trusted."""
    return {"from": before.ip, "to": after.ip, "ip_source": str(after.ip_source),
            "trusted": bool(after.trusted_ip)}  # fmt: skip


def _ip_event(before: Host, after: Host, obs: Observation) -> tuple[Any, ...]:
    """(kind, source, message, data) of the event for an IP ``obs`` gave a known host."""
    if after.ip == before.ip:
        kind, message = "ip.confirmed", f"IP {after.ip} confirmed by {obs.source}"
    else:
        kind = "ip.changed"
        message = f"IP {before.ip or 'none'} -> {after.ip} from {obs.source}"
        message += "" if after.trusted_ip else " (not trusted: a client's claim)"
    return kind, obs.source, message, _ip_data(before, after)
