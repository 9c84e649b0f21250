"""Conditional host writes of the SQL store: patches, batches, state changes, bookkeeping.

Each write locks the host's row, checks the version the writer read (``errors.Stale`` when
it moved) and changes only what the writer means to change; the row's ``version`` grows
with it. A batch (``host_writes``, ``set_states``, ``update_metas``) is one transaction in
which each item succeeds or fails on its own: a stale item is reported, never applied.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pxehook.errors import Conflict, NotFound, PxehookError
from pxehook.models import Host, Instant, State, instant
from pxehook.store.dialect import Tx
from pxehook.store.merge import merged
from pxehook.store.sql_hosts import _INSERT_HOST, HostReadSQL
from pxehook.store.writes import (
    Declaration,
    HostPatch,
    HostWrite,
    StateChange,
    changed_fields,
    patched,
)

T = TypeVar("T")
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
        """Run ``writes`` in one transaction; each item's result is its host or its error."""

        def one(tx: Tx, w: HostWrite) -> tuple[Host, bool]:
            if w.new is not None:
                host = self._create(tx, w.new, w.source, w.message)
                if w.declare is not None:
                    self._declare(tx, host.id or 0, w.declare)
                return host, True
            if w.host_id is None:
                raise NotFound("a write names no host")
            return self._patch(tx, w.host_id, w.patch, w.version, w.source, w.message, w.declare)

        return self._batch(writes, one)

    def _create(self, tx: Tx, host: Host, source: str, message: str) -> Host:
        json_param = self.dialect.json_param
        self._check_macs(tx, host.macs, None)
        values = (
            host.name, host.uuid.lower(), host.arch, host.arch_source, host.ip,
            host.vendor_class, host.user_class, host.first_seen, host.last_seen, host.profile,
            str(host.state), host.state_changed, json_param(host.labels), json_param(host.vars),
            json_param(host.meta), host.state_clock, host.state_boot,
        )  # fmt: skip
        host_id = tx.insert(_INSERT_HOST, values)
        self._set_macs(tx, host_id, host.macs)
        self._event(tx, host_id, "host.created", source, message, None, host.state_changed)
        return host.with_(id=host_id, uuid=host.uuid.lower(), version=0)

    def _patch(
        self, tx: Tx, host_id: int, patch: HostPatch, version: int | None, source: str,
        message: str, declare: Declaration | None,
    ) -> tuple[Host, bool]:  # fmt: skip
        """Apply ``patch`` to the row if still at ``version``; (host, whether it changed)."""
        host = self._locked(tx, host_id, version)
        after = patched(host, patch)
        changed = changed_fields(host, after)
        if changed:
            json_param = self.dialect.json_param
            if "macs" in changed:
                self._check_macs(tx, tuple(m for m in after.macs if m not in host.macs), host_id)
                tx.run("DELETE FROM host_macs WHERE host_id=?", (host_id,))
                self._set_macs(tx, host_id, after.macs)
            tx.run(
                "UPDATE hosts SET name=?, uuid=?, arch=?, arch_source=?, profile=?, labels=?, "
                "vars=?, version=version+1 WHERE id=?",
                (after.name, after.uuid, after.arch, after.arch_source, after.profile,
                 json_param(after.labels), json_param(after.vars), host_id),
            )  # fmt: skip
            note = message or "changed " + ", ".join(changed)
            self._event(tx, host_id, "host.updated", source, note, {"changed": changed}, None)
            if declare is None:
                self._disown(tx, host_id)
            after = after.with_(version=host.version + 1)
        if declare is not None:
            self._declare(tx, host_id, declare)
        return after, bool(changed)

    def _declare(self, tx: Tx, host_id: int, d: Declaration) -> None:
        """Record what the inventory declared for ``host_id`` (replacing the last record)."""
        tx.run("DELETE FROM inventory_hosts WHERE host_id=?", (host_id,))
        tx.run(
            "INSERT INTO inventory_hosts(host_id, path, line, digest, profile, groups, macs, "
            "declared) VALUES (?,?,?,?,?,?,?,?)",
            (host_id, d.path, d.line, d.digest, str(d.fields.get("profile", "")),
             ",".join(d.groups), ",".join(d.macs), self.dialect.json_param(d.as_json())),
        )  # fmt: skip

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

        def one(tx: Tx) -> Host:
            host = self._change_state(tx, change)
            self._bump(tx)
            return host

        return self._write(one)

    def set_states(self, changes: list[StateChange]) -> list[Host | PxehookError]:
        """Apply ``changes`` in one transaction; each item's result is its host or error."""
        return self._batch(changes, lambda tx, change: (self._change_state(tx, change), True))

    def _change_state(self, tx: Tx, change: StateChange) -> Host:
        host = self._locked(tx, change.host_id, change.version)
        if change.expected is not None and host.state != change.expected:
            raise Conflict(f"host {host.mac} is {host.state}, not {change.expected}")
        at = change.at or instant()
        meta = merged(host.meta, dict(change.meta))
        tx.run(
            "UPDATE hosts SET state=?, state_changed=?, state_clock=?, state_boot=?, meta=?, "
            "version=version+1 WHERE id=?",
            (str(change.state), at.wall, at.clock, at.boot, self.dialect.json_param(meta),
             host.id),
        )  # fmt: skip
        self._event(tx, host.id or 0, "state.changed", change.source,
                    change.message or f"{host.state} -> {change.state}",
                    {"from": str(host.state), "to": str(change.state)}, at.wall)  # fmt: skip
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

        def run(tx: Tx) -> list[Host | PxehookError]:
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

        return self._write(run) if items else []
