"""What the YAML inventory declared, as the SQL store keeps it between applies.

One row per declared host (``inventory_hosts``: its file, line, fingerprint, profile, groups,
MACs, and the declared fields with their lines) and one per file (``inventory_files``: the
fingerprint of the text last applied and its groups). An apply reads the cheap columns of
every row, the full declarations of the few hosts that changed, and commits the file's row
last. A write by anyone else to a declared host blanks both fingerprints (``_disown``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pxehook.store.dialect import Tx
from pxehook.store.sql_hosts import chunks, marks
from pxehook.store.sql_writes import HostWriteSQL
from pxehook.store.writes import Declaration, DeclaredItem


def _split(text: str) -> tuple[str, ...]:
    return tuple(text.split(",")) if text else ()


class InventorySQL(HostWriteSQL):
    """The inventory's records in the ``Store`` protocol."""

    def declared_index(self) -> list[DeclaredItem]:
        """The cheap columns of every declaration."""
        sql = "SELECT host_id, path, line, digest, profile, groups FROM inventory_hosts"
        rows = self._read(lambda tx: tx.all(sql))
        return [
            DeclaredItem(r[0], r[1], r[2], r[3], r[4], tuple(r[5].split(",")) if r[5] else ())
            for r in rows
        ]

    def declarations(self, host_ids: Iterable[int]) -> dict[int, Declaration]:
        """The full declarations of ``host_ids`` (those that have one), by host id."""
        ids = sorted(set(host_ids))
        json_value = self.dialect.json_value

        def read(tx: Tx) -> dict[int, Declaration]:
            found: dict[int, Declaration] = {}
            for part in chunks(ids):
                sql = (
                    "SELECT host_id, path, line, digest, groups, macs, declared "  # noqa: S608
                    f"FROM inventory_hosts WHERE host_id IN ({marks(len(part))})"
                )
                for r in tx.all(sql, part):
                    body = json_value(r[6])
                    found[r[0]] = Declaration(
                        path=r[1], line=r[2], digest=r[3], groups=_split(r[4]),
                        macs=_split(r[5]), fields=body.get("fields", {}),
                        vars=body.get("vars", {}), labels=body.get("labels", {}),
                        lines=body.get("lines", {}),
                    )  # fmt: skip
            return found

        return self._read(read) if ids else {}

    def inventory_file(self, path: str) -> tuple[str, dict[str, Any]] | None:
        """(fingerprint, info) of the last apply of ``path``; None if never applied."""
        row = self._read(
            lambda tx: tx.one("SELECT digest, info FROM inventory_files WHERE path=?", (path,))
        )
        return None if row is None else (row[0], self.dialect.json_value(row[1]))

    def inventory_commit(
        self, path: str, digest: str, info: dict[str, Any], *,
        moved: dict[int, int] | None = None, dropped: Iterable[int] = (),
    ) -> None:  # fmt: skip
        """Finish an apply of ``path``: its fingerprint and ``info`` (host count, groups),
        new lines of hosts that moved in the file, and no declaration any more for
        ``dropped`` hosts. ``digest`` is kept only if nothing the inventory owns changed
        elsewhere during the apply."""
        json_param = self.dialect.json_param
        gone = sorted(set(dropped))

        def commit(tx: Tx) -> None:
            tx.many(
                "UPDATE inventory_hosts SET line=? WHERE host_id=?",
                [(line, host_id) for host_id, line in (moved or {}).items()],
            )
            for part in chunks(gone):
                sql = f"DELETE FROM inventory_hosts WHERE host_id IN ({marks(len(part))})"  # noqa: S608
                tx.run(sql, part)
            # a host declared by this file whose fingerprint was blanked meanwhile (someone
            # edited it during the apply): the file must be looked at again next time
            blank = tx.one("SELECT 1 FROM inventory_hosts WHERE path=? AND digest=''", (path,))
            tx.run(
                "INSERT INTO inventory_files(path, digest, info) VALUES (?,?,?) "
                "ON CONFLICT(path) DO UPDATE SET digest=excluded.digest, info=excluded.info",
                (path, "" if blank else digest, json_param(info)),
            )
            tx.run("DELETE FROM inventory_files WHERE path<>?", (path,))

        self._write(commit)
