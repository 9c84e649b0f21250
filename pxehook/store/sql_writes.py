"""Conditional host writes of the SQL store: patches, batches, state changes, bookkeeping.

Each write locks the host's row, checks the version the writer read (``errors.Stale`` when
it moved) and changes only what the writer means to change; the row's ``version`` grows
with it. A batch (``host_writes``, ``set_states``, ``update_metas``) is one transaction in
which each item succeeds or fails on its own: a stale item is reported, never applied.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from pxehook.errors import Conflict, NotFound, PxehookError
from pxehook.models import Host, Instant, State, instant, now
from pxehook.store.dialect import Tx
from pxehook.store.merge import merged
from pxehook.store.sql_hosts import INSERT_NEW_HOST, HostReadSQL, chunks, host_values, marks
from pxehook.store.sqlcore import EVENT_INSERT, HOST_COLUMNS
from pxehook.store.writes import (
    Declaration,
    HostPatch,
    HostWrite,
    StateChange,
    changed_fields,
    patched,
)
from pxehook.textsafe import printable

T = TypeVar("T")
#: One line per state change, after its transaction committed.
state_log = logging.getLogger("pxehook.state")
#: what a batch item may fail with, reported in its place
ITEM_ERRORS = (NotFound, Conflict)


class HostWriteSQL(HostReadSQL):
    """Partial, conditional host writes of the ``Store`` protocol."""

    # patches --------------------------------------------------------------------------------
    def host_update(
        self, host_id: int, patch: HostPatch, *, version: int | None, source: str,
        message: str = "",
    ) -> Host:  # fmt: skip
        def update(tx: Tx) -> Host:
            host, changed = self._patch(tx, host_id, patch, version, source, message, None)
            if changed:
                self._bump(tx)
            return host

        return self._write(update)

    def host_writes(self, writes: list[HostWrite]) -> list[Host | PxehookError]:
        """Run ``writes`` in one transaction; each item's result is its host or its error.

        The MACs of every new host are checked in one query; new hosts get their ids and
        change stamp up front and are inserted like the batch's updates, each run of them one
        statement run in the batch's order; its MACs, events and declarations are inserted
        at its end, one statement each."""
        new_macs = [mac for w in writes if w.new is not None for mac in w.new.macs]
        creating = sum(1 for w in writes if w.new is not None)

        def run(tx: Tx) -> list[Host | PxehookError]:
            later = _Later()
            owners = self._owners(tx, new_macs)
            rows = self._lock_writes(tx, writes)
            if creating:
                later.new_ids = iter(self.dialect.new_ids(tx, "hosts", creating))
                later.stamp = self.dialect.insert_stamp(tx)

            def one(tx: Tx, w: HostWrite) -> tuple[Host, bool]:
                if w.new is not None:
                    taken = [m for m in w.new.macs if m in owners]
                    if taken:
                        raise Conflict(f"MAC {taken[0]} already belongs to host {owners[taken[0]]}")
                    host = self._create(tx, w.new, w.source, w.message, later)
                    owners.update(dict.fromkeys(w.new.macs, host.id or 0))
                    if w.declare is not None:
                        later.declare(host.id or 0, w.declare, self.dialect)
                    return host, True
                if w.host_id is None:
                    raise NotFound("a write names no host")
                if w.patch.macs is not None or w.patch.add_macs:
                    later.flush_macs(tx)  # its MAC check must see the new hosts' MACs
                host, changed = self._patch(
                    tx, w.host_id, w.patch, w.version, w.source, w.message, w.declare, later,
                    rows,
                )  # fmt: skip
                rows[w.host_id] = host
                return host, changed

            results = self._items(tx, writes, one)
            later.flush(tx, self.dialect, self.rack)
            return results

        return self._write(run) if writes else []

    def _lock_writes(self, tx: Tx, writes: list[HostWrite]) -> dict[int, Host]:
        """The hosts ``writes`` patch, their rows locked (see ``_lock_read``)."""
        return self._lock_read(
            tx, [(w.host_id, w.version, w.read) for w in writes if w.host_id is not None]
        )

    def _lock_read(
        self, tx: Tx, items: list[tuple[int, int | None, Host | None]]
    ) -> dict[int, Host]:
        """The hosts of (host id, version read, host as read) ``items``, their rows locked:
        as their writers read them where the row is still at that version (every write
        moves the version, so only the versions are read), else read again."""
        known = {
            host_id: read
            for host_id, version, read in items
            if read is not None and (read.id, read.version) == (host_id, version)
        }
        rows: dict[int, Host] = {}
        for part in chunks(sorted(known)):
            sql = f"SELECT id, version FROM hosts WHERE id IN ({marks(len(part))}) ORDER BY id"  # noqa: S608
            for host_id, version in tx.all(sql + self.dialect.for_update, part):
                if known[host_id].version == version:
                    rows[host_id] = known[host_id]
        rows.update(self._lock_many(tx, [i for i, _v, _r in items if i not in rows]))
        return rows

    def _lock_many(self, tx: Tx, host_ids: list[int]) -> dict[int, Host]:
        """The hosts of ``host_ids``, their rows locked, read in bulk."""
        rows: list[Any] = []
        for part in chunks(sorted(set(host_ids))):
            sql = f"SELECT {HOST_COLUMNS} FROM hosts WHERE id IN ({marks(len(part))}) ORDER BY id"  # noqa: S608
            rows += tx.all(sql + self.dialect.for_update, part)
        return {host.id or 0: host for host in self._with_all_macs(tx, rows)}

    @staticmethod
    def _owners(tx: Tx, macs: list[str]) -> dict[str, int]:
        owners: dict[str, int] = {}
        for part in chunks(sorted(set(macs))):
            sql = f"SELECT mac, host_id FROM host_macs WHERE mac IN ({marks(len(part))})"  # noqa: S608
            owners.update(tx.all(sql, part))
        return owners

    def _create(self, tx: Tx, host: Host, source: str, message: str, later: _Later) -> Host:
        """Queue the insert of ``host`` (MACs checked by the caller) in the batch's order."""
        host_id = next(later.new_ids)
        values = (host_id, later.stamp, *host_values(host, self.dialect.json_param))
        later.queue(tx, INSERT_NEW_HOST, values)
        later.macs += [(mac, host_id, i) for i, mac in enumerate(host.macs)]
        later.events.append((host_id, "host.created", source, message, None, host.state_changed))
        return host.with_(id=host_id, uuid=host.uuid.lower(), version=0)

    def _patch(
        self, tx: Tx, host_id: int, patch: HostPatch, version: int | None, source: str,
        message: str, declare: Declaration | None, later: _Later | None = None,
        locked: dict[int, Host] | None = None,
    ) -> tuple[Host, bool]:  # fmt: skip
        """Apply ``patch`` to the row if still at ``version`` (``locked``: rows read and
        locked already); (host, whether it changed)."""
        host = self._locked(tx, host_id, version, locked)
        after = patched(host, patch)
        changed = changed_fields(host, after)
        if changed:
            json_param = self.dialect.json_param
            if "macs" in changed:
                self._check_macs(tx, tuple(m for m in after.macs if m not in host.macs), host_id)
                tx.run("DELETE FROM host_macs WHERE host_id=?", (host_id,))
                self._set_macs(tx, host_id, after.macs)
            columns = [c for c in _PATCHED if getattr(host, c) != getattr(after, c)]
            sql = "UPDATE hosts SET " + "".join(f"{c}=?, " for c in columns)  # noqa: S608
            values = [
                json_param(getattr(after, c)) if c in _JSON else getattr(after, c) for c in columns
            ]
            values.append(host_id)
            if later is None:
                tx.run(sql + _BUMP, tuple(values))
            else:
                later.queue(tx, sql + _BUMP, tuple(values))
            note = message or "changed " + ", ".join(changed)
            event = (host_id, "host.updated", source, note, {"changed": changed}, None)
            if later is None:
                self._event(tx, *event)
            else:
                later.events.append(event)
            if declare is None:
                self._disown(tx, host_id)
            after = after.with_(version=host.version + 1)
        if declare is not None:
            if later is None:
                tx.many(_DECLARE, [_declared_row(host_id, declare, self.dialect)])
            else:
                later.declare(host_id, declare, self.dialect)
        return after, bool(changed)

    # state ----------------------------------------------------------------------------------
    def set_state(
        self, host_id: int, state: State, *, expected: State | None = None,
        version: int | None = None, source: str, message: str = "",
        meta: dict[str, Any] | None = None, at: Instant | None = None,
    ) -> Host:  # fmt: skip
        change = StateChange(
            host_id=host_id, state=state, source=source, message=message, expected=expected,
            version=version, meta=meta or {}, at=at,
        )  # fmt: skip

        changed: list[str] = []

        def one(tx: Tx) -> Host:
            changed.clear()  # a retried transaction starts again
            host = self._change_state(tx, change, note=changed)
            self._bump(tx)
            return host

        host = self._write(one)
        _log_states(changed)
        return host

    def set_states(self, changes: list[StateChange]) -> list[Host | PxehookError]:
        """Apply ``changes`` in one transaction; each item's result is its host or error."""

        changed: list[str] = []

        def run(tx: Tx) -> list[Host | PxehookError]:
            changed.clear()  # a retried transaction starts again
            later = _Later()
            rows = self._lock_read(tx, [(c.host_id, c.version, c.read) for c in changes])

            def one(tx: Tx, change: StateChange) -> tuple[Host, bool]:
                host = self._change_state(tx, change, rows, later, note=changed)
                rows[change.host_id] = host
                return host, True

            results = self._items(tx, changes, one)
            later.flush(tx, self.dialect, self.rack)
            return results

        results = self._write(run) if changes else []
        _log_states(changed)
        return results

    def _change_state(
        self, tx: Tx, change: StateChange, locked: dict[int, Host] | None = None,
        later: _Later | None = None, note: list[str] | None = None,
    ) -> Host:  # fmt: skip
        host = self._locked(tx, change.host_id, change.version, locked)
        if change.expected is not None and host.state != change.expected:
            raise Conflict(f"host {host.mac} is {host.state}, not {change.expected}")
        at = change.at or instant()
        meta = merged(host.meta, dict(change.meta))
        values = (str(change.state), at.wall, at.clock, at.boot, self.dialect.json_param(meta),
                  host.id)  # fmt: skip
        event = (host.id or 0, "state.changed", change.source,
                 change.message or f"{host.state} -> {change.state}",
                 {"from": str(host.state), "to": str(change.state)}, at.wall)  # fmt: skip
        if later is None:
            tx.run(_SET_STATE, values)
            self._event(tx, *event)
        else:
            later.queue(tx, _SET_STATE, values)
            later.events.append(event)
        if note is not None:
            note.append(_state_line(host, change))
        return host.with_(
            state=change.state,
            state_changed=at.wall,
            state_clock=at.clock,
            state_boot=at.boot,
            meta=meta,
            version=host.version + 1,
        )

    # bookkeeping ----------------------------------------------------------------------------
    def update_meta(
        self, host_id: int, changes: dict[str, Any], *, version: int | None = None
    ) -> Host:
        def update(tx: Tx) -> Host:
            host = self._meta(tx, host_id, changes, version)
            self._bump(tx)
            return host

        return self._write(update)

    def update_metas(
        self, items: list[tuple[int, dict[str, Any], int | None]]
    ) -> list[Host | PxehookError]:
        """``update_meta`` for each (host_id, changes, version), in one transaction."""
        return self._batch(items, lambda tx, item: (self._meta(tx, *item), True))

    def _meta(self, tx: Tx, host_id: int, changes: dict[str, Any], version: int | None) -> Host:
        host = self._locked(tx, host_id, version)
        meta = merged(host.meta, changes)
        tx.run(
            "UPDATE hosts SET meta=?, version=version+1 WHERE id=?",
            (self.dialect.json_param(meta), host_id),
        )
        return host.with_(meta=meta, version=host.version + 1)

    # batches --------------------------------------------------------------------------------
    def _batch(
        self, items: list[T], one: Callable[[Tx, T], tuple[Host, bool]]
    ) -> list[Host | PxehookError]:
        """Run ``one`` for each item in one transaction; bump the generation once."""
        return self._write(lambda tx: self._items(tx, items, one)) if items else []

    def _items(
        self, tx: Tx, items: list[T], one: Callable[[Tx, T], tuple[Host, bool]]
    ) -> list[Host | PxehookError]:
        results: list[Host | PxehookError] = []
        wrote = False
        for item in items:
            try:
                host, changed = one(tx, item)
            except ITEM_ERRORS as exc:  # raised before the item wrote anything
                results.append(exc)
                continue
            results.append(host)
            wrote = wrote or changed
        if wrote:
            self._bump(tx)
        return results


#: the host columns a patch writes (only those that changed), and those holding JSON
_PATCHED = ("name", "uuid", "arch", "arch_source", "profile", "labels", "vars")
_JSON = frozenset({"labels", "vars"})
_BUMP = "version=version+1 WHERE id=?"
_SET_STATE = (
    "UPDATE hosts SET state=?, state_changed=?, state_clock=?, state_boot=?, meta=?, "
    "version=version+1 WHERE id=?"
)

_DECLARE = (
    "INSERT INTO inventory_hosts(host_id, path, line, digest, profile, groups, macs, declared) "
    "VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(host_id) DO UPDATE SET path=excluded.path, "
    "line=excluded.line, digest=excluded.digest, profile=excluded.profile, "
    "groups=excluded.groups, macs=excluded.macs, declared=excluded.declared"
)


def _declared_row(host_id: int, d: Declaration, dialect: Any) -> tuple[Any, ...]:
    """The ``inventory_hosts`` row of what the inventory declared for ``host_id``."""
    return (host_id, d.path, d.line, d.digest, str(d.fields.get("profile", "")),
            ",".join(d.groups), ",".join(d.macs), dialect.json_param(d.as_json()))  # fmt: skip


class _Later:
    """Rows a batch inserts at its end, one statement each (new hosts' MACs, events and
    declarations), and its host inserts and updates, each run of the same statement sent at
    once, in their order (a run ends where another statement comes: an insert taking a name
    an update just freed runs after it)."""

    def __init__(self) -> None:
        #: ids and change stamp of the batch's new hosts (``Dialect.new_ids``, ``insert_stamp``)
        self.new_ids: Iterator[int] = iter(())
        self.stamp = 0
        self.macs: list[tuple[str, int, int]] = []
        self.events: list[tuple[Any, ...]] = []
        self.declared: list[tuple[Any, ...]] = []
        self.queued_sql = ""
        self.queued: list[tuple[Any, ...]] = []

    def queue(self, tx: Tx, sql: str, values: tuple[Any, ...]) -> None:
        if sql != self.queued_sql:
            self.flush_queue(tx)
            self.queued_sql = sql
        self.queued.append(values)

    def flush_queue(self, tx: Tx) -> None:
        if self.queued:
            tx.many(self.queued_sql, self.queued)
            self.queued = []

    def flush_macs(self, tx: Tx) -> None:
        self.flush_queue(tx)  # their hosts first
        if self.macs:
            tx.many("INSERT INTO host_macs(mac, host_id, position) VALUES (?,?,?)", self.macs)
            self.macs = []

    def declare(self, host_id: int, d: Declaration, dialect: Any) -> None:
        self.declared.append(_declared_row(host_id, d, dialect))

    def flush(self, tx: Tx, dialect: Any, rack: str) -> None:
        self.flush_queue(tx)
        self.flush_macs(tx)
        if self.events:
            tx.many(
                EVENT_INSERT,
                [(h, instant_wall(at), kind, source, message, dialect.json_param(data or {}),
                  rack) for h, kind, source, message, data, at in self.events],
            )  # fmt: skip
        if self.declared:
            tx.many(_DECLARE, self.declared)


def instant_wall(at: float | None) -> float:
    """An event's time: ``at``, or now."""
    return now() if at is None else at


def _state_line(host: Host, change: StateChange) -> str:
    who = f"{host.mac} ({printable(host.name, 64)})" if host.name else host.mac
    why = f": {printable(change.message, 200)}" if change.message else ""
    return f"host {who}: {host.state} -> {change.state} by {printable(change.source, 64)}{why}"


def _log_states(lines: list[str]) -> None:
    for line in lines:
        state_log.info(line)  # no arguments: logging never formats the line
