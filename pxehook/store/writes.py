"""The records a host write is made of, and the one rule for how a patch changes a host.

Every writer says what it means to change (a ``HostPatch``, a ``StateChange``) and the
``version`` of the host it read; the store applies the change to the row as it is now and
refuses it (``errors.Stale``) when the version moved. ``Declaration`` is what the YAML
inventory declared for a host at its last apply: the fields it owns, their values and lines.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pxehook.models import ArchSource, Host, Instant, State
from pxehook.store.merge import merged


@dataclass(frozen=True)
class HostPatch:
    """Changes to the operator's fields of a host; None (or empty) leaves a field alone.

    ``vars`` and ``labels`` are merge patches (a None value removes the key); ``macs`` is the
    whole MAC list in order, ``add_macs`` appends. MACs are normalised already."""

    name: str | None = None
    uuid: str | None = None
    profile: str | None = None
    arch: int | None = None
    clear_arch: bool = False
    macs: tuple[str, ...] | None = None
    add_macs: tuple[str, ...] = ()
    vars: Mapping[str, Any] = field(default_factory=dict)
    labels: Mapping[str, str | None] = field(default_factory=dict)


def patched(host: Host, patch: HostPatch) -> Host:
    """``host`` as ``patch`` leaves it (the store writes exactly this)."""
    macs = list(patch.macs if patch.macs is not None else host.macs)
    macs += [mac for mac in patch.add_macs if mac not in macs]
    changes: dict[str, Any] = {
        "macs": tuple(dict.fromkeys(macs)),
        "name": host.name if patch.name is None else patch.name,
        "uuid": host.uuid if patch.uuid is None else patch.uuid.lower(),
        "profile": host.profile if patch.profile is None else patch.profile,
        "vars": merged(host.vars, dict(patch.vars)) if patch.vars else host.vars,
        "labels": merged(host.labels, dict(patch.labels)) if patch.labels else host.labels,
    }
    if patch.arch is not None:
        changes.update(arch=patch.arch, arch_source=ArchSource.SETTING)
    elif patch.clear_arch:
        changes.update(arch=None, arch_source="")
    return host.with_(**changes)


def changed_fields(before: Host, after: Host) -> list[str]:
    """Names of the operator fields that differ (``vars.KEY`` and ``labels.KEY`` per key)."""
    names = [
        name
        for name in ("macs", "name", "uuid", "profile", "arch")
        if getattr(before, name) != getattr(after, name)
    ]
    for part in ("vars", "labels"):
        old, new = getattr(before, part), getattr(after, part)
        names += [
            f"{part}.{k}" for k in sorted(old.keys() | new.keys()) if old.get(k) != new.get(k)
        ]
    return names


@dataclass(frozen=True)
class StateChange:
    """Move one host to ``state`` if it is still ``expected`` and still at ``version``
    (``read``: the host as read at ``version``, optional, as in ``HostWrite``)."""

    host_id: int
    state: State
    source: str
    message: str = ""
    expected: State | None = None
    version: int | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    at: Instant | None = None
    read: Host | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Declaration:
    """What the inventory declared for one host when it was last applied.

    ``fields`` holds the declared ones of name, uuid, profile, arch and state; ``vars`` and
    ``labels`` the declared keys (group variables included). ``lines`` says where each was
    declared: an offset from the host's first ``line`` (``"profile": 2``), or ``"group NAME"``
    for a group variable. ``digest`` fingerprints the host's text in the file."""

    path: str
    line: int
    digest: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    macs: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    vars: Mapping[str, Any] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    lines: Mapping[str, int | str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The stored form of what is not a column of its own."""
        return {
            "fields": dict(self.fields),
            "vars": dict(self.vars),
            "labels": dict(self.labels),
            "lines": dict(self.lines),
        }

    def where(self, key: str, groups: Mapping[str, Any] | None = None) -> str:
        """``path:line`` of a declared key (``profile``, ``vars.x``, ``labels.y``);
        ``groups``: each group's ``line`` and its ``vars``' lines, for group variables."""
        at = self.lines.get(key, 0)
        if isinstance(at, str):  # "group NAME": the variable's line in that group, if known
            group = (groups or {}).get(at.removeprefix("group "), {})
            line = group.get("vars", {}).get(key.removeprefix("vars."), group.get("line"))
            return f"{self.path}:{line} ({at})" if line else f"{self.path} ({at})"
        return f"{self.path}:{self.line + at}"


@dataclass(frozen=True)
class DeclaredItem:
    """The columns of a declaration that tell whether its host needs another look."""

    host_id: int
    path: str
    line: int
    digest: str
    profile: str
    groups: tuple[str, ...]


@dataclass(frozen=True)
class HostWrite:
    """One write of a batch (``Store.host_writes``): create ``new``, or patch ``host_id``
    read at ``version``; ``declare`` records the inventory's declaration with it.

    ``read`` is the host as the writer read it at ``version`` (optional): every write moves
    a row's version, so while the row is at that version it is exactly ``read`` and the
    batch checks the version alone instead of reading the row again."""

    source: str
    message: str = ""
    new: Host | None = None
    host_id: int | None = None
    patch: HostPatch = field(default_factory=HostPatch)
    version: int | None = None
    declare: Declaration | None = None
    read: Host | None = field(default=None, compare=False, repr=False)
