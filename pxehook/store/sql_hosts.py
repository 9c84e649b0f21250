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
from pxehook.store.sqlcore import BY_ID, BY_MAC, EVENT_INSERT, HOST_COLUMNS, SQLCore

#: SQL list of the trusted IP sources (fixed words from models.TRUSTED_IP_SOURCES).
_TRUSTED = ", ".join(f"'{source}'" for source in sorted(TRUSTED_IP_SOURCES))
#: ids per ``IN (…)`` list: far below every database's parameter limit
CHUNK = 500
#: the columns of a whole host a write gives (``host_values``), in order
_WRITTEN = (
    "name, uuid, arch, arch_source, ip, vendor_class, user_class, first_seen, last_seen, "
    "profile, state, state_changed, labels, vars, meta, ip_source, dhcp_hostname, state_clock, "
    "state_boot"
)
#: every host insert writes its change stamp (``Dialect.insert_stamp``) after the id
_INSERT_HOST = f"INSERT INTO hosts(changed, {_WRITTEN}) VALUES ({','.join('?' * 20)})"  # noqa: S608
_UPDATE_HOST = (
    "UPDATE hosts SET "  # noqa: S608
    + "".join(f"{column}=?, " for column in _WRITTEN.split(", "))
    + "version=version+1 WHERE id=? AND version=?"
)
#: a batch's new host: its id (``Dialect.new_ids``) and change stamp given (``insert_stamp``)
INSERT_NEW_HOST = f"INSERT INTO hosts(id, changed, {_WRITTEN}) VALUES ({','.join('?' * 21)})"  # noqa: S608


def host_values(host: Host, json_param: Any) -> tuple[Any, ...]:
    """The ``_WRITTEN`` columns of ``host`` (``json_param``: the dialect's JSON parameter)."""
    return (
        host.name, host.uuid.lower(), host.arch, host.arch_source, host.ip,
        host.vendor_class, host.user_class, host.first_seen, host.last_seen, host.profile,
        str(host.state), host.state_changed, json_param(host.labels), json_param(host.vars),
        json_param(host.meta), str(host.ip_source), host.dhcp_hostname, host.state_clock,
        host.state_boot,
    )  # fmt: skip


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
        # "name<>''" lets both databases use the partial unique index (else: a full scan)
        return self._read(lambda tx: self._host_where(tx, "name=? AND name<>''", (name,)))

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

    def name_owners(self, names: Iterable[str]) -> dict[str, int]:
        """The host id holding each of ``names`` that some host holds."""
        return self._owners_by("name", names)

    def uuid_owners(self, uuids: Iterable[str]) -> dict[str, int]:
        """The host id holding each of ``uuids`` (as ``usable_uuid`` spells them)."""
        return self._owners_by("uuid", uuids)

    def _owners_by(self, column: str, values: Iterable[str]) -> dict[str, int]:
        wanted = sorted(set(values) - {""})

        def read(tx: Tx) -> dict[str, int]:
            owners: dict[str, int] = {}
            for part in chunks(wanted):
                sql = (
                    f"SELECT {column}, id FROM hosts "  # noqa: S608 - a column name of ours
                    f"WHERE {column} IN ({marks(len(part))}) AND {column}<>''"
                )
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

    # whole-host writes ----------------------------------------------------------------------
    def host_put(self, host: Host, *, source: str = "api", message: str = "") -> Host:
        if not host.macs:
            raise Conflict("a host needs at least one MAC address")
        return self._write(lambda tx: self._put(tx, host, source, message))

    def _put(self, tx: Tx, host: Host, source: str, message: str) -> Host:
        values = host_values(host, self.dialect.json_param)
        self._check_macs(tx, host.macs, host.id)
        if host.id is None:
            stamped = (self.dialect.insert_stamp(tx), *values)
            host_id, kind = tx.insert(_INSERT_HOST, stamped), "host.created"
        else:
            updated = tx.run(_UPDATE_HOST, (*values, host.id, host.version))
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

    def hosts_by_mac(self, macs: list[str]) -> dict[str, Host]:
        found = self._read(lambda tx: self._hosts_of(tx, macs))
        return {mac: found[mac] for mac in macs if mac in found}

    def _hosts_of(self, tx: Tx, macs: list[str], *, lock: bool = False) -> dict[str, Host]:
        """MAC -> host for every MAC of the hosts owning one of ``macs`` (chunked reads)."""
        found: dict[str, Host] = {}
        for part in chunks(sorted(set(macs))):
            ids = f"SELECT host_id FROM host_macs WHERE mac IN ({marks(len(part))})"  # noqa: S608
            sql = f"SELECT {HOST_COLUMNS} FROM hosts WHERE id IN ({ids}) ORDER BY id"  # noqa: S608
            rows = tx.all(sql + (self.dialect.for_update if lock else ""), part)
            for host in self._with_all_macs(tx, rows):
                found.update((mac, host) for mac in host.macs)
        return found

    def observe(self, obs: Observation) -> tuple[Host, bool]:
        return self.observe_many([obs])[0]

    def observe_many(self, observations: list[Observation]) -> list[tuple[Host, bool]]:
        def merge(tx: Tx) -> list[tuple[Host, bool]]:
            # read-modify-write in one transaction, the rows locked: never a stale merge
            hosts = self._hosts_of(tx, [obs.mac for obs in observations], lock=True)
            out: list[tuple[Host, bool]] = []
            events: list[tuple[Any, ...]] = []
            bump = False
            for obs in observations:
                at = now() if obs.at is None else obs.at
                before = hosts.get(obs.mac)
                created = before is None
                if before is None:
                    before = Host(None, (obs.mac,), first_seen=at, last_seen=at,
                                  state=State.NEW, state_changed=at)  # fmt: skip
                changes = self._identity_checked(tx, observation_changes(before, obs, at), before)
                if created:
                    after = self._insert_observed(tx, before, changes)
                elif changes:
                    sets = ", ".join(f"{column}=?" for column in changes)
                    sql = f"UPDATE hosts SET {sets}, version=version+1 WHERE id=?"  # noqa: S608 - names from merge
                    tx.run(sql, (*changes.values(), before.id))
                    after = before.with_(**changes, version=before.version + 1)
                else:
                    after = before
                events += _sighting_events(before, after, obs, at, created)
                if ("ip" in changes or "ip_source" in changes) and after.trusted_ip:
                    for other in self._take_ip(tx, after, obs, at):
                        hosts.update((m, other) for m in other.macs)
                hosts.update((mac, after) for mac in after.macs)
                bump = bump or created or "arch" in changes
                out.append((after, created))
            # two first sightings of one MAC at once: the second one's insert fails on
            # the key and its transaction runs again, finding the first one's host
            tx.many(
                "INSERT INTO host_macs(mac, host_id, position) VALUES (?,?,0)",
                [(host.mac, host.id) for host, created in out if created],
            )
            json_param = self.dialect.json_param
            tx.many(
                EVENT_INSERT,
                [
                    (h, at, k, src, msg, json_param(data or {}), self.rack)
                    for h, k, src, msg, data, at in events
                ],
            )
            if bump:
                self._bump(tx)
            return out

        return self._write(merge)

    def _identity_checked(self, tx: Tx, changes: dict[str, Any], host: Host) -> dict[str, Any]:
        """``changes`` without a UUID another host holds (never a second holder)."""
        if "uuid" in changes and self._uuid_holder(tx, changes["uuid"], host.id):
            return {k: v for k, v in changes.items() if k != "uuid"}
        return changes

    def _insert_observed(self, tx: Tx, blank: Host, changes: dict[str, Any]) -> Host:
        """The row of a MAC's first sighting: ``new``, with what was observed (its MAC and
        events are written by ``observe_many`` for the whole batch)."""
        fields = {
            "first_seen": blank.first_seen,
            "last_seen": blank.last_seen,
            "state": str(State.NEW),
            "state_changed": blank.state_changed,
            **changes,
        }
        host_id = tx.insert(
            f"INSERT INTO hosts(changed, {', '.join(fields)}) "  # noqa: S608
            f"VALUES ({marks(len(fields) + 1)})",
            (self.dialect.insert_stamp(tx), *fields.values()),
        )
        return blank.with_(id=host_id, **{**fields, "state": State.NEW})

    def _uuid_holder(self, tx: Tx, uuid: str, host_id: int | None) -> int | None:
        """The id of another host that holds ``uuid``, if any."""
        row = tx.one("SELECT id FROM hosts WHERE uuid=? AND id<>?", (uuid, host_id or 0))
        return None if row is None else int(row[0])

    def _take_ip(self, tx: Tx, lessee: Host, obs: Observation, at: float) -> list[Host]:
        """A trusted lease of an IP takes it from every other host that still shows it (one
        address, one lessee), with an ``ip.changed`` event on each; returns those hosts."""
        rows = tx.all("SELECT id FROM hosts WHERE ip=? AND id<>?", (lessee.ip, lessee.id))
        for (other,) in rows:
            tx.run("UPDATE hosts SET ip='', ip_source='', version=version+1 WHERE id=?", (other,))
            note = f"IP {lessee.ip} -> none: now leased to {obs.mac} ({obs.source})"
            data = {"from": lessee.ip, "to": "", "ip_source": "", "trusted": False}
            self._event(tx, other, "ip.changed", obs.source, note, data, at)
        return [self._reread(tx, other) for (other,) in rows]


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


def _sighting_events(
    before: Host, after: Host, obs: Observation, at: float, created: bool
) -> list[tuple[Any, ...]]:
    """(host_id, kind, source, message, data, at) rows a sighting adds to the timeline: a
    first sighting, or an IP that appeared, moved or was confirmed."""
    if created:
        message = f"first seen by {obs.source}"
        if after.ip:
            message += f" at {after.ip}" + ("" if after.trusted_ip else " (not trusted)")
        data = _ip_data(before.with_(ip=""), after) if after.ip else None
        return [(after.id, "host.discovered", obs.source, message, data, at)]
    if after.ip == before.ip and after.ip_source == before.ip_source:
        return []
    return [(after.id, *_ip_event(before, after, obs), at)]
