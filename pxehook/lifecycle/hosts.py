"""Host operations shared by the CLI and the API: find, create/update, delete.

Every edit path (CLI, API, clone, inventory) runs the same ``VALIDATORS`` before saving:
what a change means for booting (templates, profile variables).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pxehook import arch as archtable
from pxehook.boot.validate import validate_profile_vars
from pxehook.errors import InvalidInput, NotFound
from pxehook.mac import normalize_mac
from pxehook.models import ArchSource, Host, State
from pxehook.store import Store

#: Functions called with (store, host) before a host is saved; raise PxehookError to refuse.
VALIDATORS: tuple[Callable[[Store, Host], None], ...] = (validate_profile_vars,)


def find_host(store: Store, mac: str) -> Host:
    """The host owning ``mac`` (any accepted spelling) or NotFound."""
    normal = normalize_mac(mac)
    host = store.host_get(normal)
    if host is None:
        raise NotFound(f"no host with MAC {normal}")
    return host


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
