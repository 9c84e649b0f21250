"""Write the inventory into the store: only what it declares, only what changed.

An apply validates first (``check``: nothing is written when any host fails, the last good
inventory stays in force), then writes in transactions of ``BATCH`` hosts. It is
incremental: a file the store saw applied last time is not parsed at all; a host whose text,
groups and profile are as last applied is not parsed, read or written. Each write patches
only the fields the inventory declares (``declare.plan``) and is conditional on the version
of the host it was planned on: a host an installer callback, an operator or the sweeper
changed meanwhile is read and planned again, so no apply ever undoes a newer change.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from pxehook.errors import ConfigError, Conflict, PxehookError, Stale
from pxehook.inventory.check import ProfileView, Progress, check_host, check_profiles
from pxehook.inventory.declare import created_host, declaration, plan, state_to_apply
from pxehook.inventory.layout import digest
from pxehook.inventory.loader import no_gc
from pxehook.inventory.parse import Entry, HostSpec, Inventory, Unsplit, parse, read_text
from pxehook.lifecycle.hosts import ATTEMPTS
from pxehook.lifecycle.table import action_towards, transition
from pxehook.models import Host, State, instant
from pxehook.store import Store
from pxehook.store.writes import Declaration, DeclaredItem, HostPatch, HostWrite, patched

#: hosts per write transaction
BATCH = 500
#: the patch of a write that creates its host (none: built once, not per new host)
_NO_PATCH = HostPatch()


@dataclass
class Outcome:
    """What an apply did: host counts, and notes on what it left to others."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    notes: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}


@dataclass
class _Planned:
    spec: HostSpec
    write: HostWrite | None  # None: nothing to write
    state: State | None = None  # a state line to apply after the write
    host_id: int = 0  # the existing host planned on


def sync(
    inv: Inventory, store: Store, *, source: str = "inventory", progress: Progress | None = None
) -> dict[str, int]:
    """Apply a parsed inventory; returns created/updated/unchanged host counts."""
    return _Apply(inv, store, source, progress).run().counts()


def sync_file(
    path: str, store: Store, *, source: str = "inventory", progress: Progress | None = None
) -> Outcome:
    """Apply the inventory file at ``path``, parsing only what changed since the last apply."""
    text = read_text(path)
    known = store.inventory_file(os.path.abspath(path))
    if known is not None and known[0] == digest(text):
        return Outcome(unchanged=int(known[1].get("hosts", 0)))  # as last applied, nothing since
    inv = parse(text, path, lazy=True)
    try:
        return _Apply(inv, store, source, progress).run()
    except Unsplit:  # a host did not parse on its own: the whole file, then again
        inv.whole()
        return _Apply(inv, store, source, progress).run()


class _Apply:
    """One apply of ``inv`` to ``store`` (see the module docstring)."""

    def __init__(
        self, inv: Inventory, store: Store, source: str, progress: Progress | None
    ) -> None:
        self.inv, self.store, self.source, self.progress = inv, store, source, progress
        self.key = os.path.abspath(inv.path)  # the file, however it was named
        self.view = ProfileView(store, inv.profiles)
        self.outcome = Outcome()
        self.at = instant()
        self.kept: dict[int, Entry] = {}  # hosts as last applied: not read, not written
        self.seen: set[int] = set()  # hosts this apply planned and wrote (or left as they are)
        self.file_known = False

    def run(self) -> Outcome:
        with no_gc():  # many small objects, few cycles: see ``loader.no_gc``
            return self._run()

    def _run(self) -> Outcome:
        inv, store = self.inv, self.store
        check_profiles(inv)
        index = {item.host_id: item for item in store.declared_index()}
        self.file_known = store.inventory_file(self.key) is not None
        kept, moved, todo = self._triage(index)
        planned = self._plan(todo, strict=True)
        store.profiles_replace(inv.profiles.values())
        self._write(planned)
        self.outcome.unchanged += len(kept)
        dropped = [host_id for host_id in index if host_id not in kept and host_id not in self.seen]
        info = {"hosts": len(inv.entries), "groups": inv.group_digests()}
        store.inventory_commit(self.key, inv.digest, info, moved=moved, dropped=dropped)
        return self.outcome

    # which hosts need a look -------------------------------------------------------------
    def _triage(
        self, index: dict[int, DeclaredItem]
    ) -> tuple[set[int], dict[int, int], list[HostSpec]]:
        """(hosts as last applied, their new lines where they moved, specs to plan).

        A host is as last applied when its text is, and neither its profile nor any of its
        groups changed; MACs of the others are checked against each other here, and against
        the hosts as last applied when they are planned (``_plan``)."""
        inv = self.inv
        profiles, groups = self._changed_names()
        by_digest = {i.digest: i for i in index.values() if i.digest and i.path == self.key}
        kept: dict[int, Entry] = {}
        moved: dict[int, int] = {}
        todo: list[HostSpec] = []
        seen: dict[str, Entry] = {}
        total = len(inv.entries)
        for done, entry in enumerate(inv.entries, 1):
            item = by_digest.get(entry.digest)
            if (
                item is not None
                and item.host_id not in kept
                and item.profile not in profiles
                and not (groups and any(g in groups for g in item.groups))
            ):
                kept[item.host_id] = entry
                if item.line != entry.line:
                    moved[item.host_id] = entry.line
            else:
                spec = inv.spec(entry)
                todo.append(spec)
                for mac in spec.macs:
                    if mac in seen:
                        self._twice(mac, seen[mac], entry)
                    seen[mac] = entry
            if self.progress is not None and done % 4096 == 0:
                self.progress("read", done, total)
        self.kept = kept
        return set(kept), moved, todo

    def _twice(self, mac: str, first: Entry, second: Entry) -> None:
        spec = self.inv.spec(second)
        line = spec.line + spec.lines.get("macs", 0)
        raise ConfigError(
            f"{self.inv.path}:{line}: MAC {mac} is listed twice (also on line {first.line})"
        )

    def _changed_names(self) -> tuple[set[str], set[str]]:
        """The profiles and the groups (by name) that differ from the last apply."""
        inv = self.inv
        stored = {p.name: p for p in self.store.profile_list()}
        profiles = {
            n for n in stored.keys() | inv.profiles.keys() if stored.get(n) != inv.profiles.get(n)
        }
        known = self.store.inventory_file(self.key)
        old = (known[1] if known else {}).get("groups", {})
        new = inv.group_digests()
        groups = {
            g
            for g in old.keys() | new.keys()
            if (old.get(g) or {}).get("digest") != (new.get(g) or {}).get("digest")
        }
        return profiles, groups

    # planning ------------------------------------------------------------------------------
    def _plan(self, specs: list[HostSpec], *, strict: bool) -> list[_Planned]:
        """Read the hosts ``specs`` declare and plan each one's write (validated). With
        ``strict`` a problem stops the apply; else the host is left and noted."""
        store = self.store
        owners = store.mac_owners(mac for spec in specs for mac in spec.macs)
        targets: dict[int, HostSpec] = {}
        chosen: list[int | None] = []
        for spec in specs:
            ids = {owners[m] for m in spec.macs if m in owners}
            host_id = ids.pop() if len(ids) == 1 else None
            problem = ""
            if ids:
                problem = f"its MACs belong to {len(ids) + 1} different hosts"
            elif host_id is not None and (host_id in targets or host_id in self.kept):
                mac = next(m for m in spec.macs if owners.get(m) == host_id)
                other = targets[host_id].line if host_id in targets else self.kept[host_id].line
                problem = f"MAC {mac} belongs to the host declared on line {other}"
            if problem:
                self._problem(spec, problem, strict)
                chosen.append(-1)
                continue
            if host_id is not None:
                targets[host_id] = spec
            chosen.append(host_id)
        hosts = store.host_many(targets)
        before = store.declarations(targets)
        self.view.know([s for s, i in zip(specs, chosen, strict=True) if i != -1], hosts)
        planned = []
        for done, (spec, host_id) in enumerate(zip(specs, chosen, strict=True), 1):
            if host_id == -1:
                continue
            host = hosts.get(host_id) if host_id is not None else None
            try:
                planned.append(self._plan_one(spec, host, before.get(host_id or 0)))
            except ConfigError as exc:
                if strict:
                    raise
                self.outcome.notes.append(exc.message)
            if self.progress is not None and done % 256 == 0:
                self.progress("check", done, len(specs))
        return planned

    def _plan_one(self, spec: HostSpec, host: Host | None, before: Declaration | None) -> _Planned:
        decl = declaration(self.inv, spec, self.key)
        message = f"from {self.inv.path}:{spec.line}"
        if host is None:
            new = created_host(decl, self.at)
            check_host(self.view, self.inv, spec, new)
            return _Planned(spec, HostWrite(source=self.source, message=f"created {message}",
                                            new=new, patch=_NO_PATCH, declare=decl))  # fmt: skip
        patch = plan(decl, before, host)
        after = patched(host, patch)
        check_host(self.view, self.inv, spec, after)
        state = state_to_apply(decl, before, host, file_known=self.file_known)
        host_id = host.id or 0
        if after == host and decl == before:
            return _Planned(spec, None, state, host_id)
        write = HostWrite(
            source=self.source, message=f"updated {message}" if after != host else "",
            host_id=host_id, patch=patch, version=host.version, read=host,
            declare=None if decl == before else decl,
        )  # fmt: skip
        return _Planned(spec, write, state, host_id)

    def _problem(self, spec: HostSpec, problem: str, strict: bool) -> None:
        message = f"{self.inv.path}:{spec.line}: host {spec.macs[0]}: {problem}"
        if strict:
            raise ConfigError(message)
        self.outcome.notes.append(message)

    # writing -------------------------------------------------------------------------------
    def _write(self, planned: list[_Planned]) -> None:
        states: list[tuple[int, _Planned]] = []
        for _attempt in range(ATTEMPTS):
            again = self._write_round(planned, states)
            if not again:
                break
            planned = self._plan(again, strict=False)  # read again, plan again
        else:
            for spec in again:
                self._problem(spec, "changed by others throughout the apply: left as it is", False)
        for host_id, item in states:
            self._set_state(host_id, item)

    def _write_round(
        self, planned: list[_Planned], states: list[tuple[int, _Planned]]
    ) -> list[HostSpec]:
        """Write one round in batches; returns the specs whose hosts went stale."""
        stale: list[HostSpec] = []
        writes = [p for p in planned if p.write is not None]
        for item in planned:
            if item.write is None:
                self.outcome.unchanged += 1
                self._done(item, item.host_id, states)
        total = len(writes)
        for start in range(0, total, BATCH):
            batch = writes[start : start + BATCH]
            results = self.store.host_writes([p.write for p in batch if p.write is not None])
            for item, result in zip(batch, results, strict=True):
                assert item.write is not None
                if isinstance(result, Host):
                    self._count(item.write)
                    self._done(item, result.id or 0, states)
                elif isinstance(result, Stale) or (
                    isinstance(result, Conflict) and item.write.new is not None
                ):
                    stale.append(item.spec)  # changed, or created by a DHCP sighting meanwhile
                else:
                    assert isinstance(result, PxehookError)
                    self._problem(item.spec, result.message, False)
            if self.progress is not None:
                self.progress("write", min(start + BATCH, total), total)
        return stale

    def _count(self, write: HostWrite) -> None:
        if write.new is not None:
            self.outcome.created += 1
        elif write.message:
            self.outcome.updated += 1
        else:
            self.outcome.unchanged += 1  # only its record of what was declared changed

    def _done(self, item: _Planned, host_id: int, states: list[tuple[int, _Planned]]) -> None:
        self.seen.add(host_id)
        if item.state is not None:
            states.append((host_id, item))

    def _set_state(self, host_id: int, item: _Planned) -> None:
        """A new or changed ``state:`` line: through the transition table, like an operator."""
        target = item.state
        assert target is not None
        host = self.store.host_by_id(host_id)
        if host is None or host.state == target:
            return
        where = f"{self.inv.path}:{item.spec.line + item.spec.lines.get('state', 0)}"
        action = action_towards(host.state, target, "")
        try:
            if not action:
                raise Conflict(f"no action takes a host from {host.state} to {target}")
            transition(
                self.store, host, action, source=self.source, message=f"{where}: state {target}"
            )
        except PxehookError as exc:
            self.outcome.notes.append(
                f"{where}: host {host.mac}: state {target} not applied: {exc.message}"
            )
