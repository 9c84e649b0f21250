"""Host operations shared by the CLI and the API: find, create/update, delete, ownership.

Every edit path (CLI, API, clone, inventory) runs the same ``VALIDATORS`` before saving:
what a change means for booting (templates, profile variables) and for identity (names and
UUIDs are unique; a name never looks like a MAC, a UUID is never a firmware placeholder).
``find_host`` is the one way a command or a route turns "a MAC or a name" into a host.
Every edit is a patch of the fields it names, written only if the host is still as it was
read (``retry_stale`` reads again and re-applies the change when another writer came
first). A field the YAML inventory declares is the inventory's: an edit of it is refused or
reported (``declared_where``).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pxehook import arch as archtable
from pxehook.boot.validate import validate_profile_vars
from pxehook.errors import Conflict, InvalidInput, NotFound, Stale
from pxehook.mac import normalize_mac
from pxehook.models import Host, State, usable_uuid
from pxehook.store import Store
from pxehook.store.writes import HostPatch, changed_fields, patched

T = TypeVar("T")

#: How often a writer whose read went stale reads again before it gives up (Stale); it
#: waits a random moment, growing each time, so writers racing for one host take turns.
ATTEMPTS = 20


def find_host(store: Store, key: str) -> Host:
    """The host ``key`` names: one of its MACs (any accepted spelling) or its name.

    A key with a ``:`` is a MAC only (a malformed one is InvalidInput). NotFound when
    nothing matches; Conflict when ``key`` is one host's MAC and another host's name."""
    text = key.strip() if isinstance(key, str) else ""
    if not text:
        raise InvalidInput("give a host's MAC address or name")
    try:
        mac = normalize_mac(text)
    except InvalidInput:
        if ":" in text:
            raise
        mac = ""
    by_mac = store.host_get(mac) if mac else None
    by_name = None if ":" in text else store.host_by_name(text)
    if by_mac is not None and by_name is not None and by_mac.id != by_name.id:
        raise Conflict(
            f"{text[:64]!r} is ambiguous: host {by_name.mac} has that name and host "
            f"{by_mac.mac} that MAC",
            hint=f"rename host {by_name.mac} ('pxehook host set {by_name.mac} --name …')",
        )
    host = by_mac or by_name
    if host is None:
        what = f"MAC {mac} or name {text[:64]!r}" if mac else f"name {text[:64]!r}"
        raise NotFound(f"no host with {what}", hint="see 'pxehook host list'")
    return host


def host_or_mac(store: Store, key: str) -> tuple[Host | None, str]:
    """(host, MAC) for ``key``: the host it names, or (None, the MAC it spells) when it is
    the MAC of a host not known yet (to create or explain one). A name nobody has is
    NotFound."""
    try:
        host = find_host(store, key)
    except NotFound:
        try:
            return None, normalize_mac(key)
        except InvalidInput:
            raise NotFound(
                f"no host named {key.strip()[:64]!r}", hint="to create a host, give its MAC"
            ) from None
    return host, host.mac


def validate_identity(store: Store, host: Host) -> None:
    """Names and UUIDs identify one machine: unique, a name never a MAC, no placeholder."""
    if host.name:
        holder = store.host_by_name(host.name)
        if holder is not None and holder.id != host.id:
            raise Conflict(f"host {holder.mac} is already named {host.name[:64]!r}")
        if holder is None:  # a new name: it must not read as a MAC
            _check_name(host.name)
    if host.uuid:
        if not usable_uuid(host.uuid):
            raise InvalidInput(
                f"UUID {host.uuid[:40]!r} is a placeholder many machines send: it cannot "
                "identify one"
            )
        holder = store.host_by_uuid(host.uuid)
        if holder is not None and holder.id != host.id:
            raise Conflict(f"host {holder.mac} already has UUID {host.uuid[:40]}")


def _check_name(name: str) -> None:
    looks_like_mac = True
    try:
        normalize_mac(name)
    except InvalidInput:
        looks_like_mac = False
    if looks_like_mac or ":" in name:
        raise InvalidInput(
            f"host name {name[:64]!r} reads as a MAC address",
            hint="a name must not contain ':' nor be a MAC in any spelling",
        )


#: Functions called with (store, host) before a host is saved; raise PxehookError to refuse.
VALIDATORS: tuple[Callable[[Store, Host], None], ...] = (validate_identity, validate_profile_vars)


def retry_stale(store: Store, host: Host, write: Callable[[Host], T]) -> T:
    """``write(host)``; while it fails because the host changed since it was read, read the
    host again and call ``write`` with it (which re-applies its change to what is there)."""
    for attempt in range(ATTEMPTS):
        try:
            return write(host)
        except Stale:
            if attempt == ATTEMPTS - 1:
                raise
            time.sleep(random.uniform(0, min(0.002 * 2**attempt, 0.2)))
            fresh = store.host_by_id(host.id or 0)
            if fresh is None:
                raise NotFound(f"host {host.mac} was deleted meanwhile") from None
            host = fresh
    raise AssertionError("unreachable")


def parse_arch(value: str | int) -> int:
    """An option-93 code from a number (decimal/hex) or a table slug such as ``efi-x64``."""
    code = archtable.code_of(value)
    if code is None:
        raise InvalidInput(
            f"unknown architecture {str(value).strip()[:40]!r}",
            hint="use an option-93 code or a slug from 'pxehook arch list'",
        )
    return code


def parse_pairs(items: tuple[str, ...] | list[str], what: str) -> dict[str, str]:
    """``key=value`` strings to a dict; a missing ``=`` is an error naming the item."""
    result = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"{what} {item!r} must look like key=value")
        result[key.strip()] = value
    return result


@dataclass
class HostChanges:
    """Fields a user may change on a host; None = leave as is."""

    name: str | None = None
    uuid: str | None = None
    profile: str | None = None
    arch: int | None = None
    clear_arch: bool = False
    add_macs: list[str] = field(default_factory=list)
    set_vars: dict[str, Any] = field(default_factory=dict)
    unset_vars: list[str] = field(default_factory=list)
    set_labels: dict[str, str] = field(default_factory=dict)
    unset_labels: list[str] = field(default_factory=list)
    initial_state: State | None = None

    def patch(self) -> HostPatch:
        """The store's patch for these changes (MACs normalised)."""
        return HostPatch(
            name=self.name,
            uuid=self.uuid,
            profile=self.profile,
            arch=self.arch,
            clear_arch=self.clear_arch,
            add_macs=tuple(normalize_mac(m) for m in self.add_macs),
            vars={**self.set_vars, **dict.fromkeys(self.unset_vars)},
            labels={**self.set_labels, **dict.fromkeys(self.unset_labels)},
        )


def declared_where(store: Store, host: Host) -> dict[str, str]:
    """Each field of ``host`` the inventory declares (``profile``, ``vars.x``…) and where
    (``file:line``)."""
    if host.id is None:
        return {}
    declaration = store.declarations([host.id]).get(host.id)
    if declaration is None:
        return {}
    known = store.inventory_file(declaration.path)
    groups = (known[1] if known else {}).get("groups", {})
    keys = [
        *(k for k in declaration.fields if k != "state"),
        *(f"vars.{k}" for k in declaration.vars),
        *(f"labels.{k}" for k in declaration.labels),
    ]
    if declaration.macs:
        keys.append("macs")
    return {key: declaration.where(key, groups) for key in keys}


def owned_changes(
    store: Store, before: Host, after: Host, where: dict[str, str] | None = None
) -> list[str]:
    """One line for each field the change touches that the inventory declares (``where``:
    ``declared_where`` of the host, if read already)."""
    changed = changed_fields(before, after)
    if not changed:
        return []
    where = declared_where(store, before) if where is None else where
    return [
        f"{name} is declared by the inventory at {where[name]}: the next apply of the "
        "inventory sets it back"
        for name in changed
        if name in where and name != "macs"  # extra MACs are never taken away
    ]


def apply_changes(
    store: Store, mac: str, changes: HostChanges, *, source: str,
    refuse_owned: bool = False, notice: Callable[[str], None] | None = None,
    force_hint: str = "change it in the inventory, or force the edit",
    version: int | None = None,
) -> tuple[Host, bool]:  # fmt: skip
    """Create or update the host owning ``mac``. Returns (host, created).

    An edit of a field the inventory declares raises Conflict naming file and line (and
    ``force_hint``) when ``refuse_owned``, else each such field is passed to ``notice``.
    ``version``: the version the caller read; a host at another one is not changed
    (Stale) — the caller decided on what it no longer is."""
    normal = normalize_mac(mac)
    if changes.profile and store.profile_get(changes.profile) is None:
        raise NotFound(f"no profile named {changes.profile!r}", hint="see 'pxehook profile list'")
    patch = changes.patch()
    current = store.host_get(normal)
    if version is not None and (current is None or current.version != version):
        now = "does not exist" if current is None else f"is at version {current.version}"
        raise Stale(f"host {normal} {now}, not version {version}", hint="read it again")
    if current is None:
        new = Host(id=None, macs=(normal,), state=changes.initial_state or State.NEW)
        host = patched(new, patch)
        for validate in VALIDATORS:
            validate(store, host)
        return store.host_put(host, source=source), True
    owned: list[str] = []
    where = declared_where(store, current)  # read once: retries stay short
    view = _ProfilesOnce(store)

    def write(host: Host) -> Host:
        after = patched(host, patch)
        for validate in VALIDATORS:
            validate(view, after)
        if after == host:
            return host
        owned[:] = owned_changes(store, host, after, where)
        if owned and refuse_owned:
            raise Conflict("; ".join(owned), hint=force_hint)
        return store.host_update(host.id or 0, patch, version=host.version, source=source)

    updated = retry_stale(store, current, write)
    for line in owned:
        if notice is not None:
            notice(line)
    return updated, False


class _ProfilesOnce:
    """The store, each profile read once (an edit retried after a stale read re-validates
    without asking the database for the same profile again)."""

    def __init__(self, store: Store) -> None:
        self._store: Any = store
        self._profiles: dict[str, Any] = {}

    def profile_get(self, name: str) -> Any:
        if name not in self._profiles:
            self._profiles[name] = self._store.profile_get(name)
        return self._profiles[name]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def delete_host(store: Store, mac: str) -> Host:
    """Delete the host owning ``mac`` (with its events). Returns what was deleted."""
    host = find_host(store, mac)
    assert host.id is not None
    store.host_delete(host.id)
    return host
