"""Pruning the timeline in the SQL store: which events a retention rule lets go, and going.

The rule is stated once, here, in SQL (``_unprotected`` and the scans): an event goes when
it is older than the age limit or beyond a host's newest ``keep`` events, unless it is one
of the host's state changes since the start of its ``keep_deployments``-th newest
deployment (every state change, when the host has had fewer deployments). ``store/retention.py``
walks the database with these reads and deletes in small batches.

Reads pick, deletes only delete the ids they are given. That needs no lock across the two:
events never change (append-only), ids are never reused, and an event that may go stays
free to go: it only grows older, its host only gains newer events, and a new deployment
only moves the protected range forward.
"""

from __future__ import annotations

from typing import Any

from pxehook.store.dialect import Tx
from pxehook.store.sqlcore import SQLCore


class PruneSQL(SQLCore):
    """The retention half of the ``Store`` protocol (``store/retention.py`` drives it)."""

    def _unprotected(self, keep_deployments: int) -> tuple[str, list[Any]]:
        """A WHERE term (over ``events e``) false for the events no limit may remove."""
        if keep_deployments <= 0:
            return "1=1", []
        to = self.dialect.json_text("d.data", "to")
        return (
            "NOT (e.kind = 'state.changed' AND e.id >= COALESCE(("  # noqa: S608
            "SELECT d.id FROM events d WHERE d.host_id = e.host_id "
            f"AND d.kind = 'state.changed' AND {to} = 'deploying' "
            "ORDER BY d.id DESC LIMIT 1 OFFSET ?), 0))",
            [keep_deployments - 1],
        )

    def events_aged(
        self, older_than: float, keep_deployments: int, *, after: tuple[float, int] | None,
        limit: int,
    ) -> tuple[list[int], tuple[float, int] | None]:  # fmt: skip
        """``after``/the cursor returned: (at, id) of the last event returned."""
        free, free_args = self._unprotected(keep_deployments)
        where, args = "e.at < ?", [older_than]
        if after is not None:
            # a range on the (at, id) index: an OR of the two cases made both databases
            # collect and sort every remaining row for each batch
            where += " AND e.at >= ? AND (e.at > ? OR e.id > ?)"
            args += [after[0], after[0], after[1]]
        sql = (
            f"SELECT e.id, e.at FROM events e WHERE {where} AND {free} "  # noqa: S608
            f"ORDER BY e.at, e.id LIMIT {int(limit)}"
        )
        rows = self._read(lambda tx: tx.all(sql, [*args, *free_args]))
        cursor = (float(rows[-1][1]), int(rows[-1][0])) if len(rows) == limit else None
        return [int(r[0]) for r in rows], cursor

    def events_beyond(
        self, host_id: int, keep: int, keep_deployments: int, *, not_older_than: float | None,
        after_id: int, limit: int,
    ) -> tuple[list[int], int | None]:  # fmt: skip
        free, free_args = self._unprotected(keep_deployments)
        age, age_args = ("", []) if not_older_than is None else (" AND e.at >= ?", [not_older_than])

        def read(tx: Tx) -> list[Any]:
            edge = tx.one(
                f"SELECT id FROM events e WHERE e.host_id=?{age} "  # noqa: S608
                "ORDER BY e.id DESC LIMIT 1 OFFSET ?",
                [host_id, *age_args, keep],
            )
            if edge is None:
                return []
            sql = (
                "SELECT e.id FROM events e WHERE e.host_id = ? AND e.id <= ? AND e.id > ?"  # noqa: S608
                f"{age} AND {free} ORDER BY e.id LIMIT {int(limit)}"
            )
            return tx.all(sql, [host_id, edge[0], after_id, *age_args, *free_args])

        ids = [int(r[0]) for r in self._read(read)]
        return ids, (ids[-1] if len(ids) == limit else None)

    def event_hosts_over(
        self, keep: int, *, not_older_than: float | None, since_id: int, after_host: int,
        limit: int,
    ) -> list[int]:  # fmt: skip
        where, args = "host_id > ?", [after_host]
        if not_older_than is not None:
            where, args = where + " AND at >= ?", [*args, not_older_than]
        if since_id > 0:
            where += " AND host_id IN (SELECT host_id FROM events WHERE id > ?)"
            args.append(since_id)
        sql = (
            f"SELECT host_id FROM events WHERE {where} "  # noqa: S608
            f"GROUP BY host_id HAVING COUNT(*) > ? ORDER BY host_id LIMIT {int(limit)}"
        )
        return [int(r[0]) for r in self._read(lambda tx: tx.all(sql, [*args, keep]))]

    def events_delete(self, ids: list[int]) -> int:
        if not ids:
            return 0

        def delete(tx: Tx) -> int:
            gone = 0
            for start in range(0, len(ids), 500):
                part = ids[start : start + 500]
                marks = ",".join("?" * len(part))
                gone += tx.run(f"DELETE FROM events WHERE id IN ({marks})", part).rowcount  # noqa: S608
            return gone

        return self._write(delete)

    def event_stats(self, *, count: bool = True) -> dict[str, Any]:
        def read(tx: Tx) -> dict[str, Any]:
            last, oldest = tx.one("SELECT MAX(id), MIN(at) FROM events")  # two index ends
            stats = {"last_id": int(last or 0), "oldest": oldest}
            if count:  # a scan of the whole table: only when asked
                stats["events"] = int(tx.one("SELECT COUNT(*) FROM events")[0])
            return stats

        return self._read(read)
