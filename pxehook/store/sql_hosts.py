"""Host reads, whole-host writes and observations of the SQL store.

Partial, conditional writes (patches, state changes, batches) are ``sql_writes.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pxehook.errors import Conflict, NotFound, Stale
from pxehook.models import TRUSTED_IP_SOURCES, Host, Observation, State, now, usable_uuid
from pxehook.store.dialect import Tx
from pxehook.store.merge import observation_changes
from pxehook.store.sqlcore import BY_ID, BY_MAC, HOST_COLUMNS, SQLCore

#: SQL list of the trusted IP sources (fixed words from models.TRUSTED_IP_SOURCES).
_TRUSTED = ", ".join(f"'{source}'" for source in sorted(TRUSTED_IP_SOURCES))
#: ids per ``IN (…)`` list: far below every database's parameter limit
CHUNK = 500
_INSERT_HOST = (
    "INSERT INTO hosts(name, uuid, arch, arch_source, ip, vendor_class, user_class, "
    "first_seen, last_seen, profile, state, state_changed, labels, vars, meta, ip_source, "
    "dhcp_hostname, state_clock, state_boot) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)


def chunks(items: list[Any], size: int = CHUNK) -> Iterable[list[Any]]:
    """``items`` in lists of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def marks(n: int) -> str:
    """``?,?,…`` for an ``IN`` list of ``n`` values."""
    return ",".join("?" * n)


class HostReadSQL(SQLCore):
    """Host reads and whole-host writes of the ``Store`` protocol."""

    # reads ----------------------------------------------------------------------------------
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
        return self._read(lambda tx: self._with_all_macs(tx, tx.all(sql, args)))

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
        return self.host_list()

    def host_many(self, host_ids: Iterable[int]) -> dict[int, Host]:
        """The hosts of ``host_ids`` that exist, by id, read in bulk in one snapshot."""
        ids = sorted(set(host_ids))

        def read(tx: Tx) -> dict[int, Host]:
            rows: list[Any] = []
            for part in chunks(ids):
                sql = f"SELECT {HOST_COLUMNS} FROM hosts WHERE id IN ({marks(len(part))})"  # noqa: S608
                rows += tx.all(sql, part)
            return {host.id: host for host in self._with_all_macs(tx, rows)}  # type: ignore[misc]

        return self._read(read) if ids else {}

    def mac_owners(self, macs: Iterable[str]) -> dict[str, int]:
        """The host id owning each of ``macs`` that some host owns."""
        wanted = sorted(set(macs))

        def read(tx: Tx) -> dict[str, int]:
            if len(wanted) > 20 * CHUNK:  # most of them: one scan beats many lookups
                found = set(wanted)
                return {m: h for m, h in tx.all("SELECT mac, host_id FROM host_macs") if m in found}
            owners: dict[str, int] = {}
            for part in chunks(wanted):
                sql = f"SELECT mac, host_id FROM host_macs WHERE mac IN ({marks(len(part))})"  # noqa: S608
                owners.update(tx.all(sql, part))
            return owners

        return self._read(read) if wanted else {}

    def state_clocks(self, state: State) -> list[tuple[Any, ...]]:
        """(id, profile, state_changed, state_clock, state_boot) of every host in ``state``:
        what the sweep needs to find the few that may be due, read cheaply."""
        sql = "SELECT id, profile, state_changed, state_clock, state_boot FROM hosts WHERE state=?"
        return self._read(lambda tx: [tuple(row) for row in tx.all(sql, (str(state),))])

    def _with_all_macs(self, tx: Tx, rows: list[Any]) -> list[Host]:
        """Hosts from ``HOST_COLUMNS`` rows, their MACs read in bulk."""
        ids = [row[0] for row in rows]
        macs: dict[int, list[str]] = {}
        if len(ids) > 20 * CHUNK:
            wanted = set(ids)
            pairs = tx.all("SELECT mac, host_id FROM host_macs ORDER BY host_id, position, mac")
            for mac, host_id in pairs:
                if host_id in wanted:
                    macs.setdefault(host_id, []).append(mac)
        else:
            for part in chunks(ids):
                sql = (
                    f"SELECT mac, host_id FROM host_macs WHERE host_id IN ({marks(len(part))}) "  # noqa: S608
                    "ORDER BY host_id, position, mac"
                )
                for mac, host_id in tx.all(sql, part):
                    macs.setdefault(host_id, []).append(mac)
        return [self._host_from_row(row, tuple(macs.get(row[0], ()))) for row in rows]

    # whole-host writes ----------------------------------------------------------------------
    def host_put(self, host: Host, *, source: str = "api", message: str = "") -> Host:
        if not host.macs:
            raise Conflict("a host needs at least one MAC address")
        return self._write(lambda tx: self._put(tx, host, source, message))

    def _put(self, tx: Tx, host: Host, source: str, message: str) -> Host:
        json_param = self.dialect.json_param
        values = (
            host.name, host.uuid.lower(), host.arch, host.arch_source, host.ip,
            host.vendor_class, host.user_class, host.first_seen, host.last_seen, host.profile,
            str(host.state), host.state_changed, json_param(host.labels), json_param(host.vars),
            json_param(host.meta), str(host.ip_source), host.dhcp_hostname, host.state_clock,
            host.state_boot,
        )  # fmt: skip
        self._check_macs(tx, host.macs, host.id)
        if host.id is None:
            host_id, kind = tx.insert(_INSERT_HOST, values), "host.created"
        else:
            updated = tx.run(
                "UPDATE hosts SET name=?, uuid=?, arch=?, arch_source=?, ip=?, "
                "vendor_class=?, user_class=?, first_seen=?, last_seen=?, profile=?, "
                "state=?, state_changed=?, labels=?, vars=?, meta=?, ip_source=?, "
                "dhcp_hostname=?, state_clock=?, state_boot=?, version=version+1 "
                "WHERE id=? AND version=?",
                (*values, host.id, host.version),
            )
            if updated.rowcount == 0:
                self._locked(tx, host.id, host.version)  # says NotFound or Stale
                raise Stale(f"host {host.mac} changed since it was read")
            host_id, kind = host.id, "host.updated"
            tx.run("DELETE FROM host_macs WHERE host_id=?", (host_id,))
            self._disown(tx, host_id)
        self._set_macs(tx, host_id, host.macs)
        self._event(tx, host_id, kind, source, message, None, None)
        self._bump(tx)
        return self._reread(tx, host_id)

    @staticmethod
    def _check_macs(tx: Tx, macs: tuple[str, ...], host_id: int | None) -> None:
        for mac in macs:
            owner = tx.one("SELECT host_id FROM host_macs WHERE mac=?", (mac,))
            if owner and owner[0] != host_id:
                raise Conflict(f"MAC {mac} already belongs to host {owner[0]}")

    @staticmethod
    def _set_macs(tx: Tx, host_id: int, macs: tuple[str, ...]) -> None:
        tx.many(
            "INSERT INTO host_macs(mac, host_id, position) VALUES (?,?,?)",
            [(mac, host_id, i) for i, mac in enumerate(macs)],
        )

    def host_delete(self, host_id: int) -> None:
        def delete(tx: Tx) -> None:
            self._disown(tx, host_id)  # the inventory re-creates it on its next apply
            if tx.run("DELETE FROM hosts WHERE id=?", (host_id,)).rowcount == 0:
                raise NotFound(f"host {host_id} does not exist")
            self._bump(tx)

        self._write(delete)

    def observe(self, obs: Observation) -> tuple[Host, bool]:
        at = now() if obs.at is None else obs.at

        def merge(tx: Tx) -> tuple[Host, bool]:
            # read-modify-write in one transaction, the row locked: never a stale merge
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
                sql = f"UPDATE hosts SET {sets}, version=version+1 WHERE id=?"  # noqa: S608 - names from merge
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
            tx.run("UPDATE hosts SET ip='', ip_source='', version=version+1 WHERE id=?", (other,))
            note = f"IP {lessee.ip} -> none: now leased to {obs.mac} ({obs.source})"
            data = {"from": lessee.ip, "to": "", "ip_source": "", "trusted": False}
            self._event(tx, other, "ip.changed", obs.source, note, data, at)


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
