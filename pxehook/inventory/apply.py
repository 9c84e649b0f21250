"""Write a parsed inventory into the store.

``sync`` writes the inventory's wishes (profiles, host names, MACs, profile, vars, labels,
arch override) into the store; state is set only when a host is created (``state:`` in
YAML is its initial state). Every host is validated against the new profiles first: on
error nothing is written and the last good inventory stays in force.
"""

from __future__ import annotations

from typing import Any

from pxehook.errors import ConfigError, PxehookError
from pxehook.inventory.parse import HostSpec, Inventory
from pxehook.lifecycle.hosts import VALIDATORS
from pxehook.models import ArchSource, Host, Profile, State


class _WithProfiles:
    """A store view whose profiles are the inventory's (for validating before writing)."""

    def __init__(self, store: Any, profiles: dict[str, Profile]) -> None:
        self._store, self._profiles = store, profiles

    def profile_get(self, name: str) -> Profile | None:
        return self._profiles.get(name)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def _wanted(inv: Inventory, spec: HostSpec, current: Host | None) -> Host:
    """The host record the inventory asks for (``current``: what the store holds)."""
    merged_vars = inv.host_vars(spec.groups, spec.vars)
    labels = dict(spec.labels)
    if spec.groups:
        labels["groups"] = ",".join(spec.groups)
    if current is None:
        return Host(
            id=None,
            macs=spec.macs,
            name=spec.name,
            uuid=spec.uuid.lower(),
            arch=spec.arch,
            arch_source=ArchSource.SETTING if spec.arch is not None else "",
            profile=spec.profile,
            state=spec.state or State.NEW,
            labels=labels,
            vars=merged_vars,
        )
    wanted = current.with_(
        macs=tuple(dict.fromkeys((*spec.macs, *current.macs))),
        name=spec.name or current.name,
        uuid=(spec.uuid or current.uuid).lower(),
        profile=spec.profile or current.profile,
        labels=labels,
        vars=merged_vars,
    )
    if spec.arch is not None:
        wanted = wanted.with_(arch=spec.arch, arch_source=ArchSource.SETTING)
    return wanted


def sync(inv: Inventory, store: Any, *, source: str = "inventory") -> dict[str, int]:
    """Validate every host against the new profiles, then write profiles and hosts.

    A host whose profile cannot render for it (a missing variable…) stops the whole sync
    with an error naming file, line and host: nothing is written, the last good stays.
    Returns counts of created/updated/unchanged hosts.
    """
    view = _WithProfiles(store, inv.profiles)
    pending: list[tuple[Host, Host | None]] = []
    for spec in inv.hosts:
        current = next((h for h in map(store.host_get, spec.macs) if h is not None), None)
        wanted = _wanted(inv, spec, current)
        for validate in VALIDATORS:
            try:
                validate(view, wanted)
            except PxehookError as exc:
                raise ConfigError(
                    f"{inv.path}:{spec.line}: host {spec.macs[0]}: {exc.message}"
                ) from None
        pending.append((wanted, current))
    store.profiles_replace(inv.profiles.values())
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for wanted, current in pending:
        if current is None:
            store.host_put(wanted, source=source, message=f"created from {inv.path}")
            counts["created"] += 1
        elif wanted != current:
            store.host_put(wanted, source=source, message=f"updated from {inv.path}")
            counts["updated"] += 1
        else:
            counts["unchanged"] += 1
    return counts
