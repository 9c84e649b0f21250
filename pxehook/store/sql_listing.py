"""The fleet page's reads: filtered, sorted pages with counts, and what changed since a cursor.

Filters, sorts and pages run in SQL (indexed where an index helps), so a page of 100 hosts
out of 10,000 reads about 100 rows plus the counts. One query object gives both the page's
WHERE clause and, for changed rows, whether each matches it. The arch filter and facet use
the *effective* arch: for hosts a MAC rule may correct (``arch.MAC_RULES``: few, found by
MAC prefix) ``archsource.effective`` decides, so the rule is stated once; every other host's
effective arch is its recorded one.

What changed: every write stamps the row's ``changed`` column and a delete stamps
``hosts_removed`` (triggers from migration step 7, ``Dialect.change_stamp_trigger``; an
INSERT writes its own stamp, ``Dialect.insert_stamp``, step 8); a reader's cursor is taken
first in its snapshot, so a later read from it misses nothing.
"""

from __future__ import annotations

from typing import Any

from pxehook import arch as archtable
from pxehook import archsource
from pxehook.models import STATES, Event
from pxehook.store.dialect import Dialect, Tx
from pxehook.store.listing import MAX_PAGE, HostChanges, HostPage, HostQuery
from pxehook.store.sql_hosts import HostReadSQL
from pxehook.store.sqlcore import HOST_COLUMNS

_FIRST_MAC = (
    "(SELECT mac FROM host_macs m WHERE m.host_id = hosts.id ORDER BY position, mac LIMIT 1)"
)
_STATE_ORDER = (
    "CASE state " + " ".join(f"WHEN '{s}' THEN {i}" for i, s in enumerate(STATES)) + " END"
)
#: sort key -> (blanks-last key or "", value): the expressions are literals of this module
SORTS: dict[str, tuple[str, str]] = {
    "id": ("", "id"),
    "mac": ("", _FIRST_MAC),
    "name": ("name = ''", "name"),
    "ip": ("ip = ''", "ip"),
    "profile": ("profile = ''", "profile"),
    "state": ("", _STATE_ORDER),
    "last_seen": ("last_seen IS NULL", "last_seen"),
    "first_seen": ("first_seen IS NULL", "first_seen"),
}
_HEX = frozenset("0123456789abcdef")


def like_pattern(word: str) -> str:
    """``%word%`` with LIKE's wildcards in ``word`` escaped (``ESCAPE '\\'``)."""
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class ListingSQL(HostReadSQL):
    """``host_search``, ``host_changes`` and ``host_timeline`` of the ``Store`` protocol."""

    def host_search(self, query: HostQuery) -> HostPage:
        return self._read(lambda tx: self._search(tx, query, self._cursor(tx)))

    def host_changes(self, since: int, query: HostQuery, limit: int = MAX_PAGE) -> HostChanges:
        """Hosts written at or after ``since`` (at most ``limit``; more: ``resync``)."""

        def read(tx: Tx) -> HostChanges:
            cursor = self._cursor(tx)  # first: a write committing after this is above it
            removed = int(tx.one("SELECT value FROM server_values WHERE key='hosts_removed'")[0])
            ruled = self._ruled(tx) if query.arch is not None else {}
            where, args = _where(self.dialect, query, ruled)
            sql = (
                f"SELECT {HOST_COLUMNS}, CASE WHEN {where} THEN 1 ELSE 0 END FROM hosts "  # noqa: S608
                f"WHERE changed >= ? ORDER BY changed, id LIMIT {int(limit) + 1}"
            )
            rows = tx.all(sql, [*args, since])
            resync = len(rows) > limit or removed >= since
            rows = rows[:limit]
            hosts = self._with_all_macs(tx, [row[:-1] for row in rows])
            matching = frozenset(row[0] for row in rows if row[-1])
            page = self._search(tx, query, cursor) if rows or resync else None
            return HostChanges(hosts, matching, cursor, resync, page, removed >= since)

        return self._read(read)

    def host_timeline(self, host_id: int, limit: int) -> tuple[list[Event], bool]:
        """The host's newest ``limit`` events, oldest first, and whether older ones exist."""
        sql = (
            "SELECT id, host_id, at, kind, source, message, data FROM events "  # noqa: S608
            f"WHERE host_id=? ORDER BY id DESC LIMIT {int(limit) + 1}"
        )
        json_value = self.dialect.json_value

        def read(tx: Tx) -> tuple[list[Event], bool]:
            rows = tx.all(sql, (host_id,))
            events = [
                Event(id=r[0], host_id=r[1], at=r[2], kind=r[3], source=r[4], message=r[5],
                      data=json_value(r[6]))
                for r in rows[:limit]
            ]  # fmt: skip
            return events[::-1], len(rows) > limit

        return self._read(read)

    # the query ------------------------------------------------------------------------------
    def _cursor(self, tx: Tx) -> int:
        return int(tx.one(self.dialect.change_cursor)[0])

    def _search(self, tx: Tx, query: HostQuery, cursor: int) -> HostPage:
        ruled = self._ruled(tx)
        where, args = _where(self.dialect, query, ruled)
        blanks, value = SORTS[query.sort]
        direction = " DESC" if query.descending else ""
        order = ", ".join([*([blanks] if blanks else []), value + direction, "id" + direction])
        sql = (
            f"SELECT {HOST_COLUMNS} FROM hosts WHERE {where} ORDER BY {order} "  # noqa: S608
            f"LIMIT {int(query.limit)} OFFSET {int(query.offset)}"
        )
        hosts = self._with_all_macs(tx, tx.all(sql, args)) if query.limit else []
        states, archs = self._facets(tx, query, ruled)
        total = sum(n for s, n in states.items() if query.state in (None, s))
        return HostPage(hosts, total, states, archs, cursor)

    def _facets(
        self, tx: Tx, query: HostQuery, ruled: dict[int, int | None]
    ) -> tuple[dict[str, int], dict[int | None, int]]:
        """Hosts per state (every filter but the state's) and per effective arch (every
        filter but the arch's), from one scan grouped by both."""
        where, args = _where(self.dialect, query, ruled, skip="state arch")
        plain = f" AND id NOT IN ({_ids(ruled)})" if ruled else ""
        sql = f"SELECT state, arch, COUNT(*) FROM hosts WHERE {where}{plain} GROUP BY state, arch"  # noqa: S608
        cells: dict[tuple[str, int | None], int] = {
            (str(state), code): int(n) for state, code, n in tx.all(sql, args)
        }
        if ruled:
            sql = f"SELECT id, state FROM hosts WHERE {where} AND id IN ({_ids(ruled)})"  # noqa: S608
            for host_id, state in tx.all(sql, args):
                cell = (str(state), ruled[host_id])
                cells[cell] = cells.get(cell, 0) + 1
        states: dict[str, int] = {}
        archs: dict[int | None, int] = {}
        for (state, code), n in cells.items():
            if query.arch is None or code == query.arch:
                states[state] = states.get(state, 0) + n
            if query.state in (None, state):
                archs[code] = archs.get(code, 0) + n
        return states, archs

    def _ruled(self, tx: Tx) -> dict[int, int | None]:
        """Effective arch code of each host a MAC rule may correct (``archsource`` decides)."""
        prefixes = sorted({rule.prefix for rule in archtable.MAC_RULES})
        if not prefixes:
            return {}
        likes = " OR ".join("mac LIKE ?" for _ in prefixes)
        sql = f"SELECT DISTINCT host_id FROM host_macs WHERE {likes}"  # noqa: S608
        ids = [row[0] for row in tx.all(sql, [p + "%" for p in prefixes])]
        hosts = self._with_all_macs(tx, self._rows_by_id(tx, ids)) if ids else []
        ruled: dict[int, int | None] = {}
        for host in hosts:
            arch, _source, _reasons = archsource.effective(host)
            ruled[host.id or 0] = arch.code if arch else None
        return ruled

    @staticmethod
    def _rows_by_id(tx: Tx, ids: list[int]) -> list[Any]:
        return tx.all(f"SELECT {HOST_COLUMNS} FROM hosts WHERE id IN ({_ids(ids)})")  # noqa: S608


def _where(
    dialect: Dialect, query: HostQuery, ruled: dict[int, int | None], *, skip: str = ""
) -> tuple[str, list[Any]]:
    """The WHERE clause (literals of this module, ``?`` for every value) of ``query``,
    without the filters named in ``skip`` (a facet counts across its own filter)."""
    clauses: list[str] = []
    args: list[Any] = []
    if query.state and "state" not in skip.split():
        clauses.append("state = ?")
        args.append(query.state)
    if query.profile is not None:
        clauses.append("profile = ?")
        args.append(query.profile)
    if query.label:
        clause, label_args = dialect.label_filter(*query.label)
        clauses.append(clause)
        args.extend(label_args)
    if query.arch is not None and "arch" not in skip.split():
        mine = [host_id for host_id, code in ruled.items() if code == query.arch]
        clause = "arch = ?" + (f" AND id NOT IN ({_ids(ruled)})" if ruled else "")
        clauses.append(f"(({clause}) OR id IN ({_ids(mine)}))" if mine else f"({clause})")
        args.append(query.arch)
    for word in query.words:
        clause, word_args = _word_clause(word)
        clauses.append(clause)
        args.extend(word_args)
    return " AND ".join(clauses) or "1=1", args


def _ids(ids: Any) -> str:
    """An ``IN`` list of integer ids, written out (ids are the store's own integers)."""
    return ",".join(str(int(i)) for i in ids) or "NULL"


def _word_clause(word: str) -> tuple[str, list[Any]]:
    """Hosts containing ``word`` (lower-case) in a MAC (any spelling), name, DHCP hostname,
    IP or profile."""
    pattern = like_pattern(word)
    fields = ["LOWER(name)", "LOWER(dhcp_hostname)", "ip", "LOWER(profile)"]
    parts = [f"{f} LIKE ? ESCAPE '\\'" for f in fields]
    args: list[Any] = [pattern] * len(fields)
    hexdigits = "".join(c for c in word if c not in ":-.")
    if hexdigits and set(hexdigits) <= _HEX:
        parts.append("id IN (SELECT host_id FROM host_macs WHERE REPLACE(mac, ':', '') LIKE ?)")
        args.append(f"%{hexdigits}%")
    return "(" + " OR ".join(parts) + ")", args
