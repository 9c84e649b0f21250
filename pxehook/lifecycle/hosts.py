"""Host operations shared by the CLI and the API: find, create/update, delete.

Every edit path (CLI, API, clone, inventory) runs the same ``VALIDATORS`` before saving:
what a change means for booting (templates, profile variables) and for identity (names and
UUIDs are unique; a name never looks like a MAC, a UUID is never a firmware placeholder).
``find_host`` is the one way a command or a route turns "a MAC or a name" into a host.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pxehook import arch as archtable
from pxehook.boot.validate import validate_profile_vars
from pxehook.errors import Conflict, InvalidInput, NotFound
from pxehook.mac import normalize_mac
from pxehook.models import ArchSource, Host, State, usable_uuid
from pxehook.store import Store


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


def apply_changes(
    store: Store, mac: str, changes: HostChanges, *, source: str
) -> tuple[Host, bool]:
    """Create or update the host owning ``mac``. Returns (host, created)."""
    normal = normalize_mac(mac)
    current = store.host_get(normal)
    created = current is None
    host = current or Host(id=None, macs=(normal,), state=changes.initial_state or State.NEW)
    if (
        changes.profile is not None
        and changes.profile
        and store.profile_get(changes.profile) is None
    ):
        raise NotFound(f"no profile named {changes.profile!r}", hint="see 'pxehook profile list'")
    macs = list(host.macs)
    for extra in changes.add_macs:
        extra_normal = normalize_mac(extra)
        if extra_normal not in macs:
            macs.append(extra_normal)
    variables = {**host.vars, **changes.set_vars}
    for key in changes.unset_vars:
        variables.pop(key, None)
    labels = {**host.labels, **changes.set_labels}
    for key in changes.unset_labels:
        labels.pop(key, None)
    updated = host.with_(
        macs=tuple(macs),
        name=host.name if changes.name is None else changes.name,
        uuid=host.uuid if changes.uuid is None else changes.uuid.lower(),
        profile=host.profile if changes.profile is None else changes.profile,
        vars=variables,
        labels=labels,
    )
    if changes.arch is not None:
        updated = updated.with_(arch=changes.arch, arch_source=ArchSource.SETTING)
    elif changes.clear_arch:
        updated = updated.with_(arch=None, arch_source="")
    for validate in VALIDATORS:
        validate(store, updated)
    if not created and updated == current:
        return updated, False
    return store.host_put(updated, source=source), created


def delete_host(store: Store, mac: str) -> Host:
    """Delete the host owning ``mac`` (with its events). Returns what was deleted."""
    host = find_host(store, mac)
    assert host.id is not None
    store.host_delete(host.id)
    return host
