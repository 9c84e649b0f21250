"""The core of the SQL store: transactions, the schema, and the helpers every query uses.

``store/sql.py`` assembles the ``Store`` protocol from ``sql_hosts.py`` (hosts, their MACs,
observations, states) and ``sql_records.py`` (timeline, profiles, tokens, server values),
both built on this class. Every method is one transaction: reads in a read transaction
(one consistent snapshot), writes in a write transaction the dialect serialises; a
transaction that meets a lock or a racing writer runs again until ``busy_timeout_ms``
(``transactions.py``). Anything that may change a boot answer bumps the ``generation``
once, as the last write of its transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pxehook.errors import NotFound, Stale, StoreError
from pxehook.models import Event, Host, State, now
from pxehook.store import migrations
from pxehook.store.dialect import Dialect, Tx
from pxehook.store.leader import LeaderLock
from pxehook.store.transactions import DEFAULT_POOL, PoolSettings, Transactions

T = TypeVar("T")

HOST_COLUMNS = (
    "id, name, uuid, arch, arch_source, ip, vendor_class, user_class, first_seen, last_seen, "
    "profile, state, state_changed, labels, vars, meta, ip_source, dhcp_hostname, version, "
    "state_clock, state_boot"
)
BY_MAC = "id = (SELECT host_id FROM host_macs WHERE mac=?)"
#: Every timeline row is written by this statement: the rack that saw it is the store's.
EVENT_INSERT = (
    "INSERT INTO events(host_id, at, kind, source, message, data, rack) VALUES (?,?,?,?,?,?,?)"
)
BY_ID = "id=?"


class SQLCore:
    """Transactions, schema and row helpers over one SQL database, through its ``Dialect``."""

    def __init__(
        self, dialect: Dialect, *, migrate: bool = True, pool: PoolSettings = DEFAULT_POOL,
        rack: str = "",
    ) -> None:  # fmt: skip
        self.dialect = dialect
        #: the rack (``rack_name``) this process serves: written on every event it records
        self.rack = rack
        self._transactions = Transactions(dialect, pool)
        if migrate:
            self.migrate()

    def close(self) -> None:
        self._transactions.close()

    def leader_lock(self) -> LeaderLock:
        return self.dialect.leader_lock()

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
        sql = f"SELECT {HOST_COLUMNS} FROM hosts WHERE {where}"  # noqa: S608
        row = tx.one(sql + (self.dialect.for_update if lock else ""), args)
        return None if row is None else self._with_macs(tx, row)

    def _with_macs(self, tx: Tx, row: tuple[Any, ...]) -> Host:
        macs = tx.all("SELECT mac FROM host_macs WHERE host_id=? ORDER BY position, mac", (row[0],))
        return self._host_from_row(row, tuple(m for (m,) in macs))

    def _host_from_row(self, row: tuple[Any, ...], macs: tuple[str, ...]) -> Host:
        """A Host from a ``HOST_COLUMNS`` row and its MACs."""
        json_value = self.dialect.json_value
        return Host(
            id=row[0], macs=macs, name=row[1], uuid=row[2], arch=row[3], arch_source=row[4],
            ip=row[5], vendor_class=row[6], user_class=row[7], first_seen=row[8],
            last_seen=row[9], profile=row[10], state=State(row[11]), state_changed=row[12],
            labels=json_value(row[13]), vars=json_value(row[14]), meta=json_value(row[15]),
            ip_source=row[16], dhcp_hostname=row[17], version=row[18], state_clock=row[19],
            state_boot=row[20],
        )  # fmt: skip

    def _reread(self, tx: Tx, host_id: int) -> Host:
        """The host as this transaction wrote it."""
        host = self._host_where(tx, BY_ID, (host_id,))
        assert host is not None
        return host

    def _locked(
        self, tx: Tx, host_id: int, version: int | None, read: dict[int, Host] | None = None
    ) -> Host:
        """The host, its row locked, if it is still at ``version`` (None: any); ``read``:
        rows this transaction read and locked already."""
        host = (
            read.get(host_id)
            if read is not None
            else self._host_where(tx, BY_ID, (host_id,), lock=True)
        )
        if host is None:
            raise NotFound(f"host {host_id} does not exist")
        if version is not None and host.version != version:
            raise Stale(
                f"host {host.mac} changed since it was read (version {version}, now "
                f"{host.version})",
                hint="read it again and repeat the change",
            )
        return host

    @staticmethod
    def _disown(tx: Tx, host_id: int) -> None:
        """Something other than the inventory changed this host's operator fields: its
        declaration (and the whole file's) must be looked at again on the next apply."""
        tx.run("UPDATE inventory_hosts SET digest='' WHERE host_id=?", (host_id,))
        tx.run(
            "UPDATE inventory_files SET digest='' "
            "WHERE path IN (SELECT path FROM inventory_hosts WHERE host_id=?)",
            (host_id,),
        )

    def _bump(self, tx: Tx) -> None:
        """Grow the generation: call once, as the last write of a transaction. The dialect
        may tell other processes at commit (PostgreSQL: NOTIFY)."""
        generation = "CAST(CAST(value AS BIGINT) + 1 AS TEXT)"
        tx.run(f"UPDATE server_values SET value = {generation} WHERE key='generation'")  # noqa: S608
        self.dialect.generation_moved(tx)

    def _event(
        self, tx: Tx, host_id: int, kind: str, source: str, message: str,
        data: dict[str, Any] | None, at: float | None,
    ) -> Event:  # fmt: skip
        at = now() if at is None else at
        event_id = tx.insert(
            EVENT_INSERT,
            (host_id, at, kind, source, message, self.dialect.json_param(data or {}), self.rack),
        )
        return Event(id=event_id, host_id=host_id, at=at, kind=kind, source=source,
                     message=message, data=dict(data or {}), rack=self.rack)  # fmt: skip
